use std::sync::Arc;

use switchboard_api::{Api, http::WebAccess};
use switchboard_gateway::{Gateway, GatewayConfig};
use switchboard_store::Store;

struct Running {
    _dir: tempfile::TempDir,
    gateway: Gateway,
    access: Arc<WebAccess>,
    base: String,
}

async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let config = GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..GatewayConfig::default()
    };
    let gateway = Gateway::start(store.clone(), config).await.unwrap();
    let access = Arc::new(WebAccess::new(
        gateway.info().control_token.clone(),
        gateway.info().listen.port(),
    ));
    gateway.mount(switchboard_api::http::router(
        Api::new(store, &gateway),
        access.clone(),
        None,
    ));
    let base = format!("http://{}", gateway.info().listen);
    Running {
        _dir: dir,
        gateway,
        access,
        base,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

async fn rpc(
    r: &Running,
    cookie: Option<&str>,
    method: &str,
    params: serde_json::Value,
) -> reqwest::Response {
    let mut req = client()
        .post(format!("{}/api/rpc", r.base))
        .header("x-switchboard", "1")
        .json(&serde_json::json!({ "method": method, "params": params }));
    if let Some(c) = cookie {
        req = req.header("cookie", c).header("origin", &r.base);
    }
    req.send().await.unwrap()
}

async fn login(r: &Running, code: &str) -> reqwest::Response {
    client()
        .post(format!("{}/api/login", r.base))
        .header("origin", &r.base)
        .json(&serde_json::json!({ "code": code }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn login_code_works_once_and_sets_a_session_cookie() {
    let r = start().await;
    let code = r.access.login_code();
    let first = login(&r, &code).await;
    assert_eq!(first.status(), 204);
    let cookie = first
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(login(&r, &code).await.status(), 401, "a code works once");

    let ok = rpc(&r, Some(&pair), "servers_list", serde_json::Value::Null).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!([])
    );

    // Without a session, and from another origin, nothing works.
    let none = rpc(&r, None, "servers_list", serde_json::Value::Null).await;
    assert_eq!(none.status(), 401);
    let cross = client()
        .post(format!("{}/api/rpc", r.base))
        .header("x-switchboard", "1")
        .header("cookie", &pair)
        .header("origin", "http://localhost:1")
        .json(&serde_json::json!({ "method": "servers_list" }))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let rebinding = client()
        .post(format!("{}/api/rpc", r.base))
        .header("host", "evil.test")
        .header(
            "authorization",
            format!("Bearer {}", r.gateway.info().control_token),
        )
        .json(&serde_json::json!({ "method": "servers_list" }))
        .send()
        .await
        .unwrap();
    assert_eq!(rebinding.status(), 403);
    r.gateway.shutdown().await.unwrap();
}

#[tokio::test]
async fn commands_and_errors_over_http() {
    let r = start().await;
    let bearer = format!("Bearer {}", r.gateway.info().control_token);
    let call = |method: &'static str, params: serde_json::Value| {
        client()
            .post(format!("{}/api/rpc", r.base))
            .header("authorization", bearer.clone())
            .json(&serde_json::json!({ "method": method, "params": params }))
            .send()
    };
    let added = call(
        "server_add",
        serde_json::json!({ "name": "web", "transport": { "kind": "http", "url": "http://127.0.0.1:9/mcp", "headers": [] } }),
    )
    .await
    .unwrap();
    assert_eq!(added.status(), 200, "{:?}", added.text().await);
    let again = call(
        "server_add",
        serde_json::json!({ "name": "web", "transport": { "kind": "http", "url": "http://127.0.0.1:9/mcp", "headers": [] } }),
    )
    .await
    .unwrap();
    assert_eq!(again.status(), 409);
    let body: serde_json::Value = again.json().await.unwrap();
    assert_eq!(body["code"], "conflict");
    assert!(body["message"].as_str().unwrap().contains("web"));

    let unknown = call("no_such", serde_json::Value::Null).await.unwrap();
    assert_eq!(unknown.status(), 404);
    let bad = call("server_remove", serde_json::json!({ "nom": 1 }))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<serde_json::Value>().await.unwrap()["code"],
        "invalid"
    );

    let new_client = call("client_add", serde_json::json!({ "name": "cli" }))
        .await
        .unwrap();
    let new_client: serde_json::Value = new_client.json().await.unwrap();
    assert!(new_client["token"].as_str().unwrap().len() > 20);
    let list: serde_json::Value = call("clients_list", serde_json::Value::Null)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["name"], "cli");
    assert!(list[0].get("token").is_none(), "tokens are shown once");

    let settings: serde_json::Value = call("settings_get", serde_json::Value::Null)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut update =
        serde_json::json!({ "audit": settings["audit"], "defaults": settings["defaults"] });
    update["defaults"]["unannotated"] = "ask".into();
    let saved: serde_json::Value = call("settings_set", update)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(saved["defaults"]["unannotated"], "ask");
    r.gateway.shutdown().await.unwrap();
}

#[tokio::test]
async fn events_start_with_the_current_servers() {
    use futures::StreamExt as _;
    let r = start().await;
    let response = client()
        .get(format!("{}/api/events", r.base))
        .header(
            "authorization",
            format!("Bearer {}", r.gateway.info().control_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut text = String::new();
    while !text.contains("\"type\":\"approvals\"") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("\"type\":\"servers\""), "{text}");
    drop(body);
    r.gateway.shutdown().await.unwrap();
}
