use switchboard_api::{Api, ErrorCode};
use switchboard_gateway::{Gateway, GatewayConfig};
use switchboard_store::{ServerRecord, Store, TransportConfig};

#[tokio::test]
async fn oauth_commands_cover_remote_servers_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    store
        .add_server(&ServerRecord::new(
            "remote",
            TransportConfig::Http {
                // Nothing listens on port 9 of loopback: the server just fails.
                url: "http://127.0.0.1:9/mcp".into(),
                headers: Default::default(),
            },
        ))
        .await
        .unwrap();
    store
        .add_server(&ServerRecord::new(
            "local",
            TransportConfig::Stdio {
                command: "/nonexistent/server".into(),
                args: vec![],
                env: Default::default(),
                cwd: None,
            },
        ))
        .await
        .unwrap();
    let config = GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..GatewayConfig::default()
    };
    let gateway = Gateway::start(store.clone(), config).await.unwrap();
    let api = Api::new(store, &gateway);

    let listed = api
        .call("oauth_list", serde_json::Value::Null)
        .await
        .unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["server"], "remote");
    assert_eq!(listed[0]["state"], "none");

    let detail = api
        .call("oauth_detail", serde_json::json!({ "name": "remote" }))
        .await
        .unwrap();
    assert_eq!(detail["status"]["state"], "none");
    assert!(detail["attempts"].as_array().unwrap().is_empty());

    let local = api
        .call("oauth_detail", serde_json::json!({ "name": "local" }))
        .await
        .unwrap_err();
    assert_eq!(local.code, ErrorCode::Invalid);
    assert!(
        local.message.contains("not a remote HTTP server"),
        "{local}"
    );

    let missing = api
        .call("oauth_detail", serde_json::json!({ "name": "nope" }))
        .await
        .unwrap_err();
    assert_eq!(missing.code, ErrorCode::NotFound);

    let flow = api
        .call(
            "oauth_complete",
            serde_json::json!({ "flow_id": "nope", "callback_url": "http://127.0.0.1:1/callback?code=c&state=s" }),
        )
        .await
        .unwrap_err();
    assert_eq!(flow.code, ErrorCode::NotFound);
    gateway.shutdown().await.unwrap();
}
