//! The client side's live state: sessions (2025-11-25 and older), listen
//! streams and requests in flight of 2026-07-28 clients, and what each of
//! them may hear.
//!
//! A session belongs to the client and endpoint that opened it; the
//! pipeline's bind stage finds it only for that caller. Its locks are plain
//! mutexes held for map lookups, never across an `.await`.
#![expect(deprecated, reason = "logging is still part of 2025-11-25")]

pub(crate) mod caps;
mod fanout;

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    sync::{
        Arc, Mutex, MutexGuard, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use rmcp::model::{ClientCapabilities, LoggingLevel};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub(crate) use caps::{Caps, Held, OverCap, SESSIONS_PER_CLIENT, Slot};
pub(crate) use fanout::Downstream;

use crate::{route::Caller, wire::Message};

/// Identifies one downstream session (or stateless request) inside the gateway.
pub type SessionKey = u64;

/// Messages a session's GET stream keeps while no stream is open.
const BACKLOG: usize = 64;
/// Messages waiting for a slow stream before more are dropped.
const STREAM_BUFFER: usize = 256;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves only plain maps behind;
    // they stay usable, so recover instead of poisoning the whole gateway.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A session of a 2025-11-25 (or older) client.
pub(crate) struct Session {
    /// The gateway's key.
    pub key: SessionKey,
    /// The `Mcp-Session-Id` the client sends.
    pub id: Arc<str>,
    /// Who opened it, through which endpoint.
    pub caller: Caller,
    /// The protocol version agreed on.
    pub version: String,
    /// What the client declared.
    pub capabilities: ClientCapabilities,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    log_level: Option<LoggingLevel>,
    subscriptions: HashSet<(String, String)>,
    last_seen: Option<Instant>,
    /// The open GET stream.
    stream: Option<mpsc::Sender<Bytes>>,
    /// What arrived while no GET stream was open.
    backlog: VecDeque<Bytes>,
    next_event: u64,
    /// Calls in flight, by the client's request id (as JSON text).
    calls: HashMap<String, CancellationToken>,
    /// Requests relayed to the client, waiting for its answer, by the id
    /// the client sees.
    asks: HashMap<String, oneshot::Sender<Message>>,
}

impl Session {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Marks the session as used now.
    pub fn touch(&self) {
        self.state().last_seen = Some(Instant::now());
    }

    /// How long since the session was last used.
    pub fn idle_for(&self) -> Duration {
        self.state()
            .last_seen
            .map_or(Duration::ZERO, |t| t.elapsed())
    }

    /// The level the client asked for with `logging/setLevel`.
    pub fn log_level(&self) -> Option<LoggingLevel> {
        self.state().log_level
    }

    /// Sets the level the client wants log messages from.
    pub fn set_log_level(&self, level: LoggingLevel) {
        self.state().log_level = Some(level);
    }

    /// Whether a log message of `level` passes the client's level.
    pub fn hears_level(&self, level: LoggingLevel) -> bool {
        self.log_level().is_none_or(|min| rank(level) >= rank(min))
    }

    /// Sends a message outside any call: on the GET stream when one is open,
    /// else kept (a few) for the next one.
    pub fn send(&self, message: &Message) {
        let mut state = self.state();
        state.next_event += 1;
        let event =
            crate::wire::sse_event(&message.to_bytes(), Some(&format!("s{}", state.next_event)));
        if let Some(tx) = &state.stream {
            match tx.try_send(event) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::debug!(session = self.key, "GET stream is full; message dropped");
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(event)) => {
                    state.stream = None;
                    push_backlog(&mut state.backlog, event);
                    return;
                }
            }
        }
        push_backlog(&mut state.backlog, event);
    }

    /// Opens the session's GET stream (replacing an earlier one), with what
    /// arrived while none was open.
    pub fn open_stream(&self) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let mut state = self.state();
        for event in state.backlog.drain(..) {
            let _ = tx.try_send(event);
        }
        state.stream = Some(tx);
        rx
    }

    /// Registers a call in flight; cancelling it by the client's request id
    /// sets the token. The registration ends when the guard drops.
    pub fn track_call(self: &Arc<Self>, id: &str) -> (CancellationToken, CallGuard) {
        let token = CancellationToken::new();
        self.state().calls.insert(id.to_owned(), token.clone());
        (
            token,
            CallGuard {
                session: self.clone(),
                id: id.to_owned(),
            },
        )
    }

    /// The client cancelled its request `id`; true when it was in flight.
    pub fn cancel_call(&self, id: &str) -> bool {
        match self.state().calls.get(id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Expects the client's answer to a request relayed under `id` (its
    /// JSON text, as [`Message::id_text`] gives it).
    pub fn expect_answer(&self, id: &str) -> oneshot::Receiver<Message> {
        let (tx, rx) = oneshot::channel();
        self.state().asks.insert(id.to_owned(), tx);
        rx
    }

    /// Forgets an expected answer (the call ended first).
    pub fn forget_answer(&self, id: &str) {
        self.state().asks.remove(id);
    }

    /// Hands over the client's answer to a relayed request; false when no
    /// request of this session waits under that id.
    pub fn answer(&self, message: Message) -> bool {
        let Some(id) = message.id_text().map(str::to_owned) else {
            return false;
        };
        let waiting = self.state().asks.remove(&id);
        match waiting {
            Some(tx) => tx.send(message).is_ok(),
            None => false,
        }
    }
}

fn push_backlog(backlog: &mut VecDeque<Bytes>, event: Bytes) {
    if backlog.len() >= BACKLOG {
        backlog.pop_front();
    }
    backlog.push_back(event);
}

/// Keeps a call registered with its session while it runs.
pub(crate) struct CallGuard {
    session: Arc<Session>,
    id: String,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.session.state().calls.remove(&self.id);
    }
}

