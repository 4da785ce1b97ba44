//! The one path every downstream HTTP request takes.
//!
//! ```text
//! guard (http::guard)  loopback, Host/Origin, body cap, bearer token -> Caller
//! bind      who is asking: the caller's own session (another's is 404), or a
//!           2026-07-28 request bound to itself; era and header checks
//! classify  request / notification / response; params of a standard method
//!           that do not parse are invalid params, on every route
//! decide    profile, pinning, permission, ask, rate limit -> Permit
//! relay     the message as bytes (ids, names on /mcp and progress tokens
//!           re-written), or typed where it must change (merged lists,
//!           bridging eras); what the server says meanwhile goes to the
//!           caller only
//! record    one audit record per exchange (crate::record)
//! ```
//!
//! A request's answer goes back as a one-event SSE stream (an error with an
//! HTTP status of its own as JSON), or as a stream of everything the server
//! said before it (progress, a server's request, a log message) and then it.

mod aggregate;
mod asks;
pub(crate) mod bind;
pub(crate) mod classify;
mod decide;
pub(crate) mod flow_report;
mod lifecycle;
mod methods;
pub(crate) mod offer;
pub(crate) mod refusal;
mod relay;
mod streams;
mod subscriptions;
mod target;
mod tasks;
pub(crate) mod tools_cache;
mod typed;

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    body::Body,
    http::{HeaderValue, Method, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use switchboard_audit::{AuditLog, Direction};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

pub(crate) use bind::Bound;
use refusal::Refusal;

use crate::{
    hub::Hub,
    mcp_headers::SESSION_ID,
    policy::Policy,
    record::Recording,
    route::{Caller, Route},
    session::Sessions,
    wire::{Kind, Message, RawId, RpcError, sse_event},
};

/// Gateway state the pipeline needs.
pub(crate) struct Core {
    pub hub: Arc<Hub>,
    pub sessions: Arc<Sessions>,
    /// Calls of stateless clients parked while they answer the server.
    pub bridge: Arc<crate::bridge::Bridge>,
    pub audit: Arc<AuditLog>,
    pub policy: Arc<Policy>,
    /// Each client's view of the tools on `/mcp`.
    pub tools_cache: tools_cache::ToolsCache,
    /// Tasks by the client that created them.
    pub tasks: tasks::Tasks,
    /// How long list and initialize requests wait for servers still starting.
    pub settle: Duration,
    /// How long a call of a tool not listed yet waits for its server's list.
    pub decide_wait: Duration,
    /// Items after which a merged list page ends (with a cursor to the rest).
    pub page_size: usize,
    /// Requests served without a typed session on either side since start:
    /// relayed to a server as bytes, or answered from the cached merged list.
    pub direct: AtomicU64,
    /// Set when the gateway stops: streams end, calls are cancelled.
    pub shutdown: CancellationToken,
    next_ask: AtomicU64,
}

/// How long the pipeline waits for what.
pub(crate) struct Timing {
    /// For servers still starting (lists, initialize).
    pub settle: Duration,
    /// For the tool list of a server, before a call of a tool it has not
    /// listed is refused.
    pub decide_wait: Duration,
    /// Items after which a merged list page ends.
    pub page_size: usize,
}

impl Core {
    pub fn new(
        hub: Arc<Hub>,
        sessions: Arc<Sessions>,
        audit: Arc<AuditLog>,
        policy: Arc<Policy>,
        timing: Timing,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            hub,
            sessions,
            bridge: Arc::default(),
            audit,
            policy,
            tools_cache: tools_cache::ToolsCache::default(),
            tasks: tasks::Tasks::default(),
            settle: timing.settle,
            decide_wait: timing.decide_wait,
            page_size: timing.page_size.max(1),
            direct: AtomicU64::new(0),
            shutdown,
            next_ask: AtomicU64::new(1),
        }
    }

    /// A fresh id for a request relayed to a client.
    fn ask_id(&self) -> String {
        format!(
            "switchboard-ask-{}",
            self.next_ask.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// What the merged tool list is built from: each ready server's tools.
    pub(crate) fn tool_sources(&self) -> tools_cache::Sources {
        self.hub
            .all()
            .into_iter()
            .filter_map(|up| Some((up.name().to_owned(), up.offered_tools()?)))
            .collect()
    }
}

/// Where the messages of a request that come before its answer go: the
/// request's own response stream.
#[derive(Clone)]
pub(crate) struct Outbox(mpsc::Sender<Message>);

impl Outbox {
    /// Sends one message; false when the client has gone.
    pub async fn send(&self, message: Message) -> bool {
        self.0.send(message).await.is_ok()
    }

    /// Resolves when the client has gone.
    pub async fn closed(&self) {
        self.0.closed().await;
    }

    /// The channel itself (for the approval queue's progress).
    pub fn sender(&self) -> mpsc::Sender<Message> {
        self.0.clone()
    }
}

/// How an exchange ended.
pub(crate) struct Answered {
    /// The answer (None: a stream that ends without one, like a listen).
    pub message: Option<Message>,
    /// The session an `initialize` opened.
    pub session: Option<Arc<str>>,
}

/// Ends sessions idle longer than `idle`, every minute.
pub(crate) async fn reap_sessions(core: Arc<Core>, idle: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
            () = stop.cancelled() => return,
        }
        for session in core.sessions.all() {
            if session.idle_for() > idle {
                tracing::info!(session = session.key, "session idle: closed");
                streams::end(&core, &session).await;
            }
        }
    }
}

