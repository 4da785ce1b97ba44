use switchboard_store::Error;

use crate::temp_store;

#[tokio::test]
async fn add_list_lookup_remove() {
    let (_dir, store) = temp_store().await;
    assert!(store.list_clients().await.unwrap().is_empty());

    let zed = store.add_client("zed", "hash-zed").await.unwrap();
    let claude = store
        .add_client("claude__desktop", "hash-claude")
        .await
        .unwrap();
    assert_eq!(zed.name, "zed");
    assert_eq!(zed.last_seen_at, None);
    assert_ne!(zed.id, claude.id);

    assert_eq!(
        store.list_clients().await.unwrap(),
        vec![claude.clone(), zed.clone()]
    );
    assert_eq!(
        store.client_by_token_hash("hash-zed").await.unwrap(),
        Some(zed.clone())
    );
    assert_eq!(store.client_by_token_hash("nope").await.unwrap(), None);

    store.remove_client("zed").await.unwrap();
    assert_eq!(store.client_by_token_hash("hash-zed").await.unwrap(), None);
    assert_eq!(store.list_clients().await.unwrap(), vec![claude]);

    let err = store.remove_client("zed").await.unwrap_err();
    assert!(
        matches!(&err, Error::NoSuchClient(name) if name == "zed"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "no client named \"zed\"");
}

#[tokio::test]
async fn duplicate_client_name_is_rejected() {
    let (_dir, store) = temp_store().await;
    store.add_client("cursor", "h1").await.unwrap();
    let err = store.add_client("cursor", "h2").await.unwrap_err();
    assert!(
        matches!(&err, Error::ClientExists(name) if name == "cursor"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "client \"cursor\" already exists");
}

#[tokio::test]
async fn duplicate_token_hash_is_not_reported_as_name_clash() {
    let (_dir, store) = temp_store().await;
    store.add_client("one", "same").await.unwrap();
    let err = store.add_client("two", "same").await.unwrap_err();
    assert!(matches!(err, Error::Database(_)), "{err:?}");
}

#[tokio::test]
async fn invalid_client_name_is_rejected() {
    let (_dir, store) = temp_store().await;
    let err = store.add_client("bad name", "h").await.unwrap_err();
    assert!(matches!(err, Error::InvalidName(_)), "{err:?}");
}

#[tokio::test]
async fn touch_records_last_seen() {
    let (_dir, store) = temp_store().await;
    let client = store.add_client("c", "h").await.unwrap();
    store.touch_client(client.id).await.unwrap();
    let seen = store
        .client_by_token_hash("h")
        .await
        .unwrap()
        .unwrap()
        .last_seen_at
        .unwrap();
    assert!(seen >= client.created_at);

    // A client removed while the gateway still holds its id is not an error.
    store.remove_client("c").await.unwrap();
    store.touch_client(client.id).await.unwrap();
}

#[tokio::test]
async fn ids_are_not_reused() {
    let (_dir, store) = temp_store().await;
    let first = store.add_client("a", "h1").await.unwrap();
    store.remove_client("a").await.unwrap();
    let second = store.add_client("a", "h2").await.unwrap();
    assert!(second.id > first.id);
}

/// A removed client's grants go with it: a new client of the same name starts clean.
#[tokio::test]
async fn removing_a_client_removes_what_it_was_granted() {
    use switchboard_store::{NewApproval, Permission, PermissionEntry, Scope};
    let (_dir, store) = temp_store().await;
    store.add_client("bob", "hash-bob-1").await.unwrap();
    store.add_client("carol", "hash-carol").await.unwrap();
    for client in ["bob", "carol"] {
        store
            .set_permission(&PermissionEntry {
                scope: Scope::Client(client.into()),
                server: "*".into(),
                tool: "*".into(),
                permission: Permission::Allow,
            })
            .await
            .unwrap();
    }
    let waiting = |client| NewApproval {
        client,
        session: None,
        server: "s",
        tool: "t",
        arguments: None,
        call_hash: "h",
        reason: "ask",
    };
    let bobs = store.add_approval(&waiting("bob")).await.unwrap();
    let carols = store.add_approval(&waiting("carol")).await.unwrap();

    store.remove_client("bob").await.unwrap();
    store.add_client("bob", "hash-bob-2").await.unwrap();

    let scopes: Vec<Scope> = store
        .list_permissions()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.scope)
        .collect();
    assert_eq!(scopes, vec![Scope::Client("carol".into())]);
    let status = |id| {
        let store = store.clone();
        async move { store.get_approval(id).await.unwrap().unwrap().status }
    };
    assert_eq!(status(bobs).await, "expired");
    assert_eq!(status(carols).await, "pending");
}
