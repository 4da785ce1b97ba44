//! A small MCP server on rmcp: two tools, paged prompts, one subscribable resource.

use std::sync::{Arc, Mutex};

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::*,
    service::{Peer, RequestContext},
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};

pub struct Running {
    pub url: String,
}

#[derive(Clone)]
struct Server {
    label: &'static str,
    subscribers: Arc<Mutex<Vec<Peer<RoleServer>>>>,
}

pub async fn serve(label: &'static str) -> Running {
    let subscribers = Arc::new(Mutex::new(Vec::new()));
    let service = StreamableHttpService::new(
        move || {
            Ok(Server {
                label,
                subscribers: subscribers.clone(),
            })
        },
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new().route_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Running {
        url: format!("http://{addr}/mcp"),
    }
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .enable_resources_subscribe()
                .build(),
        );
        info.protocol_version = ProtocolVersion::V_2025_11_25;
        info
    }

    fn supported_protocol_versions(&self) -> std::borrow::Cow<'static, [ProtocolVersion]> {
        std::borrow::Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2025_11_25))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let schema = Arc::new(serde_json::Map::from_iter([(
            "type".into(),
            "object".into(),
        )]));
        Ok(ListToolsResult::with_all_items(vec![
            Tool::new(
                "touch",
                "Marks the watched resource as changed",
                schema.clone(),
            ),
            Tool::new("whoami", "Says which server this is", schema),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        match request.name.as_ref() {
            "whoami" => Ok(CallToolResult::success(vec![ContentBlock::text(self.label)]).into()),
            "touch" => {
                let peers = self.subscribers.lock().unwrap().clone();
                for peer in peers {
                    let _ = peer
                        .notify_resource_updated(ResourceUpdatedNotificationParam::new(
                            "mem://watched",
                        ))
                        .await;
                }
                Ok(CallToolResult::success(vec![ContentBlock::text("touched")]).into())
            }
            other => Err(McpError::invalid_params(
                format!("unknown tool {other}"),
                None,
            )),
        }
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        // One prompt per page, to exercise cursors on both sides.
        let second = request.and_then(|r| r.cursor).as_deref() == Some("2");
        let name = if second { "second" } else { "first" };
        let mut result =
            ListPromptsResult::with_all_items(vec![Prompt::new(name, Some("a prompt"), None)]);
        result.next_cursor = (!second).then(|| "2".to_owned());
        Ok(result)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![Resource::new(
            "mem://watched",
            "watched",
        )]))
    }

    async fn subscribe(
        &self,
        _request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.subscribers.lock().unwrap().push(context.peer);
        Ok(())
    }
}