/// What a 2026-07-28 client's `subscriptions/listen` stream accepted.
#[derive(Debug, Clone, Default)]
pub(crate) struct Accepted {
    pub tools: bool,
    pub prompts: bool,
    pub resources: bool,
    /// (server, uri as the server names it) -> the URI as the client named it.
    pub resources_updated: BTreeMap<(String, String), String>,
}

/// One open listen stream.
pub(crate) struct Listen {
    pub key: SessionKey,
    pub caller: Caller,
    /// The listen request's id, as JSON text (the subscription id).
    pub subscription: Box<serde_json::value::RawValue>,
    pub accepted: Accepted,
    pub tx: mpsc::Sender<Message>,
}

/// Every live session and listen stream.
#[derive(Default)]
pub(crate) struct Sessions {
    /// What each client holds open, against its ceilings.
    pub caps: Arc<Caps>,
    next_key: AtomicU64,
    by_id: RwLock<HashMap<Arc<str>, Arc<Session>>>,
    listens: Mutex<HashMap<SessionKey, Arc<Listen>>>,
    /// Stateless requests in flight, by protocol version (for the status).
    requests: Mutex<BTreeMap<String, usize>>,
    /// Stateless requests in flight that asked for log messages.
    log_requests: Mutex<HashMap<SessionKey, LogRequest>>,
}

/// A 2026-07-28 request that hears log messages while it runs.
pub(crate) struct LogRequest {
    pub caller: Caller,
    pub level: LoggingLevel,
    /// The request's own stream.
    pub tx: mpsc::Sender<Message>,
}

/// Keeps a request among those hearing log messages while it runs.
pub(crate) struct LogGuard {
    sessions: Arc<Sessions>,
    key: SessionKey,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        lock(&self.sessions.log_requests).remove(&self.key);
    }
}

/// A stateless request counted while it is served.
pub(crate) struct RequestGuard {
    sessions: Arc<Sessions>,
    version: String,
    /// The key it is known by while it runs.
    pub key: SessionKey,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut requests = lock(&self.sessions.requests);
        if let Some(n) = requests.get_mut(&self.version) {
            *n -= 1;
            if *n == 0 {
                requests.remove(&self.version);
            }
        }
    }
}

