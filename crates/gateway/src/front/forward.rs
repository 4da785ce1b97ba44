//! Sending one downstream request to an upstream and relaying the outcome.

use std::{sync::Arc, time::Duration};

use rmcp::{
    ErrorData as McpError, RoleServer, ServiceError,
    model::{CancelledNotificationParam, ClientRequest, GetExtensions, ServerResult},
    service::{PeerRequestOptions, RequestContext},
};

use super::Bound;
use crate::{
    bridge::{Bridge, CallEvent},
    dispatch::{CallLink, Dispatch},
    upstream::{ServesCall, Upstream},
};

/// `_meta` keys that describe the client's own lifecycle (2026-07-28). The
/// gateway speaks to the server with its own, so these never go upstream.
const LIFECYCLE_KEYS: &[&str] = &[
    "io.modelcontextprotocol/protocolVersion",
    "io.modelcontextprotocol/clientInfo",
    "io.modelcontextprotocol/clientCapabilities",
];

/// Longest a result waits for progress notifications still being relayed.
pub(crate) const PROGRESS_SETTLE: Duration = Duration::from_millis(100);

/// Forwards `request` to `upstream` on behalf of the session `bound`.
///
/// The request's `_meta` goes along untouched except for the progress token:
/// rmcp gives every upstream request its own, and the dispatch registry maps
/// it back to the client's. A cancel from the client becomes a cancel upstream.
pub(crate) async fn forward(
    dispatch: &Arc<Dispatch>,
    bridge: &Arc<Bridge>,
    bound: &Bound,
    upstream: &Upstream,
    mut request: ClientRequest,
    context: &RequestContext<RoleServer>,
    settle: Duration,
) -> Result<ServerResult, McpError> {
    if bound.stateless {
        // What the client subscribed to just before is in place first.
        dispatch
            .openings
            .settled(&bound.caller.client, crate::opening::OPENING_LIMIT)
            .await;
    }
    // A server that is restarting (after a crash, or a config change) gets a
    // moment to come back instead of failing the call at once.
    let live = upstream
        .connection_within(settle)
        .await
        .map_err(|e| McpError::internal_error(e.to_string(), None))?;
    let mut meta = context.meta.clone();
    let downstream_token = meta.get_progress_token();
    meta.0.0.remove("progressToken");
    for key in LIFECYCLE_KEYS {
        meta.0.0.remove(*key);
    }
    if live.stateless() {
        // A 2026-07-28 server decides per request what it may ask for: it
        // sees what this client declared (the gateway relays all of it).
        meta.set_client_capabilities(bound.capabilities.clone());
        // Such a server logs only for requests that ask; a session client
        // hears logs as its version promises (all, or from its chosen level).
        if !bound.stateless && meta.log_level().is_none() {
            #[expect(deprecated, reason = "logging is part of 2025-11-25")]
            let level = dispatch
                .log_level(bound.key)
                .unwrap_or(rmcp::model::LoggingLevel::Debug);
            meta.set_log_level(level);
        }
    }
    // A stateless client cannot take a session server's requests for input:
    // they are turned into an InputRequiredResult for the calls that allow
    // one. (A 2026-07-28 server asks that way itself.)
    let bridged = bound.stateless
        && !live.stateless()
        && matches!(
            request,
            ClientRequest::CallToolRequest(_)
                | ClientRequest::GetPromptRequest(_)
                | ClientRequest::ReadResourceRequest(_)
        );
    let mut options = PeerRequestOptions::no_options();
    if !meta.0.0.is_empty() {
        options = options.with_meta(meta);
    }
    let (inputs, events) = if bridged {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    // Registered before it is sent: the upstream may ask or notify about the
    // call before this task runs again.
    let registered = dispatch.begin_call(
        upstream.name(),
        CallLink {
            peer: bound.peer.clone(),
            client: bound.caller.client.clone(),
            downstream_id: context.id.clone(),
            downstream_token,
            upstream: Default::default(),
            capabilities: bound.capabilities.clone(),
            relaying: Default::default(),
            inputs: inputs.clone(),
        },
    );
    request
        .extensions_mut()
        .insert(ServesCall(registered.link().clone()));
    let handle = live
        .peer
        .send_request_with_option(request, options)
        .await
        .map_err(|e| relay_error(upstream.name(), e))?;
    // The transport bound it as it went out; this covers one that did not.
    registered
        .link()
        .bind(handle.id.clone(), handle.progress_token.clone());
    let (id, peer) = (handle.id.clone(), handle.peer.clone());
    if let (Some(events), Some(done)) = (events, inputs) {
        // The call may outlive this request (parked while the client answers),
        // so it is awaited in its own task.
        let server = upstream.name().to_owned();
        tokio::spawn(async move {
            let registered = registered;
            let result = handle.await_response().await;
            if registered.link().downstream_token.is_some() {
                registered.link().relaying.settle(PROGRESS_SETTLE).await;
            }
            let _ = done
                .send(CallEvent::Done(result.map_err(|e| relay_error(&server, e))))
                .await;
        });
        return match bridge
            .next(&bound.caller.client, events, &context.ct)
            .await?
        {
            Some(result) => Ok(result),
            None => {
                let _ = peer
                    .notify_cancelled(CancelledNotificationParam::new(
                        Some(id),
                        Some("cancelled by the client".into()),
                    ))
                    .await;
                Err(McpError::internal_error(
                    "request cancelled by the client",
                    None,
                ))
            }
        };
    }
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

/// Resumes a call parked for a stateless client's answers (see [`crate::bridge`]).
pub(crate) async fn resume(
    bridge: &Arc<Bridge>,
    bound: &Bound,
    state: &str,
    responses: Option<rmcp::model::InputResponses>,
    context: &RequestContext<RoleServer>,
) -> Result<ServerResult, McpError> {
    let events = bridge.resume(&bound.caller.client, state, responses)?;
    bridge
        .next(&bound.caller.client, events, &context.ct)
        .await?
        .ok_or_else(|| McpError::internal_error("request cancelled by the client", None))
}
