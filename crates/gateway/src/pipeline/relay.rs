//! The relay stage: a request to one server, as the bytes it came as.
//!
//! What changes on the way: the id (the connection's own), the progress
//! token (the connection's own, mapped back for the client), the client's
//! lifecycle `_meta` (a 2026-07-28 server gets the gateway's, with the
//! client's capabilities), and names on `/mcp` (edited by the caller of
//! [`relay`]). While the call runs, what the server says about it reaches
//! the caller only: progress under the client's own token, log messages its
//! level lets through, requests for input (asked of the client, or bridged
//! into an input-required result for a 2026-07-28 client).
#![expect(deprecated, reason = "logging is still part of 2025-11-25")]

use std::sync::Arc;

use rmcp::model::{JsonObject, LoggingLevel};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Bound, Core, Outbox, asks, classify::Request, decide::Permit, refusal::Refusal};
use crate::{
    bridge::{CallEvent, Inputs, Step},
    mcp_headers::LIFECYCLE,
    session::rank,
    upstream::{Live, Upstream, UpstreamError, conn::Exchange, mux::CallTag, mux::Inbound},
    wire::{Message, RawObject, RpcError, int_id, raw},
};

/// Methods a server may answer with an input-required result.
const RETRYABLE: &[&str] = &["tools/call", "prompts/get", "resources/read"];
/// Rounds of input one call may ask for before the gateway gives up.
const MAX_ROUNDS: usize = 10;
/// How long a request that hears log messages waits after its answer for
/// those the server sent just before it on another stream.
const LOG_SETTLE: std::time::Duration = std::time::Duration::from_millis(30);

/// A request on its way to one server.
pub(crate) struct Forward {
    pub up: Arc<Upstream>,
    pub method: String,
    /// The params as the server is to get them (names already its own).
    pub params: RawObject,
    /// The called tool's input schema (for a 2026-07-28 server's headers).
    pub schema: Option<Arc<JsonObject>>,
    pub permit: Permit,
}

/// Everything a call in flight needs, owned (a bridged call outlives the
/// request that started it).
#[derive(Clone)]
pub(super) struct Pump {
    pub core: Arc<Core>,
    pub bound: Arc<Bound>,
    pub up: Arc<Upstream>,
    /// The client's progress token, when it asked for progress.
    pub progress: Option<Value>,
    pub out: Outbox,
}

/// What ends a call early.
enum Stop {
    /// The client cancels (by notification on its session), or leaves.
    Client(Option<CancellationToken>),
    /// A bridged call: nobody will ever resume it.
    Bridged(Inputs),
}

impl Stop {
    async fn wait(&self, out: &Outbox) {
        match self {
            Stop::Client(Some(cancel)) => tokio::select! {
                () = cancel.cancelled() => {}
                () = out.closed() => {}
            },
            Stop::Client(None) => out.closed().await,
            Stop::Bridged(inputs) => inputs.closed().await,
        }
    }
}

/// Relays `request` to `forward.up` and returns the server's answer (its id
/// still the connection's).
pub(super) async fn relay(
    core: &Arc<Core>,
    bound: &Arc<Bound>,
    request: &Request,
    forward: Forward,
    out: &Outbox,
) -> Result<Message, Refusal> {
    let Forward {
        up,
        method,
        mut params,
        schema,
        permit,
    } = forward;
    let live = up.connection_within(core.settle).await?;
    let pump = Pump {
        core: core.clone(),
        bound: bound.clone(),
        up: up.clone(),
        progress: request.meta.progress.clone(),
        out: out.clone(),
    };
    // A session client cancels by notification, naming its request id.
    let (cancel, _tracked) = match (bound.session(), request.message.id_text()) {
        (Some(session), Some(id)) => {
            let (token, guard) = session.track_call(id);
            (Some(token), Some(guard))
        }
        _ => (None, None),
    };
    let mut permit = Some(permit);
    let mut answer = pump
        .once(
            &live,
            &method,
            &params,
            schema.as_deref(),
            &mut permit,
            cancel.clone(),
        )
        .await?;
    // A 2026-07-28 server asking a client with a session for input: ask it
    // the classic way and retry with the answers.
    if let Some(session) = bound.session()
        && live.stateless()
        && RETRYABLE.contains(&method.as_str())
    {
        let mut rounds = 0;
        while let Some((requests, state)) = input_required(&answer) {
            if rounds == MAX_ROUNDS {
                return Err(Refusal::TooManyRounds(up.name().to_owned(), MAX_ROUNDS));
            }
            rounds += 1;
            let responses = asks::answer_inputs(&pump, session, requests).await?;
            params.insert("inputResponses".into(), raw(&responses));
            match state {
                Some(state) => params.insert("requestState".into(), raw(&state)),
                None => params.remove("requestState"),
            };
            answer = pump
                .once(
                    &live,
                    &method,
                    &params,
                    schema.as_deref(),
                    &mut permit,
                    cancel.clone(),
                )
                .await?;
        }
    }
    Ok(answer)
}

