//! A connection to one server at the JSON-RPC message level.
//!
//! Three links carry the messages: a stdio pipe (one line per message), the
//! legacy HTTP+SSE transport (POSTs out, one event stream in) and streamable
//! HTTP (a POST per message, each request answered on its own response). On
//! every link the connection's [`Mux`] knows the requests in flight by the ids
//! the gateway gave them, so the calls of every client share the connection.

use std::sync::{
    Arc, Mutex, OnceLock,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    UpstreamError,
    http::{HttpLink, Posted},
    mux::{CallTag, Events, Inbound, Mux, Ticket},
    sse::Poster,
};
use crate::{
    mcp_headers::LIFECYCLE,
    wire::{Kind, Message, RpcError, int_id, raw},
};

/// How the server speaks, once the handshake is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Era {
    /// The protocol version agreed on.
    pub version: String,
    /// 2026-07-28 or later: every request carries its lifecycle in `_meta`.
    pub stateless: bool,
}

enum Link {
    Pipe(mpsc::Sender<Bytes>),
    Sse(Arc<Poster>),
    Http(Arc<HttpLink>),
}

/// One connection to a server.
pub(crate) struct Conn {
    server: Arc<str>,
    mux: Arc<Mux>,
    link: Link,
    ended: CancellationToken,
    why: Mutex<Option<String>>,
    era: OnceLock<Era>,
    /// Sessions renewed so far, and whether a renewal is under way.
    renewed: AtomicU64,
    renewing: AtomicBool,
    renewal: tokio::sync::Notify,
}

/// What the gateway declares about itself to servers it opens sessions with.
pub(crate) fn gateway_capabilities() -> Value {
    json!({ "elicitation": {}, "roots": { "listChanged": true }, "sampling": {} })
}

/// The gateway's identity towards servers.
pub(crate) fn gateway_info() -> Value {
    json!({ "name": "switchboard", "version": env!("CARGO_PKG_VERSION") })
}

impl Conn {
    fn new(server: &str, events: Arc<dyn Events>, link: Link) -> Arc<Self> {
        Arc::new(Self {
            server: server.into(),
            mux: Mux::new(events),
            link,
            ended: CancellationToken::new(),
            why: Mutex::new(None),
            era: OnceLock::new(),
            renewed: AtomicU64::new(0),
            renewing: AtomicBool::new(false),
            renewal: tokio::sync::Notify::new(),
        })
    }

    /// A connection over a child's stdout/stdin.
    pub fn pipe(
        server: &str,
        events: Arc<dyn Events>,
        stdout: tokio::process::ChildStdout,
        stdin: tokio::process::ChildStdin,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::channel::<Bytes>(256);
        let conn = Self::new(server, events, Link::Pipe(tx));
        tokio::spawn(super::pipe::write_pipe(conn.clone(), stdin, rx));
        tokio::spawn(super::pipe::read_pipe(conn.clone(), stdout));
        conn
    }

    /// A connection over the legacy HTTP+SSE transport, whose event stream is open.
    pub fn sse(
        server: &str,
        events: Arc<dyn Events>,
        poster: Arc<Poster>,
        stream: super::sse::EventStream,
    ) -> Arc<Self> {
        let conn = Self::new(server, events, Link::Sse(poster));
        tokio::spawn(read_sse(conn.clone(), stream));
        conn
    }

    /// A connection over streamable HTTP.
    pub fn http(server: &str, events: Arc<dyn Events>, link: Arc<HttpLink>) -> Arc<Self> {
        Self::new(server, events, Link::Http(link))
    }

    /// The server's name.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Records the era the handshake agreed on.
    pub(super) fn set_era(&self, era: Era) {
        if let Link::Http(link) = &self.link {
            link.set_era(&era);
        }
        let _ = self.era.set(era);
    }

    /// Whether the server speaks 2026-07-28 (no sessions).
    pub fn stateless(&self) -> bool {
        self.era.get().is_some_and(|e| e.stateless)
    }

    /// The HTTP link, for a streamable HTTP server.
    pub(super) fn http_link(&self) -> Option<&Arc<HttpLink>> {
        match &self.link {
            Link::Http(link) => Some(link),
            _ => None,
        }
    }

    /// Hands messages the server sent outside any request's stream to the mux.
    pub(super) fn mux(&self) -> &Arc<Mux> {
        &self.mux
    }

