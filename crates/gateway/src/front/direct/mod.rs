//! The direct path: `tools/call` on `/mcp/{server}` relayed as bytes.
//!
//! On the usual path rmcp ends the client's session and the gateway opens its
//! own to each server: every message is parsed into types, re-serialized and
//! handed between a handful of tasks, twice. A call that needs none of that
//! skips it: the HTTP guard hands it here, it is checked and recorded as on
//! the usual path, and its bytes are POSTed on the gateway's own session with
//! the server (under a request id of the gateway's); the answer comes back
//! the same way.
//!
//! A call takes this path only when all of this holds (anything else goes
//! the usual way, unchanged):
//! - it comes to `/mcp/{server}` for a streamable HTTP server of the client's
//!   own era: on a session (2025-11-25 or older) that the gateway knows, that
//!   belongs to the caller and that used the usual path recently (so rmcp's
//!   idle timer keeps it alive), to a server on a session; or stateless
//!   (2026-07-28, without a log level or an input-required retry) to a
//!   2026-07-28 server;
//! - it is one `tools/call`, without a progress token or a task;
//! - the policy allows the tool outright and no rate limit refuses it.
//!
//! A session client's `tools/list` on `/mcp` is answered here too, from the
//! per-client cache of the merged list, as the JSON it was serialized to once.
//!
//! While it runs, the server's notifications are handled as rmcp's client
//! would have handed them on (log messages, list changes, resource updates).
//! Its requests (elicitation, sampling, roots) go to the client on the
//! call's own response stream under an id of the gateway's; the client's
//! answer, POSTed back, goes to the server under the server's id. A call the
//! client abandons (it cancels, or drops the connection) is cancelled at the
//! server and recorded as cancelled.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use axum::{
    body::Body,
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use futures::StreamExt as _;
use rmcp::model::{ClientCapabilities, ServerJsonRpcMessage, Tool};
use serde_json::{Map, Value, json};
use switchboard_audit::{AuditRecord, Decision, Direction};
use switchboard_store::Permission;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod admit;
mod asks;
mod events;
mod flight;

use super::Core;
use crate::{
    route::{Caller, Route},
    upstream::{
        Upstream,
        direct::{Asked, Route as UpstreamRoute},
    },
};
use admit::{
    CLIENT_INFO_KEY, Call, PROTOCOL_VERSION_KEY, known_session, list_tools, stateless_client,
};
use asks::{answer, cancel, reply_message, send_upstream};
use events::{Events, is_answer, json_response, sse, sse_bytes};
use flight::Flight;

/// Prefix of the ids the gateway gives requests it relays to a client.
const ASK_PREFIX: &str = "switchboard-ask-";

/// Calls on the direct path, and the server requests they relayed.
#[derive(Default)]
pub(crate) struct DirectCalls {
    next: AtomicU64,
    served: AtomicU64,
    /// Server requests waiting for the client's answer, by the id it sees.
    asks: Mutex<HashMap<String, PendingAsk>>,
    /// Calls in flight, by (session id, the client's request id as JSON).
    calls: Mutex<HashMap<CallKey, Arc<Sent>>>,
}

/// A server request relayed to a client.
struct PendingAsk {
    session: Arc<str>,
    upstream_id: Value,
    method: String,
    client: String,
    params: Option<Value>,
    started: Instant,
    up: Arc<Upstream>,
    route: Arc<UpstreamRoute>,
    version: String,
}

/// A call in flight: its session, and the client's request id as JSON.
type CallKey = (Arc<str>, String);

/// Where a call in flight went.
struct Sent {
    client: String,
    upstream_id: String,
    route: Arc<UpstreamRoute>,
    version: String,
    /// Set when the client cancels the call.
    cancelled: CancellationToken,
}

