//! Sending one downstream request to an upstream and relaying the outcome.

use std::{sync::Arc, time::Duration};

use rmcp::{
    ErrorData as McpError, RoleServer, ServiceError,
    model::{CancelledNotificationParam, ClientRequest, ServerResult},
    service::{PeerRequestOptions, RequestContext},
};

use super::Bound;
use crate::{
    dispatch::{CallLink, Dispatch},
    upstream::Upstream,
};

/// Longest a result waits for progress notifications still being relayed.
const PROGRESS_SETTLE: Duration = Duration::from_millis(100);

/// Forwards `request` to `upstream` on behalf of the session `bound`.
///
/// The request's `_meta` goes along untouched except for the progress token:
/// rmcp gives every upstream request its own, and the dispatch registry maps
/// it back to the client's. A cancel from the client becomes a cancel upstream.
pub(crate) async fn forward(
    dispatch: &Arc<Dispatch>,
    bound: &Bound,
    upstream: &Upstream,
    request: ClientRequest,
    context: &RequestContext<RoleServer>,
    settle: Duration,
) -> Result<ServerResult, McpError> {
    // A server that is restarting (after a crash, or a config change) gets a
    // moment to come back instead of failing the call at once.
    let live = upstream
        .connection_within(settle)
        .await
        .map_err(|e| McpError::internal_error(e.to_string(), None))?;
    let mut meta = context.meta.clone();
    let downstream_token = meta.get_progress_token();
    meta.0.0.remove("progressToken");
    let mut options = PeerRequestOptions::no_options();
    if !meta.0.0.is_empty() {
        options = options.with_meta(meta);
    }
    let handle = live
        .peer
        .send_request_with_option(request, options)
        .await
        .map_err(|e| relay_error(upstream.name(), e))?;
    let registered = dispatch.begin_call(
        upstream.name(),
        CallLink {
            peer: bound.peer.clone(),
            client: bound.caller.client.clone(),
            downstream_id: context.id.clone(),
            downstream_token,
            upstream_id: handle.id.clone(),
            upstream_token: handle.progress_token.clone(),
            capabilities: bound.capabilities.clone(),
            relaying: Default::default(),
        },
    );
    let (id, peer) = (handle.id.clone(), handle.peer.clone());
    tokio::select! {
        result = handle.await_response() => {
            if registered.link().downstream_token.is_some() {
                registered.link().relaying.settle(PROGRESS_SETTLE).await;
            }
            result.map_err(|e| relay_error(upstream.name(), e))
        }
        () = context.ct.cancelled() => {
            let _ = peer
                .notify_cancelled(CancelledNotificationParam::new(
                    Some(id),
                    Some("cancelled by the client".into()),
                ))
                .await;
            Err(McpError::internal_error("request cancelled by the client", None))
        }
    }
}

/// Upstream JSON-RPC errors reach the client exactly as sent; failures of the
/// connection itself become an error that names the server.
pub(crate) fn relay_error(server: &str, error: ServiceError) -> McpError {
    match error {
        ServiceError::McpError(e) => e,
        ServiceError::TransportClosed => McpError::internal_error(
            format!("server \"{server}\" closed the connection before answering"),
            None,
        ),
        other => McpError::internal_error(
            crate::upstream::explain_failure(server, &other)
                .unwrap_or_else(|| format!("server \"{server}\": {other}")),
            None,
        ),
    }
}