    /// Resolves once the connection has ended.
    pub async fn ended(&self) {
        self.ended.cancelled().await;
    }

    /// Whether the connection has ended.
    pub fn is_ended(&self) -> bool {
        self.ended.is_cancelled()
    }

    /// Why the connection ended, once it has.
    pub fn end_reason(&self) -> Option<String> {
        self.why.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Ends the connection: requests in flight see the end.
    pub fn end(&self, why: impl Into<String>) {
        {
            let mut slot = self.why.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                *slot = Some(why.into());
            }
        }
        self.mux.close();
        self.ended.cancel();
    }

    /// Registers a request (see [`Mux::begin`]).
    pub fn begin(&self, tag: Option<CallTag>, progress: bool) -> Ticket {
        self.mux.begin(tag, progress)
    }

    /// Sends a request registered as `ticket`; the server's answer and what
    /// it says meanwhile come from the returned exchange. `schema` is the
    /// called tool's input schema (for a 2026-07-28 server's headers).
    pub async fn send(
        self: &Arc<Self>,
        ticket: Ticket,
        message: &Message,
        schema: Option<&Map<String, Value>>,
    ) -> Result<Exchange, UpstreamError> {
        if self.is_ended() {
            return Err(UpstreamError::Closed {
                server: self.server.to_string(),
            });
        }
        let bytes = message.to_bytes();
        let body = match &self.link {
            Link::Pipe(tx) => {
                self.write(tx, bytes).await?;
                None
            }
            Link::Sse(poster) => {
                poster.post(bytes).await.map_err(|e| self.sse_error(e))?;
                None
            }
            Link::Http(link) => {
                let generation = self.renewed.load(Ordering::Acquire);
                let posted = match link.post(bytes.clone(), message, schema).await {
                    Err(UpstreamError::Expired { .. }) => {
                        self.renew(generation).await?;
                        link.post(bytes, message, schema).await?
                    }
                    posted => posted?,
                };
                match posted {
                    Posted::Accepted => None,
                    Posted::Answer(answer) => Some(Body::One(Some(answer))),
                    Posted::Stream(stream) => Some(Body::Stream(stream)),
                }
            }
        };
        Ok(Exchange {
            conn: self.clone(),
            ticket,
            body,
            finished: false,
        })
    }

    /// Sends a notification or an answer to one of the server's requests.
    pub async fn post(&self, message: &Message) -> Result<(), UpstreamError> {
        let bytes = message.to_bytes();
        match &self.link {
            Link::Pipe(tx) => self.write(tx, bytes).await,
            Link::Sse(poster) => poster.post(bytes).await.map_err(|e| self.sse_error(e)),
            Link::Http(link) => match link.post(bytes, message, None).await {
                // An answer or notification for an expired session has
                // nobody left to hear it.
                Ok(_) | Err(UpstreamError::Expired { .. }) => Ok(()),
                Err(e) => Err(e),
            },
        }
    }

