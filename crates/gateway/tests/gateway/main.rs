//! Gateway behaviour across several upstreams and sessions: merged lists with
//! cursors that span servers, name routing, and resource updates that reach
//! only the sessions that subscribed. Upstreams are small rmcp servers served
//! over streamable HTTP in this process; clients are rmcp clients.
#![expect(deprecated, reason = "resources/subscribe is part of 2025-11-25")]
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed setup step should fail the test"
)]

mod upstream;

use std::time::Duration;

use rmcp::{
    ClientHandler, RoleClient, ServiceExt as _,
    model::{
        CallToolRequestParams, ClientConfig, PaginatedRequestParams, ProtocolVersion,
        ResourceUpdatedNotificationParam, SubscribeRequestParams,
    },
    service::{NotificationContext, RunningService},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use switchboard_gateway::{Gateway, GatewayConfig};
use switchboard_store::{ServerRecord, Store, TransportConfig};
use tokio::sync::mpsc;

struct Harness {
    gateway: Gateway,
    token: String,
    _dir: tempfile::TempDir,
}

async fn harness(upstreams: &[(&str, String)], page_size: usize) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    for (name, url) in upstreams {
        let transport = TransportConfig::Http {
            url: url.clone(),
            headers: Default::default(),
        };
        store
            .add_server(&ServerRecord::new(*name, transport))
            .await
            .unwrap();
    }
    let token = switchboard_auth::new_client_token().expose().clone();
    store
        .add_client("test", &switchboard_auth::hash_token(&token))
        .await
        .unwrap();
    let config = GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        page_size,
        ..Default::default()
    };
    let gateway = Gateway::start(store, config).await.unwrap();
    gateway.hub().settled(Duration::from_secs(10)).await;
    Harness {
        gateway,
        token,
        _dir: dir,
    }
}

/// A client that reports resource updates.
#[derive(Clone)]
struct Recorder(mpsc::UnboundedSender<String>);

impl ClientHandler for Recorder {
    fn get_info(&self) -> ClientConfig {
        let mut config = ClientConfig::default();
        config.protocol_version = ProtocolVersion::V_2025_11_25;
        config
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.0.send(params.uri);
    }
}

async fn connect(
    h: &Harness,
    path: &str,
) -> (
    RunningService<RoleClient, Recorder>,
    mpsc::UnboundedReceiver<String>,
) {
    let url = format!("http://{}{path}", h.gateway.info().listen);
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(h.token.clone());
    let transport = StreamableHttpClientTransport::from_config(config);
    let (tx, rx) = mpsc::unbounded_channel();
    (Recorder(tx).serve(transport).await.unwrap(), rx)
}

#[tokio::test]
async fn merged_lists_page_across_servers_and_route_by_name() {
    let a = upstream::serve("alpha").await;
    let b = upstream::serve("beta").await;
    // A page ends after one item: every page boundary of both servers shows.
    let h = harness(&[("a", a.url.clone()), ("b", b.url.clone())], 1).await;
    let (client, _) = connect(&h, "/mcp").await;

    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, ["a__touch", "a__whoami", "b__touch", "b__whoami"]);

    // Each upstream pages its prompts one at a time; the gateway's cursor
    // walks through both servers' pages in order.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = client
            .list_prompts(Some(PaginatedRequestParams::default().with_cursor(cursor)))
            .await
            .unwrap();
        seen.extend(page.prompts.into_iter().map(|p| p.name));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["a__first", "a__second", "b__first", "b__second"]);

    // With the default page size, one request gets every server's prompts.
    let h2 = harness(&[("a", a.url.clone()), ("b", b.url.clone())], 1000).await;
    let (client2, _) = connect(&h2, "/mcp").await;
    let page = client2.list_prompts(None).await.unwrap();
    assert_eq!(page.prompts.len(), 4);
    assert!(page.next_cursor.is_none());
    client2.cancel().await.unwrap();
    h2.gateway.shutdown().await.unwrap();

    let result = client
        .call_tool(CallToolRequestParams::new("b__whoami"))
        .await
        .unwrap();
    let text = format!("{:?}", result.content);
    assert!(text.contains("beta"), "{text}");

    let unknown = client
        .call_tool(CallToolRequestParams::new("c__whoami"))
        .await;
    assert!(
        format!("{unknown:?}").contains("no enabled server named \\\"c\\\""),
        "{unknown:?}"
    );

    client.cancel().await.unwrap();
    h.gateway.shutdown().await.unwrap();
}

#[tokio::test]
async fn resource_updates_reach_only_subscribers() {
    let a = upstream::serve("alpha").await;
    let h = harness(&[("a", a.url.clone())], 1000).await;
    let (subscriber, mut updates) = connect(&h, "/mcp").await;
    let (bystander, mut other_updates) = connect(&h, "/mcp").await;
    let (direct, mut direct_updates) = connect(&h, "/mcp/a").await;

    subscriber
        .subscribe(SubscribeRequestParams::new("a+mem://watched"))
        .await
        .unwrap();
    direct
        .subscribe(SubscribeRequestParams::new("mem://watched"))
        .await
        .unwrap();
    bystander
        .call_tool(CallToolRequestParams::new("a__touch"))
        .await
        .unwrap();

    let got = tokio::time::timeout(Duration::from_secs(5), updates.recv())
        .await
        .unwrap();
    assert_eq!(got.as_deref(), Some("a+mem://watched"));
    let got = tokio::time::timeout(Duration::from_secs(5), direct_updates.recv())
        .await
        .unwrap();
    assert_eq!(got.as_deref(), Some("mem://watched"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        other_updates.try_recv().is_err(),
        "a session that did not subscribe got an update"
    );

    for c in [subscriber, bystander, direct] {
        c.cancel().await.unwrap();
    }
    h.gateway.shutdown().await.unwrap();
}