impl DirectCalls {
    /// Requests served on the direct path so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether a request body may be an `initialize` (a quick look, no parsing).
pub(crate) fn may_initialize(body: &[u8]) -> bool {
    contains(body, b"\"initialize\"")
}

/// Serves the request here when it belongs to the direct path; `None` hands
/// it to rmcp.
pub(crate) async fn intercept(
    core: &Arc<Core>,
    caller: &Caller,
    parts: &Parts,
    body: &Bytes,
) -> Option<Response> {
    if parts.method != axum::http::Method::POST {
        return None;
    }
    let session: Option<Arc<str>> = match parts.headers.get("mcp-session-id") {
        Some(id) => Some(id.to_str().ok()?.into()),
        None => None,
    };
    let bytes = body.as_ref();
    if let Some(session) = &session {
        if contains(bytes, ASK_PREFIX.as_bytes())
            && let Some(response) = answer(core, caller, session, bytes).await
        {
            return Some(response);
        }
        if contains(bytes, b"notifications/cancelled") {
            return cancel(core, caller, session, bytes).await;
        }
    }
    let accepts = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && a.contains("text/event-stream"));
    if !accepts {
        return None;
    }
    let server = match &caller.route {
        Route::Server(server) if contains(bytes, b"tools/call") => server,
        Route::All if contains(bytes, b"tools/list") => {
            return list_tools(core, caller, parts, session.as_ref()?, bytes).await;
        }
        _ => return None,
    };
    let call = Call::parse(bytes)?;
    let known = match &session {
        Some(session) => known_session(core, caller, parts, session)?,
        None => stateless_client(&call, parts)?,
    };
    let stateless = session.is_none();
    let up = core.hub.get(server)?;
    let (live, route) = up.direct()?;
    // Each era only to its own: bridging between them is rmcp's path.
    if live.stateless() != stateless {
        return None;
    }
    if stateless {
        // What the client subscribed to just before is in place first.
        core.dispatch
            .openings
            .settled(&caller.client, crate::opening::OPENING_LIMIT)
            .await;
    }
    let tool = up
        .tools()
        .iter()
        .find(|t| t.name == call.name.as_str())
        .cloned()
        .unwrap_or_else(|| Tool::new(call.name.clone(), "", Map::new()));
    let verdict = core.policy.tool_verdict(&caller.client, server, &tool);
    if verdict.permission != Permission::Allow
        || core
            .policy
            .take_rate(&caller.client, server, &call.name)
            .is_err()
    {
        return None;
    }
    let version = live.info.protocol_version.to_string();
    let upstream_id = format!(
        "switchboard-{}",
        core.direct.next.fetch_add(1, Ordering::Relaxed)
    );
    let mut message = call.message;
    message["id"] = Value::String(upstream_id.clone());
    // Progress comes back under the gateway's token, on the call's stream.
    let progress = call.progress.map(|token| {
        message["params"]["_meta"]["progressToken"] = Value::String(upstream_id.clone());
        (Value::String(upstream_id.clone()), token)
    });
    if stateless {
        // The gateway speaks to the server as itself; what the server may
        // ask for stays what the client declared.
        let meta = &mut message["params"]["_meta"];
        meta[PROTOCOL_VERSION_KEY] = Value::String(version.clone());
        meta[CLIENT_INFO_KEY] =
            json!({ "name": "switchboard", "version": env!("CARGO_PKG_VERSION") });
    }
    let sent_body = serde_json::to_vec(&message).ok()?;
    let request = if stateless {
        route
            .post_stateless(&version, "tools/call", &call.name, sent_body)
            .await?
    } else {
        route.post(&version, sent_body).await?
    };

    let mut record = AuditRecord::new(Direction::ClientToServer, "tools/call");
    record.client = Some(caller.client.clone());
    record.session = session.as_deref().map(str::to_owned);
    record.server = Some(server.clone());
    record.name = Some(call.name.clone());
    record.request = message.get_mut("params").map(Value::take);
    record.protocol_version = Some(known.protocol_version);
    record.decision = Decision::Allowed;
    record.rule = Some(verdict.rule);