    /// Opens a new session after the server forgot the one a request used
    /// (seen at `generation`); concurrent requests share one renewal.
    async fn renew(self: &Arc<Self>, generation: u64) -> Result<(), UpstreamError> {
        loop {
            if self.renewed.load(Ordering::Acquire) != generation {
                return Ok(());
            }
            let done = self.renewal.notified();
            if !self.renewing.swap(true, Ordering::AcqRel) {
                let result = Box::pin(super::handshake::reinitialize(self)).await;
                self.renewed.fetch_add(1, Ordering::AcqRel);
                self.renewing.store(false, Ordering::Release);
                self.renewal.notify_waiters();
                tracing::info!(server = %self.server, "session expired; opened a new one");
                return result.map_err(|detail| UpstreamError::Send {
                    server: self.server.to_string(),
                    detail,
                });
            }
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), done).await;
        }
    }

    async fn write(&self, tx: &mpsc::Sender<Bytes>, bytes: Bytes) -> Result<(), UpstreamError> {
        tx.send(bytes).await.map_err(|_| UpstreamError::Closed {
            server: self.server.to_string(),
        })
    }

    /// A legacy server's POST failed: sign-in errors stay what they are.
    fn sse_error(&self, e: super::sse::SseTransportError) -> UpstreamError {
        match e {
            super::sse::SseTransportError::Auth(e) => e,
            e => self.transport(e.to_string()),
        }
    }

    fn transport(&self, detail: String) -> UpstreamError {
        UpstreamError::Send {
            server: self.server.to_string(),
            detail,
        }
    }

    /// `_meta` lifecycle keys for a request to a 2026-07-28 server, with the
    /// capabilities of whoever the request is for.
    pub fn lifecycle(&self, capabilities: Value) -> Option<Map<String, Value>> {
        let era = self.era.get().filter(|e| e.stateless)?;
        let mut meta = Map::new();
        meta.insert(
            LIFECYCLE.protocol_version.into(),
            Value::String(era.version.clone()),
        );
        meta.insert(LIFECYCLE.client_info.into(), gateway_info());
        meta.insert(LIFECYCLE.client_capabilities.into(), capabilities);
        Some(meta)
    }

    /// A request of the gateway's own (lists, subscriptions, the handshake):
    /// its answer. Requests of the server meanwhile are refused: no client
    /// asked for this.
    pub async fn request(
        self: &Arc<Self>,
        method: &str,
        params: Map<String, Value>,
    ) -> Result<Message, UpstreamError> {
        let ticket = self.begin(None, false);
        let mut params = params;
        if let Some(meta) = self.lifecycle(gateway_capabilities()) {
            let slot = params
                .entry("_meta")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(existing) = slot {
                existing.extend(meta);
            }
        }
        let message = Message::request(int_id(ticket.id), method, Some(raw(&params)));
        let mut exchange = self.send(ticket, &message, None).await?;
        loop {
            match exchange.next().await {
                Some(Inbound::Answer(answer)) => return Ok(answer),
                Some(Inbound::Request(asked)) => {
                    let error = RpcError::new(
                        -32600,
                        format!(
                            "{} arrived during the gateway's own {method}",
                            asked.method()
                        ),
                    );
                    let _ = self.post(&Message::error(asked.id, &error)).await;
                }
                Some(Inbound::Progress(_) | Inbound::Notice(_)) => {}
                None => {
                    return Err(UpstreamError::Closed {
                        server: self.server.to_string(),
                    });
                }
            }
        }
    }

    /// [`Self::request`] with the result read as `T`; an error answer is
    /// [`CallError::Rpc`].
    pub async fn call<T: serde::de::DeserializeOwned>(
        self: &Arc<Self>,
        method: &str,
        params: Map<String, Value>,
    ) -> Result<T, CallError> {
        let answer = self.request(method, params).await?;
        if let Some(error) = answer.rpc_error() {
            return Err(CallError::Rpc(error));
        }
        answer.result_as().ok_or_else(|| {
            CallError::Upstream(UpstreamError::Protocol {
                server: self.server.to_string(),
                detail: format!("unexpected answer to {method}"),
            })
        })
    }
}

/// Why a request of the gateway's own failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    /// The server could not be reached or did not answer.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The server answered with an error.
    #[error("{}", .0.message)]
    Rpc(RpcError),
}

enum Body {
    /// A JSON answer, until taken.
    One(Option<Message>),
    /// The request's SSE answer.
    Stream(super::streams::Stream),
}

/// One request in flight: what the server says about it, in order.
pub(crate) struct Exchange {
    conn: Arc<Conn>,
    ticket: Ticket,
    body: Option<Body>,
    /// The answer came, or the server was told the request is abandoned.
    finished: bool,
}

impl Exchange {
    /// The connection it went out on.
    pub fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }

    /// The next thing the server said about the request; None when the
    /// connection (or the request's own stream) ended without an answer.
    pub async fn next(&mut self) -> Option<Inbound> {
        let next = self.read().await;
        if matches!(next, None | Some(Inbound::Answer(_))) {
            self.finished = true;
        }
        next
    }

    async fn read(&mut self) -> Option<Inbound> {
        loop {
            let read = match &mut self.body {
                None => return self.ticket.recv().await,
                Some(Body::One(answer)) => match answer.take() {
                    Some(message) => Some(message),
                    None => {
                        self.body = None;
                        continue;
                    }
                },
                Some(Body::Stream(stream)) => {
                    tokio::select! {
                        biased;
                        inbound = self.ticket.recv() => return inbound,
                        message = stream.next() => match message {
                            Some(message) => Some(message),
                            None => {
                                // The request's own stream ended: its answer can
                                // still come another way only on a session.
                                self.body = None;
                                if self.conn.stateless() || !self.conn.has_other_stream() {
                                    return None;
                                }
                                continue;
                            }
                        },
                    }
                }
            };
            if let Some(message) = read {
                let conn = self.conn.clone();
                if let Some(inbound) = classify(conn, self.ticket.id, message).await {
                    return Some(inbound);
                }
            }
        }
    }

    /// Tells the server the request is abandoned: a 2026-07-28 server by
    /// closing the request, others with `notifications/cancelled`.
    pub async fn cancel(mut self, reason: &str) {
        self.finished = true;
        self.body = None;
        if !self.conn.stateless() {
            cancel(&self.conn, self.ticket.id, reason).await;
        }
    }
}

