use std::collections::BTreeMap;

use switchboard_store::{Error, NetworkGrant, SandboxConfig, ServerRecord, TransportConfig};

use crate::temp_store;

fn stdio(command: &str) -> TransportConfig {
    TransportConfig::Stdio {
        command: command.into(),
        args: vec!["--flag".into(), "value with spaces".into()],
        env: BTreeMap::from([("TOKEN".into(), "secret".into())]),
        cwd: Some("/tmp".into()),
    }
}

fn http(url: &str) -> TransportConfig {
    TransportConfig::Http {
        url: url.into(),
        headers: BTreeMap::from([("Authorization".into(), "Bearer x".into())]),
    }
}

#[tokio::test]
async fn add_get_list_round_trip() {
    let (_dir, store) = temp_store().await;
    assert!(store.list_servers().await.unwrap().is_empty());

    let b = ServerRecord::new("b-server", stdio("npx"));
    let a = ServerRecord::new("a_server", http("https://example.com/mcp"));
    let c = ServerRecord {
        enabled: false,
        ..ServerRecord::new(
            "C",
            TransportConfig::Sse {
                url: "http://localhost:1234/sse".into(),
                headers: BTreeMap::new(),
            },
        )
    };
    store.add_server(&b).await.unwrap();
    store.add_server(&a).await.unwrap();
    store.add_server(&c).await.unwrap();

    assert_eq!(store.get_server("b-server").await.unwrap(), Some(b.clone()));
    assert_eq!(store.get_server("missing").await.unwrap(), None);
    // SQLite's default collation sorts uppercase before lowercase.
    assert_eq!(store.list_servers().await.unwrap(), vec![c, a, b]);
}

#[tokio::test]
async fn new_record_defaults() {
    let record = ServerRecord::new("x", stdio("cmd"));
    assert!(record.enabled);
    assert!(
        record.created_at > 1_600_000_000_000,
        "not unix ms: {}",
        record.created_at
    );
    assert_eq!(record.created_at, record.updated_at);
}

#[tokio::test]
async fn duplicate_server_is_rejected() {
    let (_dir, store) = temp_store().await;
    store
        .add_server(&ServerRecord::new("dup", stdio("one")))
        .await
        .unwrap();
    let err = store
        .add_server(&ServerRecord::new("dup", stdio("two")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::ServerExists(name) if name == "dup"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "server \"dup\" already exists");
    let kept = store.get_server("dup").await.unwrap().unwrap();
    assert_eq!(kept.transport, stdio("one"));
}

#[tokio::test]
async fn invalid_server_name_is_rejected() {
    let (_dir, store) = temp_store().await;
    for name in ["a__b", "", "bad name", "-x"] {
        let err = store
            .add_server(&ServerRecord::new(name, stdio("x")))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidName(_)), "{name:?}: {err:?}");
    }
    assert!(store.list_servers().await.unwrap().is_empty());
}

#[tokio::test]
async fn update_replaces_transport_and_enabled() {
    let (_dir, store) = temp_store().await;
    let original = ServerRecord {
        created_at: 1_000,
        updated_at: 1_000,
        ..ServerRecord::new("s", stdio("old"))
    };
    store.add_server(&original).await.unwrap();

    let changed = ServerRecord {
        transport: http("https://new.example/mcp"),
        enabled: false,
        ..original.clone()
    };
    store.update_server(&changed).await.unwrap();

    let got = store.get_server("s").await.unwrap().unwrap();
    assert_eq!(got.transport, http("https://new.example/mcp"));
    assert!(!got.enabled);
    assert_eq!(got.created_at, 1_000);
    assert!(got.updated_at > 1_000);
}

