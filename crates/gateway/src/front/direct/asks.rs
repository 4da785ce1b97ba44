//! Answers and cancels a client sends for a call on the direct path.

use std::sync::Arc;

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{Core, events::error_message, lock};
use crate::{
    route::Caller,
    upstream::direct::{Asked, Route as UpstreamRoute},
};

pub(super) fn reply_message(id: Value, outcome: &Result<Value, (i64, String)>) -> Value {
    match outcome {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err((code, message)) => error_message(&id, *code, message),
    }
}

pub(super) async fn send_upstream(route: &UpstreamRoute, version: &str, message: &Value) {
    let Ok(body) = serde_json::to_vec(message) else {
        return;
    };
    let Some(request) = route.post(version, body).await else {
        return;
    };
    if let Err(e) = request.send().await {
        tracing::warn!(error = %e, "could not relay a message to the server");
    }
}

/// The client's answer to a relayed server request.
pub(super) async fn answer(
    core: &Arc<Core>,
    caller: &Caller,
    session: &Arc<str>,
    bytes: &[u8],
) -> Option<Response> {
    let message: Value = serde_json::from_slice(bytes).ok()?;
    if message.get("method").is_some() {
        return None;
    }
    let id = message.get("id")?.as_str()?;
    let pending = {
        let mut asks = lock(&core.direct.asks);
        match asks.get(id) {
            Some(p) if &p.session == session && p.client == caller.client => asks.remove(id)?,
            _ => return None,
        }
    };
    let outcome = match (message.get("result"), message.get("error")) {
        (Some(result), _) => Ok(result.clone()),
        (None, Some(error)) => Err((
            error.get("code").and_then(Value::as_i64).unwrap_or(-32603),
            error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        )),
        (None, None) => return None,
    };
    let mut relayed = message.clone();
    relayed["id"] = pending.upstream_id.clone();
    send_upstream(&pending.route, &pending.version, &relayed).await;
    let asked = Asked {
        method: &pending.method,
        client: &pending.client,
        params: pending.params.clone(),
        started: pending.started,
    };
    pending.up.record_asked(asked, outcome).await;
    Some(StatusCode::ACCEPTED.into_response())
}

/// The client cancels a direct call: the server hears it under its id.
pub(super) async fn cancel(
    core: &Arc<Core>,
    caller: &Caller,
    session: &Arc<str>,
    bytes: &[u8],
) -> Option<Response> {
    let message: Value = serde_json::from_slice(bytes).ok()?;
    if message.get("method")?.as_str()? != "notifications/cancelled" {
        return None;
    }
    let params = message.get("params")?;
    let key = (session.clone(), params.get("requestId")?.to_string());
    let sent = lock(&core.direct.calls)
        .get(&key)
        .filter(|sent| sent.client == caller.client)
        .cloned()?;
    let mut relayed = message.clone();
    relayed["params"]["requestId"] = Value::String(sent.upstream_id.clone());
    send_upstream(&sent.route, &sent.version, &relayed).await;
    sent.cancelled.cancel();
    Some(StatusCode::ACCEPTED.into_response())
}
