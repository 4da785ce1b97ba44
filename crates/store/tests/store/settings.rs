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

/// The buckets several instances share: a minute's worth passes, then each
/// take waits for its refill; a refund gives the token back.
#[tokio::test]
async fn rate_buckets_in_the_database_hold_a_minutes_worth() {
    use switchboard_store::{RateBucket, RateTaken};
    let (_dir, store) = crate::temp_store().await;
    let buckets = [
        RateBucket {
            key: "client:a".into(),
            per_minute: 3,
        },
        RateBucket {
            key: "tool:x".into(),
            per_minute: 100,
        },
    ];
    for _ in 0..3 {
        assert_eq!(store.take_rate(&buckets).await.unwrap(), RateTaken::Taken);
    }
    let RateTaken::Empty { index, wait } = store.take_rate(&buckets).await.unwrap() else {
        panic!("a fourth call within the minute passed");
    };
    assert_eq!(index, 0);
    assert!(wait > 15.0 && wait <= 20.0, "{wait}");
    // Nothing was taken from the other bucket by the refused call.
    store.refund_rate(&buckets[..1]).await.unwrap();
    assert_eq!(store.take_rate(&buckets).await.unwrap(), RateTaken::Taken);
    assert!(matches!(
        store.take_rate(&buckets).await.unwrap(),
        RateTaken::Empty { index: 0, .. }
    ));
    // A new size starts the bucket over.
    let bigger = [RateBucket {
        key: "client:a".into(),
        per_minute: 10,
    }];
    assert_eq!(store.take_rate(&bigger).await.unwrap(), RateTaken::Taken);
}
