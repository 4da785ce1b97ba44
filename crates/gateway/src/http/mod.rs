//! The gateway's HTTP surface: MCP at `/mcp` and `/mcp/{server}`, the control
//! API under `/api`.

pub(crate) mod guard;

pub use guard::check_origin as check_host_origin;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::{Query, State},
    middleware,
    response::IntoResponse,
    routing::get,
};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService,
    session::local::{LocalSessionManager, SessionConfig},
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::{
    front::{Core, Front},
    upstream::UpstreamStatus,
};
use guard::GuardState;

/// Limits of the MCP endpoint.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// A client session idle this long is closed.
    pub session_idle: Duration,
}

/// Routes a host adds once the gateway runs (the control API, the web UI):
/// every request no gateway route matches goes to them.
#[derive(Clone, Default)]
pub struct Mounted(Arc<std::sync::RwLock<Option<Router>>>);

impl Mounted {
    pub(crate) fn set(&self, routes: Router) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(routes);
    }

    async fn serve(self, request: axum::extract::Request) -> axum::response::Response {
        use tower::ServiceExt as _;
        let routes = self.0.read().unwrap_or_else(|e| e.into_inner()).clone();
        match routes {
            Some(routes) => match routes.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            },
            None => axum::http::StatusCode::NOT_FOUND.into_response(),
        }
    }
}

pub(crate) fn router(
    core: Arc<Core>,
    guard: Arc<GuardState>,
    limits: &HttpLimits,
    shutdown: CancellationToken,
    mounted: Mounted,
) -> Router {
    let mut sessions = SessionConfig::default();
    sessions.keep_alive = Some(limits.session_idle);
    let mut manager = LocalSessionManager::default();
    manager.session_config = sessions;
    let manager = Arc::new(manager);
    let config = StreamableHttpServerConfig::default()
        .with_cancellation_token(shutdown)
        .with_max_request_body_bytes(limits.max_body_bytes)
        .with_allowed_hosts(["localhost", "127.0.0.1", "::1"])
        .with_allowed_origins(["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"]);
    let factory_core = core.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(Front::new(factory_core.clone())),
        manager,
        config,
    );
    let mcp_routes = Router::new()
        .route_service("/mcp", mcp.clone())
        .route_service("/mcp/", mcp.clone())
        .route_service("/mcp/{server}", mcp)
        .layer(middleware::from_fn_with_state(
            guard.clone(),
            guard::mcp_guard,
        ));
    let control = Router::new()
        .route("/api/status", get(status))
        .route("/api/tools", get(tools))
        .route("/api/audit/stream", get(audit_stream))
        .route("/api/flags", get(flags))
        .layer(middleware::from_fn_with_state(
            guard.clone(),
            guard::control_guard,
        ))
        .with_state(core);
    mcp_routes
        .merge(control)
        .fallback(move |request: axum::extract::Request| mounted.clone().serve(request))
}

/// `GET /api/status`.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatusReport {
    /// Gateway version.
    pub version: String,
    /// Live client sessions (2026-07-28 clients count per open request or
    /// listen stream).
    pub sessions: usize,
    /// Live client sessions by protocol version.
    #[serde(default)]
    pub session_versions: BTreeMap<String, usize>,
    /// Status of every enabled server.
    pub servers: BTreeMap<String, UpstreamStatus>,
    /// Requests served on the direct path since start (`tools/call` on
    /// `/mcp/{server}`, cached `tools/list` on `/mcp`).
    #[serde(default)]
    pub direct_requests: u64,
}

async fn status(State(core): State<Arc<Core>>) -> impl IntoResponse {
    Json(StatusReport {
        version: env!("CARGO_PKG_VERSION").into(),
        sessions: core.dispatch.session_count(),
        session_versions: core.dispatch.session_versions(),
        servers: core.hub.statuses(),
        direct_requests: core.direct.served(),
    })
}

/// `GET /api/audit/stream`: committed audit records as server-sent events,
/// one event per batch (a JSON array). A subscriber that falls behind gets a
/// `lagged` event with the number of batches it missed and carries on.
async fn audit_stream(State(core): State<Arc<Core>>) -> impl IntoResponse {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let receiver = core.audit.subscribe();
    let events = futures::stream::unfold(receiver, |mut rx| async move {
        use tokio::sync::broadcast::error::RecvError;
        let event = match rx.recv().await {
            Ok(batch) => Event::default()
                .json_data(batch.as_ref())
                .unwrap_or_default(),
            Err(RecvError::Lagged(missed)) => {
                Event::default().event("lagged").data(missed.to_string())
            }
            Err(RecvError::Closed) => return None,
        };
        Some((Ok::<_, std::convert::Infallible>(event), rx))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// `GET /api/flags`: suspicious-definition flags of every cached tool.
async fn flags(State(core): State<Arc<Core>>) -> impl IntoResponse {
    let catalog: BTreeMap<String, Vec<rmcp::model::Tool>> = core
        .hub
        .all()
        .into_iter()
        .map(|up| (up.name().to_owned(), up.tools().as_ref().clone()))
        .collect();
    Json(crate::policy::flag_tools(&catalog))
}

#[derive(Debug, Deserialize)]
struct ToolsQuery {
    server: Option<String>,
}

async fn tools(State(core): State<Arc<Core>>, Query(q): Query<ToolsQuery>) -> impl IntoResponse {
    let mut out: BTreeMap<String, Vec<rmcp::model::Tool>> = BTreeMap::new();
    for up in core.hub.all() {
        if q.server.as_deref().is_none_or(|s| s == up.name()) {
            out.insert(up.name().to_owned(), up.tools().as_ref().clone());
        }
    }
    Json(out)
}