/// Resumes a call parked for a stateless client's answers (see [`bridge`]).
pub(super) async fn resume(
    core: &Arc<Core>,
    bound: &Bound,
    state: &str,
    responses: Option<Map<String, Value>>,
    out: &Outbox,
) -> Result<Message, Refusal> {
    let events = core
        .bridge
        .resume(&bound.caller.client, state, responses)
        .map_err(|_| Refusal::UnknownState)?;
    step(core, bound, events, out).await
}

async fn step(
    core: &Arc<Core>,
    bound: &Bound,
    events: mpsc::Receiver<CallEvent>,
    out: &Outbox,
) -> Result<Message, Refusal> {
    match core
        .bridge
        .next(
            &bound.caller.client,
            &core.sessions.caps,
            events,
            out.closed(),
        )
        .await
    {
        None => Err(Refusal::Cancelled),
        Some(Ok(Step::Done(answer))) => Ok(answer),
        Some(Ok(Step::InputRequired(result))) => Ok(Message::response(int_id(0), raw(&result))),
        Some(Err(error)) => Ok(Message::error(Some(int_id(0)), &error)),
    }
}

/// The input requests and state of an input-required result.
fn input_required(answer: &Message) -> Option<(Map<String, Value>, Option<String>)> {
    #[derive(serde::Deserialize)]
    struct Incomplete {
        #[serde(rename = "resultType")]
        result_type: Option<String>,
        #[serde(rename = "inputRequests", default)]
        requests: Map<String, Value>,
        #[serde(rename = "requestState")]
        state: Option<String>,
    }
    let result: Incomplete = answer.result_as()?;
    (result.result_type.as_deref() == Some("input_required"))
        .then_some((result.requests, result.state))
}

impl Pump {
    /// One request to the server and everything it says until the answer.
    async fn once(
        &self,
        live: &Live,
        method: &str,
        params: &RawObject,
        schema: Option<&JsonObject>,
        permit: &mut Option<Permit>,
        cancel: Option<CancellationToken>,
    ) -> Result<Message, Refusal> {
        let conn = &live.conn;
        let ticket = conn.begin(
            Some(CallTag {
                session: self.bound.key(),
            }),
            self.progress.is_some(),
        );
        let mut params = params.clone();
        let mut meta: Map<String, Value> = params
            .get("_meta")
            .and_then(|m| serde_json::from_str(m.get()).ok())
            .unwrap_or_default();
        // The client's own lifecycle never goes upstream: the gateway speaks
        // to the server as itself.
        for key in [
            "progressToken",
            LIFECYCLE.protocol_version,
            LIFECYCLE.client_info,
            LIFECYCLE.client_capabilities,
            LIFECYCLE.log_level,
        ] {
            meta.remove(key);
        }
        if self.progress.is_some() {
            meta.insert("progressToken".into(), Value::from(ticket.id));
        }
        if let Some(lifecycle) = conn.lifecycle(self.bound.capabilities_json()) {
            // A 2026-07-28 server decides per request what it may ask for
            // (the client's capabilities) and whether to log (a session
            // client hears logs as its version promises).
            meta.extend(lifecycle);
            let level = match self.bound.session() {
                Some(session) => Some(session.log_level().unwrap_or(LoggingLevel::Debug)),
                None => self.bound.log_level(),
            };
            if let Some(level) = level {
                meta.insert(
                    LIFECYCLE.log_level.into(),
                    serde_json::to_value(level).unwrap_or_default(),
                );
            }
        }
        // The server's work is a child of this request's span (the client's
        // own trace context, when it sent one, is this span's parent).
        for (key, value) in switchboard_telemetry::mcp::trace_context(&tracing::Span::current()) {
            meta.insert(key.into(), Value::String(value));
        }
        if meta.is_empty() {
            params.remove("_meta");
        } else {
            params.insert("_meta".into(), raw(&meta));
        }
        // A 2026-07-28 client that asked for log messages hears a session
        // server's while its request runs (such a server sends them on its
        // session's stream, not the call's), from before the request leaves.
        let _logs = match self.bound.log_level() {
            Some(level) if self.bound.stateless() && !live.stateless() => {
                Some(self.core.sessions.hear_logs(
                    self.bound.key(),
                    crate::session::LogRequest {
                        caller: self.bound.caller.clone(),
                        level,
                        tx: self.out.sender(),
                    },
                ))
            }
            _ => None,
        };
        let message = Message::request(int_id(ticket.id), method, Some(raw(&params)));
        let exchange = match conn.send(ticket, &message, schema).await {
            Ok(exchange) => exchange,
            Err(e) => {
                // Nothing reached the server: the rate token goes back.
                if matches!(
                    e,
                    UpstreamError::Status { .. } | UpstreamError::Protocol { .. }
                ) && let Some(permit) = permit.take()
                {
                    permit.spend();
                }
                return Err(e.into());
            }
        };
        if let Some(permit) = permit.take() {
            permit.spend();
        }
        self.core
            .direct
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let bridged = self.bound.stateless() && !live.stateless() && RETRYABLE.contains(&method);
        if !bridged {
            let answer = self.run(exchange, Stop::Client(cancel)).await;
            if _logs.is_some() {
                // What the server logged just before its answer may still be
                // on the other stream.
                tokio::time::sleep(LOG_SETTLE).await;
            }
            return answer;
        }
        // A session server may ask this 2026-07-28 client for input: the
        // call runs on its own, and the client answers by retrying.
        let (tx, rx) = mpsc::channel(8);
        let pump = self.clone();
        tokio::spawn(async move {
            let result = pump.run(exchange, Stop::Bridged(tx.clone())).await;
            let _ = tx
                .send(CallEvent::Done(result.map_err(|r| r.error())))
                .await;
        });
        let stepped = step(&self.core, &self.bound, rx, &self.out).await;
        if _logs.is_some() {
            tokio::time::sleep(LOG_SETTLE).await;
        }
        stepped
    }

