//! A server's requests for input (sampling, elicitation, roots) during a
//! call, put to the client whose call it is, and only to it: on the call's
//! own stream, under an id of the gateway's; the client's answer, POSTed on
//! its own session, goes back under the server's id.

use std::{sync::Arc, time::Instant};

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::{refusal::Refusal, relay::Pump};
use crate::{
    session::Session,
    upstream::conn::Conn,
    wire::{Message, RpcError, raw},
};

/// What the client of a call can be asked, and what it is answered when it
/// cannot: `None` when it may be asked.
pub(super) fn local_answer(
    caps: &rmcp::model::ClientCapabilities,
    method: &str,
) -> Option<Result<Value, RpcError>> {
    match method {
        "elicitation/create" if caps.elicitation.is_none() => Some(Err(RpcError::new(
            -32600,
            "the client of this call does not support elicitation",
        ))),
        "sampling/createMessage" if caps.sampling.is_none() => Some(Err(RpcError::new(
            -32600,
            "the client of this call does not support sampling",
        ))),
        // A client without roots has none to show.
        "roots/list" if caps.roots.is_none() => Some(Ok(json!({ "roots": [] }))),
        "elicitation/create" | "sampling/createMessage" | "roots/list" => None,
        other => Some(Err(RpcError::new(
            -32601,
            format!("method not found: {other}"),
        ))),
    }
}

/// The client's answer to a request relayed to it (see [`Session::answer`]).
pub(super) fn client_answer(session: &Session, message: Message) {
    if !session.answer(message) {
        tracing::debug!(session = session.key, "an answer nobody waits for");
    }
}

/// Asks the client of `pump`'s call and waits for its answer, or for the call
/// to end.
async fn ask(
    pump: &Pump,
    session: &Arc<Session>,
    request: &Message,
    done: &CancellationToken,
) -> Result<Value, RpcError> {
    let id = raw(&pump.core.ask_id());
    // Answers are matched by their id as JSON text.
    let answer = session.expect_answer(id.get());
    let mut relayed = request.clone();
    relayed.id = Some(id.clone());
    if !pump.out.send(relayed).await {
        session.forget_answer(id.get());
        return Err(RpcError::new(-32603, "the client's call has ended"));
    }
    tokio::select! {
        answer = answer => match answer {
            Ok(message) => match message.rpc_error() {
                Some(error) => Err(error),
                None => Ok(message.result_value().unwrap_or_else(|| json!({}))),
            },
            Err(_) => Err(RpcError::new(-32603, "the client's session ended")),
        },
        () = done.cancelled() => {
            session.forget_answer(id.get());
            Err(RpcError::new(-32603, "the call ended before the client answered"))
        }
    }
}

/// A request of the server during a call: asked of the call's client (a
/// session client) while the call goes on; refused for a 2026-07-28 client,
/// which answers input requests by retrying the call.
pub(super) fn server_request(
    pump: &Pump,
    asked: Message,
    conn: Arc<Conn>,
    done: CancellationToken,
) {
    let pump = pump.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        let outcome = match pump.bound.session() {
            Some(session) => match local_answer(&session.capabilities, asked.method()) {
                Some(outcome) => outcome,
                None => ask(&pump, session, &asked, &done).await,
            },
            None => Err(RpcError::new(
                -32600,
                "a 2026-07-28 client is asked for input with an input-required result",
            )),
        };
        reply(&pump, &conn, &asked, started, outcome).await;
    });
}

/// Answers the server's request and records the exchange.
pub(super) async fn reply(
    pump: &Pump,
    conn: &Arc<Conn>,
    asked: &Message,
    started: Instant,
    outcome: Result<Value, RpcError>,
) {
    if let Some(id) = asked.id.clone() {
        let answer = match &outcome {
            Ok(result) => Message::response(id, raw(result)),
            Err(error) => Message::error(Some(id), error),
        };
        if let Err(e) = conn.post(&answer).await {
            tracing::debug!(server = conn.server(), error = %e, "answer to the server not delivered");
        }
    }
    if asked.method() != "ping" {
        let version = pump.up.status().protocol_version;
        crate::record::server_request(
            &pump.core.audit,
            pump.up.name(),
            &pump.bound.caller.client,
            version.as_deref(),
            asked,
            started,
            &outcome,
        )
        .await;
    }
}

/// A 2026-07-28 server's input requests, asked of a session client the
/// classic way; the answers by key, for the retry.
pub(super) async fn answer_inputs(
    pump: &Pump,
    session: &Arc<Session>,
    requests: Map<String, Value>,
) -> Result<Map<String, Value>, Refusal> {
    let done = CancellationToken::new();
    let _done = done.clone().drop_guard();
    let mut responses = Map::new();
    for (key, input) in requests {
        let method = input
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let request = Message::request(
            crate::wire::int_id(0),
            &method,
            input.get("params").map(raw),
        );
        let started = Instant::now();
        let outcome = match local_answer(&session.capabilities, &method) {
            Some(Err(e)) if e.code == -32601 => {
                return Err(Refusal::InvalidRequest(format!(
                    "server \"{}\" asked for an unknown kind of input ({method})",
                    pump.up.name()
                )));
            }
            Some(Err(_)) => {
                return Err(Refusal::InvalidRequest(format!(
                    "the client does not support {method}, which server \"{}\" needs",
                    pump.up.name()
                )));
            }
            Some(Ok(value)) => Ok(value),
            None => ask(pump, session, &request, &done).await,
        };
        let version = Some(session.version.as_str());
        crate::record::server_request(
            &pump.core.audit,
            pump.up.name(),
            &pump.bound.caller.client,
            version,
            &request,
            started,
            &outcome,
        )
        .await;
        responses.insert(
            key,
            outcome.map_err(|e| Refusal::InvalidRequest(e.message))?,
        );
    }
    Ok(responses)
}