#[tokio::test]
async fn update_missing_server_fails() {
    let (_dir, store) = temp_store().await;
    let err = store
        .update_server(&ServerRecord::new("ghost", stdio("x")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NoSuchServer(name) if name == "ghost"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "no server named \"ghost\"");
}

#[tokio::test]
async fn enable_and_disable() {
    let (_dir, store) = temp_store().await;
    store
        .add_server(&ServerRecord::new("s", stdio("x")))
        .await
        .unwrap();

    store.set_server_enabled("s", false).await.unwrap();
    assert!(!store.get_server("s").await.unwrap().unwrap().enabled);
    store.set_server_enabled("s", true).await.unwrap();
    assert!(store.get_server("s").await.unwrap().unwrap().enabled);

    let err = store.set_server_enabled("ghost", true).await.unwrap_err();
    assert!(matches!(err, Error::NoSuchServer(_)), "{err:?}");
}

#[tokio::test]
async fn remove_server() {
    let (_dir, store) = temp_store().await;
    store
        .add_server(&ServerRecord::new("s", stdio("x")))
        .await
        .unwrap();
    store.remove_server("s").await.unwrap();
    assert_eq!(store.get_server("s").await.unwrap(), None);

    let err = store.remove_server("s").await.unwrap_err();
    assert!(
        matches!(&err, Error::NoSuchServer(name) if name == "s"),
        "{err:?}"
    );

    // The name is free again.
    store
        .add_server(&ServerRecord::new("s", stdio("y")))
        .await
        .unwrap();
}

#[test]
fn transport_kind() {
    assert_eq!(stdio("x").kind(), "stdio");
    assert_eq!(http("http://x").kind(), "http");
    let sse = TransportConfig::Sse {
        url: "http://x".into(),
        headers: BTreeMap::new(),
    };
    assert_eq!(sse.kind(), "sse");
}

#[test]
fn transport_json_shape() {
    let minimal: TransportConfig =
        serde_json::from_str(r#"{"type":"stdio","command":"uvx"}"#).unwrap();
    assert_eq!(
        minimal,
        TransportConfig::Stdio {
            command: "uvx".into(),
            args: vec![],
            env: BTreeMap::new(),
            cwd: None,
        }
    );
    let json = serde_json::to_value(&minimal).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"type": "stdio", "command": "uvx", "args": [], "env": {}})
    );

    let sse: TransportConfig =
        serde_json::from_str(r#"{"type":"sse","url":"http://h/sse"}"#).unwrap();
    assert_eq!(sse.kind(), "sse");
    assert!(serde_json::from_str::<TransportConfig>(r#"{"type":"ftp","url":"x"}"#).is_err());
}

#[tokio::test]
async fn default_sandbox_keeps_the_command_hash() {
    let record = ServerRecord::new("s", stdio("node")).approve_launch();
    assert_eq!(record.sandbox, SandboxConfig::default());
    assert_eq!(record.launch_hash(), record.transport.launch_hash());
    assert!(record.launch_approved());
}

#[tokio::test]
async fn narrowing_the_sandbox_keeps_the_approval_widening_needs_it_again() {
    let (_dir, store) = temp_store().await;
    store
        .add_server(&ServerRecord::new("s", stdio("node")).approve_launch())
        .await
        .unwrap();

    let narrower = SandboxConfig {
        network: NetworkGrant::Off,
        ..SandboxConfig::default()
    };
    let got = store
        .set_server_sandbox("s", narrower.clone())
        .await
        .unwrap();
    assert_eq!(got.sandbox, narrower);
    assert!(
        got.launch_approved(),
        "network off is narrower: still approved"
    );
    let stored = store.get_server("s").await.unwrap().unwrap();
    assert_eq!(stored.sandbox, narrower);
    assert!(stored.launch_approved());

    for wider in [
        SandboxConfig {
            allow_read: vec!["/srv/data".into()],
            ..narrower.clone()
        },
        SandboxConfig {
            network: NetworkGrant::On,
            ..narrower.clone()
        },
        SandboxConfig {
            enabled: false,
            ..narrower.clone()
        },
    ] {
        store
            .set_server_sandbox("s", narrower.clone())
            .await
            .unwrap();
        store.approve_server_launch("s").await.unwrap();
        let got = store.set_server_sandbox("s", wider.clone()).await.unwrap();
        assert!(!got.launch_approved(), "{wider:?} widens: approval needed");
        store.approve_server_launch("s").await.unwrap();
        assert!(
            store
                .get_server("s")
                .await
                .unwrap()
                .unwrap()
                .launch_approved()
        );
    }
}

#[tokio::test]
async fn remote_servers_have_no_sandbox() {
    let (_dir, store) = temp_store().await;
    store
        .add_server(&ServerRecord::new("r", http("https://x.example/mcp")))
        .await
        .unwrap();
    let err = store
        .set_server_sandbox("r", SandboxConfig::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidValue(_)), "{err:?}");
    let err = store
        .set_server_sandbox("missing", SandboxConfig::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoSuchServer(_)), "{err:?}");
}
