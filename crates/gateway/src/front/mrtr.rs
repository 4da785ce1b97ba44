//! A 2026-07-28 server's `InputRequiredResult` for a client with a session
//! (2025-11-25 or older): the gateway asks the client each input request the
//! classic way (`elicitation/create`, `sampling/createMessage`, `roots/list`,
//! on the call's own response stream) and retries the call with the answers.

use rmcp::{
    ErrorData as McpError, RoleServer,
    model::{
        ClientRequest, ClientResult, InputRequest, InputRequests, InputRequiredResult,
        InputResponses, ServerRequest, ServerResult,
    },
    service::RequestContext,
};
use switchboard_audit::{AuditRecord, Direction};

use super::{Bound, Front, forward};
use crate::upstream::Upstream;

/// Rounds of input one call may ask for before the gateway gives up.
const MAX_ROUNDS: usize = 10;

/// A copy of `request` to retry with answers, for the methods that may be
/// answered with an `InputRequiredResult`.
pub(super) fn retryable(request: &ClientRequest) -> Option<ClientRequest> {
    match request {
        ClientRequest::CallToolRequest(_)
        | ClientRequest::GetPromptRequest(_)
        | ClientRequest::ReadResourceRequest(_) => Some(request.clone()),
        _ => None,
    }
}

fn set_retry(request: &mut ClientRequest, responses: InputResponses, state: Option<String>) {
    match request {
        ClientRequest::CallToolRequest(r) => {
            r.params.input_responses = Some(responses);
            r.params.request_state = state;
        }
        ClientRequest::GetPromptRequest(r) => {
            r.params.input_responses = Some(responses);
            r.params.request_state = state;
        }
        ClientRequest::ReadResourceRequest(r) => {
            r.params.input_responses = Some(responses);
            r.params.request_state = state;
        }
        _ => {}
    }
}

/// Answers `asked` through the client and retries until the server is done.
pub(super) async fn drive(
    front: &Front,
    bound: &Bound,
    upstream: &Upstream,
    mut request: ClientRequest,
    mut asked: InputRequiredResult,
    context: &RequestContext<RoleServer>,
) -> Result<ServerResult, McpError> {
    for _ in 0..MAX_ROUNDS {
        let requests = asked.input_requests.take().unwrap_or_default();
        let responses = ask_client(front, bound, upstream.name(), requests, context).await?;
        set_retry(&mut request, responses, asked.request_state.take());
        let result = forward::forward(
            &front.core.dispatch,
            &front.core.bridge,
            bound,
            upstream,
            request.clone(),
            context,
            front.core.settle,
        )
        .await?;
        match result {
            ServerResult::InputRequiredResult(next) => asked = next,
            other => return Ok(other),
        }
    }
    Err(McpError::internal_error(
        format!(
            "server \"{}\" asked for input more than {MAX_ROUNDS} times",
            upstream.name()
        ),
        None,
    ))
}

async fn ask_client(
    front: &Front,
    bound: &Bound,
    server: &str,
    requests: InputRequests,
    context: &RequestContext<RoleServer>,
) -> Result<InputResponses, McpError> {
    let mut responses = InputResponses::new();
    for (key, input) in requests {
        let (method, request, supported) = match input {
            InputRequest::Elicitation(r) => (
                "elicitation/create",
                ServerRequest::ElicitRequest(r),
                bound.capabilities.elicitation.is_some(),
            ),
            InputRequest::CreateMessage(r) => (
                "sampling/createMessage",
                ServerRequest::CreateMessageRequest(r),
                bound.capabilities.sampling.is_some(),
            ),
            InputRequest::ListRoots(r) => (
                "roots/list",
                ServerRequest::ListRootsRequest(r),
                bound.capabilities.roots.is_some(),
            ),
            _ => {
                return Err(McpError::invalid_request(
                    format!("server \"{server}\" asked for an unknown kind of input"),
                    None,
                ));
            }
        };
        if !supported {
            return Err(McpError::invalid_request(
                format!("the client does not support {method}, which server \"{server}\" needs"),
                None,
            ));
        }
        let logged = serde_json::to_value(&request).ok();
        let started = std::time::Instant::now();
        let result = crate::upstream::ask_downstream(
            bound.peer.clone(),
            Some(context.id.clone()),
            request,
            context.ct.clone(),
        )
        .await;
        record(front, bound, server, method, logged, started, &result).await;
        let value = match result? {
            ClientResult::CreateMessageResult(r) => serde_json::to_value(r),
            ClientResult::ElicitResult(r) => serde_json::to_value(r),
            ClientResult::ListRootsResult(r) => serde_json::to_value(r),
            other => serde_json::to_value(other),
        }
        .map_err(|e| McpError::internal_error(format!("unencodable answer: {e}"), None))?;
        responses.insert(key, value);
    }
    Ok(responses)
}

async fn record(
    front: &Front,
    bound: &Bound,
    server: &str,
    method: &str,
    params: Option<serde_json::Value>,
    started: std::time::Instant,
    result: &Result<ClientResult, McpError>,
) {
    let mut record = AuditRecord::new(Direction::ServerToClient, method);
    record.server = Some(server.to_owned());
    record.client = Some(bound.caller.client.clone());
    record.request = params;
    record.protocol_version = Some(bound.protocol_version.clone());
    record.took(started);
    match result {
        Ok(value) => record.response = serde_json::to_value(value).ok(),
        Err(e) => record.failed(Some(i64::from(e.code.0)), e.message.to_string()),
    }
    if let Err(e) = front.core.audit.record(record).await {
        tracing::error!(server, error = %e, "message not recorded");
    }
}