/// Serves one MCP request that passed the guard.
pub(crate) async fn serve(core: Arc<Core>, caller: Caller, parts: Parts, body: Bytes) -> Response {
    let served = match parts.method {
        Method::POST => post(core, caller, &parts, body).await,
        Method::GET => streams::open(&core, &caller, &parts).await,
        Method::DELETE => streams::close(&core, &caller, &parts).await,
        _ => Err(Refusal::MethodNotAllowed {
            allow: "GET, POST, DELETE",
        }),
    };
    served.unwrap_or_else(|refusal| refused(&refusal, None, false))
}

/// A refusal as an HTTP response.
pub(crate) fn refused(refusal: &Refusal, id: Option<RawId>, stateless: bool) -> Response {
    let status = refusal.status(stateless);
    let mut response = json(status, Message::error(id, &refusal.error()).to_bytes());
    if let Refusal::MethodNotAllowed { allow } = refusal {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    response
}

fn json(status: StatusCode, body: Bytes) -> Response {
    let mut response = (status, Body::from(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn accepts(parts: &Parts, kinds: &[&str]) -> bool {
    let accept = parts
        .headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    kinds.iter().all(|kind| {
        accept.split(',').any(|entry| {
            let mut pieces = entry.split(';');
            let media = pieces.next().unwrap_or_default().trim();
            let refused = pieces.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            media.eq_ignore_ascii_case(kind) && !refused
        })
    })
}

async fn post(
    core: Arc<Core>,
    caller: Caller,
    parts: &Parts,
    body: Bytes,
) -> Result<Response, Refusal> {
    if !accepts(parts, &["application/json", "text/event-stream"]) {
        return Err(Refusal::NotAcceptable(
            "the client must accept both application/json and text/event-stream",
        ));
    }
    let json_body = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json_body {
        return Err(Refusal::UnsupportedMediaType);
    }
    let message = Message::parse(&body)?;
    let id = message.id.clone();
    let kind = message.kind();
    // A record begun is written even if dropped: it begins only on a refusal.
    let unbound = (kind == Some(Kind::Request)).then(|| caller.clone());
    let bound = match bind::bind(&core, caller, &parts.headers, &message).await {
        Ok(bound) => bound,
        Err((refusal, stateless)) => {
            // Refused before it was bound (a disabled server's endpoint, an
            // unknown session, a version header the endpoint does not speak):
            // recorded like any refused request, with no session.
            if let Some(caller) = unbound {
                let mut record = begin(&core, &caller, &message);
                if let Some(name) = record_name(&message) {
                    record.name(&name);
                }
                refuse(record, &refusal).await;
            }
            return Ok(refused(&refusal, id, stateless));
        }
    };
    Ok(match kind {
        Some(Kind::Request) => request(core, bound, message).await,
        Some(Kind::Notification) => {
            notification(&core, &bound, message).await;
            StatusCode::ACCEPTED.into_response()
        }
        Some(Kind::Response | Kind::Error) => match &bound.who {
            bind::Who::Session(session) => {
                asks::client_answer(session, message);
                StatusCode::ACCEPTED.into_response()
            }
            bind::Who::Stateless(_) | bind::Who::Opening => refused(
                &Refusal::InvalidRequest("a stateless endpoint takes no JSON-RPC responses".into()),
                None,
                true,
            ),
        },
        None => refused(
            &Refusal::Wire(crate::wire::WireError::NotJsonRpc("not a message")),
            id,
            bound.stateless(),
        ),
    })
}

/// What a request not yet bound is about, as the caller named it.
fn record_name(message: &Message) -> Option<String> {
    let params = message.params_value()?;
    params
        .get("name")
        .or_else(|| params.get("uri"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

/// Records `refusal` as the answer to `record`'s request, with the policy
/// decision behind it.
async fn refuse(mut record: Recording, refusal: &Refusal) -> RpcError {
    if let Some((decision, rule)) = refusal.decision() {
        record.decide(decision, rule);
    }
    let error = refusal.error();
    if let Err(e) = record
        .fail(&error, matches!(refusal, Refusal::Cancelled))
        .await
    {
        tracing::error!(error = %e, "refusal not recorded");
    }
    error
}

/// A notification of the client: recorded; a cancel ends the call it names.
/// Nothing a client notifies goes to a server as it is: servers are shared,
/// and a server learns a client's roots by asking within that client's call.
async fn notification(core: &Core, bound: &Bound, message: Message) {
    let mut record = recording(core, bound, &message);
    if let bind::Who::Session(session) = &bound.who {
        #[derive(serde::Deserialize)]
        struct Cancel {
            #[serde(rename = "requestId")]
            id: Box<serde_json::value::RawValue>,
        }
        if message.method() == "notifications/cancelled"
            && let Ok(cancel) = message.params_as::<Cancel>()
            && !session.cancel_call(cancel.id.get())
        {
            tracing::debug!(session = session.key, "cancel of a request not in flight");
        }
    }
    let ok = Message::response(
        crate::wire::int_id(0),
        crate::wire::raw(&serde_json::json!({})),
    );
    if let Err(e) = record.finish(&ok).await {
        tracing::error!(error = %e, "notification not recorded");
    }
}

/// The record of a client's message, begun: who sent it, on which session
/// and endpoint, in which era, with what params.
fn recording(core: &Core, bound: &Bound, message: &Message) -> Recording {
    let mut record = begin(core, &bound.caller, message);
    record.session(bound.session_id());
    record.protocol(bound.version());
    record
}

/// The record of `caller`'s message, begun: who sent it, on which endpoint,
/// with what params.
fn begin(core: &Core, caller: &Caller, message: &Message) -> Recording {
    let mut record = Recording::begin(&core.audit, Direction::ClientToServer, message.method());
    record.client(&caller.client);
    if let Route::Server(server) = &caller.route {
        record.server(server);
    }
    record.request(recorded_params(message));
    record
}

/// A message's params as the audit log keeps them: without `_meta` (the
/// lifecycle and progress plumbing of its protocol era).
fn recorded_params(message: &Message) -> Option<serde_json::Value> {
    let mut params = message.params_value()?;
    if let Some(object) = params.as_object_mut() {
        object.remove("_meta");
    }
    Some(params)
}

/// A request: served by [`exchange`], answered as JSON or as a stream.
async fn request(core: Arc<Core>, bound: Arc<Bound>, message: Message) -> Response {
    let stateless = bound.stateless();
    let (tx, mut rx) = mpsc::channel::<Message>(64);
    let mut served = Box::pin(exchange(core, bound, message, Outbox(tx)));
    tokio::select! {
        biased;
        answered = &mut served => finished(answered, stateless),
        first = rx.recv() => {
            // Something came before the answer: the rest is a stream.
            let (done_tx, done_rx) = oneshot::channel();
            tokio::spawn(async move {
                let _ = done_tx.send(served.await);
            });
            stream(first, rx, done_rx)
        }
    }
}

fn finished(answered: Answered, stateless: bool) -> Response {
    let Some(message) = answered.message else {
        return StatusCode::ACCEPTED.into_response();
    };
    let status = message
        .rpc_error()
        .map_or(StatusCode::OK, |e| refusal::status_of(&e, stateless));
    // An answer goes as a one-event stream, as servers answer (clients take
    // either); an error with its own HTTP status goes as JSON.
    let mut response = if status == StatusCode::OK {
        let mut response = Body::from(sse_event(&message.to_bytes(), None)).into_response();
        sse_headers(response.headers_mut());
        response
    } else {
        json(status, message.to_bytes())
    };
    if let Some(id) = answered.session
        && let Ok(value) = HeaderValue::from_str(&id)
    {
        response.headers_mut().insert(SESSION_ID, value);
    }
    response
}

/// The answer as the stream's last event.
fn last(answered: Result<Answered, oneshot::error::RecvError>) -> Vec<Bytes> {
    match answered {
        Ok(Answered {
            message: Some(m), ..
        }) => vec![sse_event(&m.to_bytes(), None)],
        _ => Vec::new(),
    }
}

fn stream(
    first: Option<Message>,
    rx: mpsc::Receiver<Message>,
    done: oneshot::Receiver<Answered>,
) -> Response {
    enum State {
        Open(mpsc::Receiver<Message>, oneshot::Receiver<Answered>),
        Done,
    }
    let head =
        futures::stream::iter(first.map(|m| Ok::<_, Infallible>(sse_event(&m.to_bytes(), None))));
    let rest = futures::stream::unfold(State::Open(rx, done), |state| async move {
        let State::Open(mut rx, mut done) = state else {
            return None;
        };
        tokio::select! {
            biased;
            message = rx.recv() => match message {
                Some(m) => Some((vec![sse_event(&m.to_bytes(), None)], State::Open(rx, done))),
                // Every sender is gone: the answer is on its way.
                None => Some((last(done.await), State::Done)),
            },
            answered = &mut done => {
                // What was sent before the answer goes first.
                let mut events = Vec::new();
                while let Ok(m) = rx.try_recv() {
                    events.push(sse_event(&m.to_bytes(), None));
                }
                events.extend(last(answered));
                Some((events, State::Done))
            }
        }
    })
    .flat_map(|events| futures::stream::iter(events.into_iter().map(Ok::<_, Infallible>)));
    use futures::StreamExt as _;
    let body = Body::from_stream(head.chain(rest));
    let mut response = body.into_response();
    sse_headers(response.headers_mut());
    response
}

/// The headers of an SSE response.
pub(crate) fn sse_headers(headers: &mut axum::http::HeaderMap) {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
}

/// One request from classification to its recorded answer.
async fn exchange(core: Arc<Core>, bound: Arc<Bound>, message: Message, out: Outbox) -> Answered {
    let id = message.id.clone();
    let method = message.method().to_owned();
    let mut record = recording(&core, &bound, &message);
    let span = switchboard_telemetry::mcp::request_span(
        &method,
        id.as_deref().map(serde_json::value::RawValue::get),
        message
            .params
            .as_deref()
            .map(serde_json::value::RawValue::get),
    );
    record.trace(span.clone());
    let served = match classify::classify(&bound, message) {
        Ok(request) => {
            methods::serve(&core, &bound, request, &mut record, &out)
                .instrument(span)
                .await
        }
        Err(refusal) => Err(refusal),
    };
    let mut session = None;
    let answer = match served {
        Ok(methods::Served::Answer(mut answer)) => {
            answer.id = id;
            typed::complete_for(&bound, &method, &mut answer);
            match record.finish(&answer).await {
                Ok(()) => answer,
                Err(e) => {
                    tracing::error!(error = %e, "unrecorded answer withheld");
                    let refusal = Refusal::NotRecorded(e.to_string());
                    Message::error(answer.id, &refusal.error())
                }
            }
        }
        Ok(methods::Served::Opened(mut answer, opened)) => {
            session = Some(opened);
            answer.id = id;
            if let Err(e) = record.finish(&answer).await {
                tracing::error!(error = %e, "initialize not recorded");
            }
            answer
        }
        Ok(methods::Served::Stream) => {
            drop(record);
            return Answered {
                message: None,
                session: None,
            };
        }
        Err(refusal) => Message::error(id, &refuse(record, &refusal).await),
    };
    Answered {
        message: Some(answer),
        session,
    }
}