    /// Reads what the server says about the call until its answer.
    async fn run(&self, mut exchange: Exchange, stop: Stop) -> Result<Message, Refusal> {
        let done = CancellationToken::new();
        let _done = done.clone().drop_guard();
        loop {
            let next = tokio::select! {
                next = exchange.next() => Some(next),
                () = stop.wait(&self.out) => None,
                () = self.core.shutdown.cancelled() => None,
            };
            let Some(next) = next else {
                exchange.cancel("cancelled by the client").await;
                return Err(Refusal::Cancelled);
            };
            match next {
                Some(Inbound::Answer(answer)) => return Ok(answer),
                Some(Inbound::Progress(progress)) => self.relay_progress(progress).await,
                Some(Inbound::Notice(notice)) => self.relay_notice(notice).await,
                Some(Inbound::Request(asked)) => {
                    let conn = exchange.conn().clone();
                    match &stop {
                        Stop::Bridged(inputs) => bridge_ask(self, inputs, asked, conn),
                        Stop::Client(_) => asks::server_request(self, asked, conn, done.clone()),
                    }
                }
                None => {
                    let server = self.up.name().to_owned();
                    return Err(Refusal::Upstream(UpstreamError::Closed { server }));
                }
            }
        }
    }

    /// Progress of the call, under the client's own token.
    async fn relay_progress(&self, progress: Message) {
        let Some(token) = &self.progress else { return };
        let Some(mut params) = progress.params_object() else {
            return;
        };
        params.insert("progressToken".into(), raw(token));
        let relayed = Message::notification("notifications/progress", Some(raw(&params)));
        self.record(&relayed);
        self.out.send(relayed).await;
    }

    /// Another notification on the call's stream: a log message for the
    /// caller when its level lets it through; anything else is the server's
    /// news, as if it had come outside the call.
    async fn relay_notice(&self, notice: Message) {
        if notice.method() != "notifications/message" {
            self.up.news(notice);
            return;
        }
        #[derive(serde::Deserialize)]
        struct Level {
            level: LoggingLevel,
        }
        let Ok(Level { level }) = notice.params_as::<Level>() else {
            return;
        };
        let hears = match self.bound.session() {
            Some(session) => session.hears_level(level),
            None => self
                .bound
                .log_level()
                .is_some_and(|min| rank(level) >= rank(min)),
        };
        self.record(&notice);
        if hears {
            self.out.send(notice).await;
        }
    }

    /// Records a message of the server about this call.
    fn record(&self, message: &Message) {
        let (audit, server, client, version, message) = (
            self.core.audit.clone(),
            self.up.name().to_owned(),
            self.bound.caller.client.clone(),
            self.up.status().protocol_version,
            message.clone(),
        );
        tokio::spawn(async move {
            crate::record::server_message(
                &audit,
                &server,
                Some(&client),
                version.as_deref(),
                &message,
            )
            .await;
        });
    }
}

/// A session server's request during a 2026-07-28 client's call: parked
/// until the client retries with its answer.
fn bridge_ask(
    pump: &Pump,
    inputs: &Inputs,
    asked: Message,
    conn: Arc<crate::upstream::conn::Conn>,
) {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let inputs = inputs.clone();
    let pump = pump.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        // What the client cannot be asked is answered here, as for a session.
        if let Some(outcome) = asks::local_answer(pump.bound.capabilities(), asked.method()) {
            asks::reply(&pump, &conn, &asked, started, outcome).await;
            return;
        }
        let outcome = match inputs
            .send(CallEvent::Input {
                request: asked.clone(),
                reply,
            })
            .await
        {
            Ok(()) => answer.await.unwrap_or_else(|_| {
                Err(RpcError::new(-32603, "the client did not answer in time"))
            }),
            Err(_) => Err(RpcError::new(-32603, "the client's call has ended")),
        };
        asks::reply(&pump, &conn, &asked, started, outcome).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_required_results_are_told_apart() {
        let incomplete = Message::response(
            int_id(1),
            raw(
                &json!({"resultType":"input_required","inputRequests":{"a":{"method":"roots/list"}},"requestState":"s"}),
            ),
        );
        let (requests, state) = input_required(&incomplete).unwrap();
        assert!(requests.contains_key("a"));
        assert_eq!(state.as_deref(), Some("s"));
        let complete = Message::response(int_id(1), raw(&json!({"content": []})));
        assert!(input_required(&complete).is_none());
    }
}
