use serde::{Deserialize, Serialize};
use switchboard_store::Error;

use crate::temp_store;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Listen {
    host: String,
    port: u16,
}

#[tokio::test]
async fn get_set_overwrite() {
    let (_dir, store) = temp_store().await;
    assert_eq!(store.get_setting::<u16>("port").await.unwrap(), None);

    store.set_setting("port", &8080u16).await.unwrap();
    assert_eq!(store.get_setting::<u16>("port").await.unwrap(), Some(8080));

    store.set_setting("port", &9090u16).await.unwrap();
    assert_eq!(store.get_setting::<u16>("port").await.unwrap(), Some(9090));

    let listen = Listen {
        host: "127.0.0.1".into(),
        port: 7000,
    };
    store.set_setting("listen", &listen).await.unwrap();
    assert_eq!(store.get_setting("listen").await.unwrap(), Some(listen));

    store
        .set_setting("name", &"a \"quoted\" string")
        .await
        .unwrap();
    assert_eq!(
        store
            .get_setting::<String>("name")
            .await
            .unwrap()
            .as_deref(),
        Some("a \"quoted\" string")
    );
}

#[tokio::test]
async fn wrong_type_is_a_json_error() {
    let (_dir, store) = temp_store().await;
    store.set_setting("port", &"not a number").await.unwrap();
    let err = store.get_setting::<u16>("port").await.unwrap_err();
    assert!(matches!(err, Error::Json(_)), "{err:?}");
}