async fn cancel(conn: &Conn, id: u64, reason: &str) {
    let cancel = Message::notification(
        "notifications/cancelled",
        Some(raw(&json!({ "requestId": id, "reason": reason }))),
    );
    if let Err(e) = conn.post(&cancel).await {
        tracing::debug!(server = conn.server(), error = %e, "cancel not delivered");
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        // Dropped before its answer: whoever waited for it is gone. A
        // 2026-07-28 server hears it as the request's connection closing.
        if self.finished || self.conn.stateless() || self.conn.is_ended() {
            return;
        }
        let (conn, id) = (self.conn.clone(), self.ticket.id);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { cancel(&conn, id, "cancelled by the client").await });
        }
    }
}

/// Sorts a message read on request `ticket`'s own stream.
async fn classify(conn: Arc<Conn>, ticket: u64, message: Message) -> Option<Inbound> {
    let id = ticket.to_string();
    match message.kind()? {
        Kind::Response | Kind::Error if message.id_text() == Some(id.as_str()) => {
            Some(Inbound::Answer(message))
        }
        // An error the server could not tie to a request, on this
        // request's own stream, is this request's.
        Kind::Error if message.id.is_none() => {
            let mut message = message;
            message.id = Some(int_id(ticket));
            Some(Inbound::Answer(message))
        }
        Kind::Notification if message.method() == "notifications/progress" => {
            Some(Inbound::Progress(message))
        }
        Kind::Notification => Some(Inbound::Notice(message)),
        Kind::Request if message.method() == "ping" => {
            let reply = message
                .id
                .clone()
                .map(|id| Message::response(id, raw(&json!({}))));
            if let Some(reply) = reply {
                let _ = conn.post(&reply).await;
            }
            None
        }
        Kind::Request => Some(Inbound::Request(message)),
        Kind::Response | Kind::Error => {
            // Someone else's answer on this stream: route it as if it had
            // come outside any request.
            let _ = conn.mux.dispatch(message);
            None
        }
    }
}

impl Conn {
    /// Whether answers can come on another stream than the request's own
    /// (stdio and legacy SSE have one stream; a session's GET stream too).
    fn has_other_stream(&self) -> bool {
        match &self.link {
            Link::Pipe(_) | Link::Sse(_) => true,
            Link::Http(link) => link.has_standalone_stream(),
        }
    }
}

/// Hands one message the server wrote to the mux, and answers what the mux
/// answers (pings, refused requests).
pub(super) async fn deliver(conn: &Arc<Conn>, bytes: &[u8]) {
    let message = match Message::parse(bytes) {
        Ok(message) => message,
        Err(e) => {
            // Servers print banners and logs to stdout by mistake.
            tracing::debug!(server = conn.server(), error = %e, "skipping a line that is not a message");
            return;
        }
    };
    if let Some(reply) = conn.mux.dispatch(message)
        && let Err(e) = conn.post(&reply).await
    {
        tracing::debug!(server = conn.server(), error = %e, "reply not delivered");
    }
}

async fn read_sse(conn: Arc<Conn>, mut stream: super::sse::EventStream) {
    loop {
        let next = tokio::select! {
            next = stream.next_messages() => next,
            () = conn.ended.cancelled() => return,
        };
        let Some(messages) = next else {
            conn.end("the server's event stream ended");
            return;
        };
        for message in messages {
            if let Some(reply) = conn.mux.dispatch(message)
                && let Err(e) = conn.post(&reply).await
            {
                tracing::debug!(server = conn.server(), error = %e, "reply not delivered");
            }
        }
    }
}