    let started = Instant::now();
    core.direct.served.fetch_add(1, Ordering::Relaxed);
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            let message = format!("server \"{server}\" did not answer: {e}");
            let mut flight = Flight::new(core, record, started, None);
            return Some(flight.fail(&call.id, -32603, message).await);
        }
    };
    if matches!(
        response.status(),
        StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) {
        // The server ended the gateway's session, or wants a (new) sign-in:
        // nothing ran, and the usual path knows how to recover.
        return None;
    }
    // A session client may cancel the call by notification; a stateless one
    // by closing the request, which closes the gateway's request too.
    let cancelled = CancellationToken::new();
    let registered = session.as_ref().map(|session| {
        let key = (session.clone(), call.id.to_string());
        let sent = Arc::new(Sent {
            client: caller.client.clone(),
            upstream_id: upstream_id.clone(),
            route: route.clone(),
            version: version.clone(),
            cancelled: cancelled.clone(),
        });
        lock(&core.direct.calls).insert(key.clone(), sent.clone());
        (key, sent)
    });
    let mut flight = Flight::new(core, record, started, registered);
    if !response.status().is_success() {
        // A JSON-RPC error goes back as the server sent it, HTTP status and
        // all (2026-07-28 servers answer some errors with a 4xx).
        let status = response.status();
        let error = match response.bytes().await {
            Ok(body) => serde_json::from_slice::<Value>(&body)
                .ok()
                .filter(|v| v.get("error").is_some()),
            Err(_) => None,
        };
        let mut answer = match error {
            Some(error) => flight.finish(&call.id, error).await,
            None => {
                let message = format!("server \"{server}\" answered HTTP {status}");
                flight.fail(&call.id, -32603, message).await
            }
        };
        *answer.status_mut() = status;
        return Some(answer);
    }
    let is_sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let context = Context {
        core: core.clone(),
        session,
        client: caller.client.clone(),
        capabilities: known.capabilities,
        up: up.clone(),
        live,
        route,
        version,
        client_id: call.id,
        upstream_id: Value::String(upstream_id),
        asked: Mutex::default(),
        cancelled,
        progress,
    };
    if !is_sse {
        let reply = match response.bytes().await {
            Ok(bytes) => serde_json::from_slice::<Value>(&bytes).ok(),
            Err(_) => None,
        };
        return Some(match reply {
            Some(reply) if context.is_answer(&reply) => {
                flight.finish(&context.client_id, reply).await
            }
            _ => {
                let message = format!("server \"{}\" sent no answer", up.name());
                flight.fail(&context.client_id, -32603, message).await
            }
        });
    }
    let mut events =
        Events::new(sse_stream::SseStream::from_byte_stream(response.bytes_stream()).boxed());
    // Until the server asks the client something, the answer is awaited
    // here and goes back as plain JSON.
    loop {
        let message = tokio::select! {
            message = events.next(&context) => message,
            () = context.cancelled.cancelled() => {
                return Some(json_response(&flight.cancelled(&context.client_id).await));
            }
        };
        let Some(message) = message else {
            break;
        };
        if context.is_answer(&message) {
            return Some(flight.finish(&context.client_id, message).await);
        }
        if let Some(relayed) = context.on_message(message).await {
            // The server asked for input: the answer becomes a stream.
            let (tx, rx) = mpsc::channel::<Bytes>(16);
            let _ = tx.try_send(relayed);
            tokio::spawn(stream_rest(context, flight, events, tx));
            let body = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
            });
            let mut response = Body::from_stream(body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            return Some(response);
        }
    }
    let message = format!(
        "server \"{}\" closed the stream before answering",
        up.name()
    );
    Some(flight.fail(&context.client_id, -32603, message).await)
}

/// The rest of a call whose answer became a stream.
async fn stream_rest(context: Context, flight: Flight, events: Events, tx: mpsc::Sender<Bytes>) {
    relay_rest(&context, flight, events, tx).await;
    context.forget_asks();
}

async fn relay_rest(
    context: &Context,
    mut flight: Flight,
    mut events: Events,
    tx: mpsc::Sender<Bytes>,
) {
    loop {
        let next = tokio::select! {
            next = events.next(context) => next,
            () = tx.closed() => return, // the client left: `flight` cancels it
            () = context.cancelled.cancelled() => {
                let _ = tx.send(sse(&flight.cancelled(&context.client_id).await)).await;
                return;
            }
        };
        let Some(message) = next else {
            let message = format!(
                "server \"{}\" closed the stream before answering",
                context.up.name()
            );
            let reply = flight
                .fail_message(&context.client_id, -32603, message)
                .await;
            let _ = tx.send(sse(&reply)).await;
            return;
        };
        if context.is_answer(&message) {
            let reply = flight.finish_message(&context.client_id, message).await;
            let _ = tx.send(sse_bytes(&reply)).await;
            return;
        }
        if let Some(relayed) = context.on_message(message).await
            && tx.send(relayed).await.is_err()
        {
            return;
        }
    }
}

/// What a direct call needs while it runs.
struct Context {
    core: Arc<Core>,
    /// The client's session; none for a 2026-07-28 client.
    session: Option<Arc<str>>,
    client: String,
    capabilities: ClientCapabilities,
    up: Arc<Upstream>,
    live: Arc<crate::upstream::Live>,
    route: Arc<UpstreamRoute>,
    version: String,
    client_id: Value,
    upstream_id: Value,
    /// Ids of the server requests this call relayed to the client.
    asked: Mutex<Vec<String>>,
    /// Set when the client cancels the call.
    cancelled: CancellationToken,
    /// The progress token sent to the server, and the client's.
    progress: Option<(Value, Value)>,
}