impl Sessions {
    /// A fresh key.
    pub fn key(&self) -> SessionKey {
        self.next_key.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Opens a session for `caller`.
    pub fn open(
        &self,
        caller: Caller,
        version: String,
        capabilities: ClientCapabilities,
    ) -> Arc<Session> {
        let id: Arc<str> = uuid::Uuid::new_v4().to_string().into();
        let session = Arc::new(Session {
            key: self.key(),
            id: id.clone(),
            caller,
            version,
            capabilities,
            state: Mutex::default(),
        });
        session.touch();
        self.by_id
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, session.clone());
        session
    }

    /// The least recently used session of `client` when it holds as many as
    /// one client may: the one to end before it opens another.
    pub fn to_evict(&self, client: &str) -> Option<Arc<Session>> {
        let by_id = self.by_id.read().unwrap_or_else(|e| e.into_inner());
        let mine: Vec<&Arc<Session>> = by_id
            .values()
            .filter(|s| s.caller.client == client)
            .collect();
        if mine.len() < SESSIONS_PER_CLIENT {
            return None;
        }
        mine.into_iter().max_by_key(|s| s.idle_for()).cloned()
    }

    /// The session `id` of `caller`: another caller's session is as unknown
    /// as a session that never existed (a session id is not a credential).
    pub fn find(&self, id: &str, caller: &Caller) -> Option<Arc<Session>> {
        let session = self
            .by_id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()?;
        (session.caller == *caller).then_some(session)
    }

    /// Ends a session; returns the resource subscriptions nobody else holds.
    pub fn close(&self, session: &Session) -> Vec<(String, String)> {
        self.by_id
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&session.id);
        let subscriptions: Vec<_> = {
            let mut state = session.state();
            // Its GET stream ends with it.
            state.stream = None;
            state.subscriptions.drain().collect()
        };
        subscriptions
            .into_iter()
            .filter(|sub| !self.is_subscribed(sub))
            .collect()
    }

    /// Every live session.
    pub fn all(&self) -> Vec<Arc<Session>> {
        self.by_id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn is_subscribed(&self, sub: &(String, String)) -> bool {
        self.all()
            .iter()
            .any(|s| s.state().subscriptions.contains(sub))
            || lock(&self.listens)
                .values()
                .any(|l| l.accepted.resources_updated.contains_key(sub))
    }

    /// Records a session's subscription; true when nobody held it before.
    pub fn subscribe(&self, session: &Session, server: &str, uri: &str) -> bool {
        let sub = (server.to_owned(), uri.to_owned());
        let first = !self.is_subscribed(&sub);
        session.state().subscriptions.insert(sub);
        first
    }

    /// Drops a session's subscription; true when nobody holds it now.
    pub fn unsubscribe(&self, session: &Session, server: &str, uri: &str) -> bool {
        let sub = (server.to_owned(), uri.to_owned());
        session.state().subscriptions.remove(&sub);
        !self.is_subscribed(&sub)
    }

    /// Whether `session` subscribed to `uri` of `server`.
    pub fn subscribed(session: &Session, server: &str, uri: &str) -> bool {
        session
            .state()
            .subscriptions
            .contains(&(server.to_owned(), uri.to_owned()))
    }

    /// Registers a listen stream; returns the (server, uri) pairs nobody
    /// held before.
    pub fn listen(&self, listen: Arc<Listen>) -> Vec<(String, String)> {
        let fresh = listen
            .accepted
            .resources_updated
            .keys()
            .filter(|sub| !self.is_subscribed(sub))
            .cloned()
            .collect();
        lock(&self.listens).insert(listen.key, listen);
        fresh
    }

    /// Ends a listen stream; returns the subscriptions nobody holds any more.
    pub fn unlisten(&self, key: SessionKey) -> Vec<(String, String)> {
        let Some(listen) = lock(&self.listens).remove(&key) else {
            return Vec::new();
        };
        listen
            .accepted
            .resources_updated
            .keys()
            .filter(|sub| !self.is_subscribed(sub))
            .cloned()
            .collect()
    }

    /// Every open listen stream.
    pub fn listens(&self) -> Vec<Arc<Listen>> {
        lock(&self.listens).values().cloned().collect()
    }

    /// Lets a stateless request hear the log messages of the servers it may
    /// see (from `level` up) while the guard lives.
    pub fn hear_logs(self: &Arc<Self>, key: SessionKey, request: LogRequest) -> LogGuard {
        lock(&self.log_requests).insert(key, request);
        LogGuard {
            sessions: self.clone(),
            key,
        }
    }

    /// The stateless requests hearing log messages now.
    pub fn log_requests(&self) -> Vec<(Caller, LoggingLevel, mpsc::Sender<Message>)> {
        lock(&self.log_requests)
            .values()
            .map(|r| (r.caller.clone(), r.level, r.tx.clone()))
            .collect()
    }

    /// Counts a stateless request while it is served.
    pub fn request(self: &Arc<Self>, version: &str) -> RequestGuard {
        *lock(&self.requests).entry(version.to_owned()).or_insert(0) += 1;
        RequestGuard {
            sessions: self.clone(),
            version: version.to_owned(),
            key: self.key(),
        }
    }

    /// Live sessions, listen streams and stateless requests.
    pub fn count(&self) -> usize {
        self.by_id.read().unwrap_or_else(|e| e.into_inner()).len()
            + lock(&self.listens).len()
            + lock(&self.requests).values().sum::<usize>()
    }

    /// How many of them speak each protocol version.
    pub fn by_version(&self) -> BTreeMap<String, usize> {
        let mut out = lock(&self.requests).clone();
        for s in self.all() {
            *out.entry(s.version.clone()).or_insert(0) += 1;
        }
        let listens = lock(&self.listens).len();
        if listens > 0 {
            *out.entry(crate::mcp_headers::STATELESS_VERSION.to_owned())
                .or_insert(0) += listens;
        }
        out
    }
}

