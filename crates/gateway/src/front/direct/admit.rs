//! Which requests may take the direct path, and the cached tool list.

use std::{sync::Arc, time::Instant};

use axum::{
    body::Body,
    http::{HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use switchboard_audit::{AuditRecord, Direction};

use super::{
    Core, Ordering,
    events::{error_message, json_response},
};
use crate::route::Caller;

/// The caller's own session, when the direct path may serve it.
pub(super) fn known_session(
    core: &Core,
    caller: &Caller,
    parts: &Parts,
    session: &str,
) -> Option<crate::dispatch::DirectSession> {
    let known = core.dispatch.direct_session(
        session,
        &caller.client,
        &caller.route,
        core.session_idle / 2,
    )?;
    // A header that disagrees with the session gets rmcp's answer.
    match parts.headers.get("mcp-protocol-version") {
        Some(header) if header.as_bytes() != known.protocol_version.as_bytes() => None,
        _ => Some(known),
    }
}

/// `tools/list` on `/mcp` from the per-client cache, as the JSON it was
/// serialized to once (with thousands of tools, building and serializing
/// the list is most of the request). The usual path fills the cache.
pub(super) async fn list_tools(
    core: &Arc<Core>,
    caller: &Caller,
    parts: &Parts,
    session: &Arc<str>,
    bytes: &[u8],
) -> Option<Response> {
    let started = Instant::now();
    let message: Value = serde_json::from_slice(bytes).ok()?;
    if message.get("method")?.as_str()? != "tools/list" {
        return None;
    }
    let id = message.get("id")?;
    if !(id.is_string() || id.is_i64() || id.is_u64()) {
        return None;
    }
    let params = message.get("params");
    if params.and_then(|p| p.get("cursor")).is_some() {
        return None;
    }
    let known = known_session(core, caller, parts, session)?;
    // The usual path waits for servers still starting.
    let starting = core
        .hub
        .all()
        .iter()
        .any(|up| up.status().state == crate::upstream::UpstreamState::Starting);
    if starting {
        return None;
    }
    let generation = core.policy.generation();
    let (list, items) =
        core.tools_cache
            .get_json(&caller.client, generation, &core.tool_sources())?;
    let mut record = AuditRecord::new(Direction::ClientToServer, "tools/list");
    record.client = Some(caller.client.clone());
    record.session = Some(session.to_string());
    record.request = params.cloned();
    record.protocol_version = Some(known.protocol_version);
    record.response = Some(json!({ "items": items, "nextCursor": null }));
    record.took(started);
    if let Err(e) = core.audit.record(record).await {
        tracing::error!(error = %e, "unrecorded answer withheld");
        return Some(json_response(&error_message(id, -32603, &e.to_string())));
    }
    core.direct.served.fetch_add(1, Ordering::Relaxed);
    let head = format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":");
    let mut body = Vec::with_capacity(head.len() + list.len() + 1);
    body.extend_from_slice(head.as_bytes());
    body.extend_from_slice(&list);
    body.push(b'}');
    let mut response = Body::from(body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Some(response)
}

/// `_meta` keys of the 2026-07-28 lifecycle.
pub(super) const PROTOCOL_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
pub(super) const CLIENT_INFO_KEY: &str = "io.modelcontextprotocol/clientInfo";
pub(super) const CLIENT_CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";

/// A stateless (2026-07-28) client's call, when the direct path may serve
/// it: complete lifecycle `_meta`, headers that agree with the body, no log
/// level (its log messages would be scoped to this request) and no retry of
/// an input-required result (the gateway's bridge may own its state).
pub(super) fn stateless_client(
    call: &Call,
    parts: &Parts,
) -> Option<crate::dispatch::DirectSession> {
    let params = call.message.get("params")?;
    let meta = params.get("_meta")?;
    let version = meta.get(PROTOCOL_VERSION_KEY)?.as_str()?;
    if version != "2026-07-28"
        || meta.get(CLIENT_INFO_KEY).is_none()
        || meta.get("io.modelcontextprotocol/logLevel").is_some()
        || params.get("requestState").is_some()
        || params.get("inputResponses").is_some()
    {
        return None;
    }
    let header = |name: &str| parts.headers.get(name).map(|v| v.as_bytes());
    if header("mcp-protocol-version").is_some_and(|v| v != version.as_bytes())
        || header("mcp-method").is_some_and(|v| v != b"tools/call")
        || header("mcp-name").is_some_and(|v| v != call.name.as_bytes())
    {
        return None;
    }
    let capabilities = serde_json::from_value(meta.get(CLIENT_CAPABILITIES_KEY)?.clone()).ok()?;
    Some(crate::dispatch::DirectSession {
        protocol_version: version.to_owned(),
        capabilities,
    })
}

/// A `tools/call` request that may take the direct path.
pub(super) struct Call {
    pub message: Value,
    pub id: Value,
    pub name: String,
    /// The client's progress token, if it asked for progress.
    pub progress: Option<Value>,
}

impl Call {
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let message: Value = serde_json::from_slice(bytes).ok()?;
        let object = message.as_object()?;
        if object.get("method")?.as_str()? != "tools/call" {
            return None;
        }
        let id = object.get("id")?.clone();
        if !(id.is_string() || id.is_i64() || id.is_u64()) {
            return None;
        }
        let params = object.get("params")?.as_object()?;
        let name = params.get("name")?.as_str()?.to_owned();
        let progress = params
            .get("_meta")
            .and_then(|m| m.get("progressToken"))
            .cloned();
        if progress
            .as_ref()
            .is_some_and(|t| !(t.is_string() || t.is_i64() || t.is_u64()))
            || params.contains_key("task")
        {
            return None;
        }
        Some(Self {
            message,
            id,
            name,
            progress,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(text: &str) -> Option<Call> {
        Call::parse(text.as_bytes())
    }

    #[test]
    fn only_plain_tool_calls_take_the_direct_path() {
        let call = parse(r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"tools/call"}}}"#)
            .expect("a plain call");
        assert_eq!(call.name, "echo");
        assert_eq!(call.id, json!(7));
        assert!(
            parse(r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x"}}"#)
                .is_some()
        );
        let with_progress = parse(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":"p"}}}"#)
            .expect("progress is relayed on the call's stream");
        assert_eq!(with_progress.progress, Some(json!("p")));
        for refused in [
            // a progress token must be a string or an integer
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":{}}}}"#,
            // tasks are tracked by the usual path
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","task":{}}}"#,
            // not a call, a notification, a batch, no name, odd ids, not JSON
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x"}}"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}]"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}"#,
        ] {
            assert!(parse(refused).is_none(), "{refused}");
        }
    }
}
