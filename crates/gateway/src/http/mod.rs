//! The gateway's HTTP surface: MCP at `/mcp` and `/mcp/{server}`, the control
//! API under `/api`.

pub(crate) mod guard;
mod hosts;
pub(crate) mod tls;

pub use hosts::HostCheck;
pub use tls::{TlsError, TlsFiles};

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    Json, Router,
    extract::{Query, State},
    middleware,
    response::IntoResponse,
    routing::{any, get},
};
use serde::{Deserialize, Serialize};

use crate::{pipeline::Core, upstream::UpstreamStatus};
use guard::GuardState;

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

pub(crate) fn router(core: Arc<Core>, guard: Arc<GuardState>, mounted: Mounted) -> Router {
    let mcp_state = Arc::new(McpState {
        core: core.clone(),
        guard: guard.clone(),
    });
    let mcp_routes = Router::new()
        .route("/mcp", any(mcp))
        .route("/mcp/", any(mcp))
        .route("/mcp/{server}", any(mcp))
        .with_state(mcp_state);
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

struct McpState {
    core: Arc<Core>,
    guard: Arc<GuardState>,
}

/// `/mcp` and `/mcp/{server}`: the guard, then the pipeline.
async fn mcp(
    State(state): State<Arc<McpState>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    match guard::admit(&state.guard, request).await {
        Ok((caller, parts, body)) => {
            crate::pipeline::serve(state.core.clone(), caller, parts, body).await
        }
        Err(refused) => refused,
    }
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
    /// Requests served without a typed session since start: relayed to a
    /// server as bytes, or answered from the cached merged tool list.
    #[serde(default)]
    pub direct_requests: u64,
}

async fn status(State(core): State<Arc<Core>>) -> impl IntoResponse {
    Json(StatusReport {
        version: env!("CARGO_PKG_VERSION").into(),
        sessions: core.sessions.count(),
        session_versions: core.sessions.by_version(),
        servers: core.hub.statuses(),
        direct_requests: core.direct.load(std::sync::atomic::Ordering::Relaxed),
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