/// A read-only view of the live client sessions, for status displays.
#[derive(Clone)]
pub struct SessionsView(pub(crate) Arc<Sessions>);

impl SessionsView {
    /// How many live sessions speak each protocol version (a 2026-07-28
    /// client counts per open request or listen stream).
    pub fn by_version(&self) -> BTreeMap<String, usize> {
        self.0.by_version()
    }
}

/// Severity order of MCP log levels (RFC 5424, least severe first).
pub(crate) fn rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::Route;

    fn caller(client: &str) -> Caller {
        Caller {
            client: client.into(),
            route: Route::Server("ev".into()),
        }
    }

    #[test]
    fn a_session_is_found_only_by_its_own_caller() {
        let sessions = Sessions::default();
        let a = sessions.open(caller("a"), "2025-11-25".into(), Default::default());
        assert!(sessions.find(&a.id, &caller("a")).is_some());
        assert!(
            sessions.find(&a.id, &caller("b")).is_none(),
            "another client"
        );
        let other_route = Caller {
            client: "a".into(),
            route: Route::All,
        };
        assert!(
            sessions.find(&a.id, &other_route).is_none(),
            "another endpoint"
        );
        assert!(sessions.find("guessed", &caller("a")).is_none());
    }

    #[test]
    fn subscriptions_are_released_by_the_last_holder() {
        let sessions = Sessions::default();
        let a = sessions.open(caller("a"), "2025-11-25".into(), Default::default());
        let b = sessions.open(caller("b"), "2025-11-25".into(), Default::default());
        assert!(sessions.subscribe(&a, "ev", "x://1"));
        assert!(!sessions.subscribe(&b, "ev", "x://1"));
        assert!(!sessions.unsubscribe(&a, "ev", "x://1"));
        assert_eq!(
            sessions.close(&b),
            vec![("ev".to_owned(), "x://1".to_owned())]
        );
    }

    #[tokio::test]
    async fn messages_wait_for_the_stream() {
        let sessions = Sessions::default();
        let a = sessions.open(caller("a"), "2025-11-25".into(), Default::default());
        a.send(&Message::notification(
            "notifications/tools/list_changed",
            None,
        ));
        let mut rx = a.open_stream();
        let event = rx.recv().await.unwrap();
        assert!(
            std::str::from_utf8(&event)
                .unwrap()
                .contains("list_changed")
        );
    }
}