impl Context {
    /// Forgets the server requests of this call still waiting for an answer.
    fn forget_asks(&self) {
        let ids = std::mem::take(&mut *lock(&self.asked));
        let mut asks = lock(&self.core.direct.asks);
        for id in ids {
            asks.remove(&id);
        }
    }

    /// Whether `message` is the server's answer to the call.
    fn is_answer(&self, message: &Value) -> bool {
        is_answer(message, &self.upstream_id)
    }

    /// Handles something else the server sent on the call's stream; what
    /// must reach the client comes back as an SSE event.
    async fn on_message(&self, message: Value) -> Option<Bytes> {
        let Ok(parsed) = serde_json::from_value::<ServerJsonRpcMessage>(message.clone()) else {
            tracing::debug!(
                server = self.up.name(),
                "unreadable message on a call's stream"
            );
            return None;
        };
        match parsed {
            ServerJsonRpcMessage::Notification(n) => {
                if let Some(relayed) = self.progress(message).await {
                    return Some(relayed);
                }
                self.up
                    .direct_notification(&self.live, n.notification)
                    .await;
                None
            }
            ServerJsonRpcMessage::Request(_) => self.ask(message).await,
            _ => None,
        }
    }

    /// Progress of this call: to the client on the call's stream, under its
    /// own token, and recorded.
    async fn progress(&self, mut message: Value) -> Option<Bytes> {
        let (sent, theirs) = self.progress.as_ref()?;
        if message.get("method")?.as_str()? != "notifications/progress" {
            return None;
        }
        let params = message.get_mut("params")?;
        if params.get("progressToken")? != sent {
            return None;
        }
        params["progressToken"] = theirs.clone();
        let relayed = sse(&message);
        self.up
            .record_progress(&self.client, message.get_mut("params").map(Value::take))
            .await;
        Some(relayed)
    }

    /// A request of the server: relayed to the client when it can answer,
    /// else answered here as the usual path would.
    async fn ask(&self, mut message: Value) -> Option<Bytes> {
        let method = message.get("method")?.as_str()?.to_owned();
        let upstream_id = message.get("id")?.clone();
        let params = message.get("params").cloned();
        let caps = &self.capabilities;
        let refusal = match method.as_str() {
            _ if self.session.is_none() => {
                Some("a 2026-07-28 server asks for input with an input-required result")
            }
            "elicitation/create" if caps.elicitation.is_none() => {
                Some("the client of this call does not support elicitation")
            }
            "sampling/createMessage" if caps.sampling.is_none() => {
                Some("the client of this call does not support sampling")
            }
            _ => None,
        };
        let started = Instant::now();
        let answered = match method.as_str() {
            "ping" => Some(Ok(json!({}))),
            "roots/list" if caps.roots.is_none() => Some(Ok(json!({ "roots": [] }))),
            _ => refusal.map(|why| Err((-32600_i64, why.to_owned()))),
        };
        if let Some(outcome) = answered {
            self.reply_upstream(&self.route, &self.version, upstream_id, &outcome)
                .await;
            if method != "ping" {
                let asked = Asked {
                    method: &method,
                    client: &self.client,
                    params,
                    started,
                };
                self.up.record_asked(asked, outcome).await;
            }
            return None;
        }
        let id = format!(
            "{ASK_PREFIX}{}",
            self.core.direct.next.fetch_add(1, Ordering::Relaxed)
        );
        message["id"] = Value::String(id.clone());
        lock(&self.asked).push(id.clone());
        lock(&self.core.direct.asks).insert(
            id,
            PendingAsk {
                session: self.session.clone()?,
                upstream_id,
                method,
                client: self.client.clone(),
                params,
                started,
                up: self.up.clone(),
                route: self.route.clone(),
                version: self.version.clone(),
            },
        );
        Some(sse(&message))
    }

    async fn reply_upstream(
        &self,
        route: &UpstreamRoute,
        version: &str,
        id: Value,
        outcome: &Result<Value, (i64, String)>,
    ) {
        send_upstream(route, version, &reply_message(id, outcome)).await;
    }
}
