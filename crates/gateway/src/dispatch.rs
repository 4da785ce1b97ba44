//! Live links between downstream sessions and upstream calls.
//!
//! Upstream servers are shared by every client session, so whatever an
//! upstream sends on its own (progress, server->client requests, resource
//! updates, list changes, log messages) has to be routed back to the right
//! session(s). This registry answers "who is this for?". Its locks are plain
//! mutexes held only for map lookups, never across an `.await`.
#![expect(deprecated, reason = "logging is still part of 2025-11-25")]

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, MutexGuard, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use rmcp::{
    RoleServer,
    model::{
        ClientCapabilities, LoggingLevel, LoggingMessageNotificationParam, ProgressToken,
        RequestId, ResourceUpdatedNotificationParam, ServerNotification,
    },
    service::{Peer, SubscriptionSink},
};

use crate::route::Route;

/// A read-only view of the live client sessions, for status displays.
#[derive(Clone)]
pub struct Sessions(pub(crate) Arc<Dispatch>);

impl Sessions {
    /// How many live sessions speak each protocol version (a 2026-07-28
    /// client counts per open request or listen stream).
    pub fn by_version(&self) -> std::collections::BTreeMap<String, usize> {
        self.0.session_versions()
    }
}

/// Identifies one downstream session inside the gateway.
pub type SessionKey = u64;

/// How a downstream session hears about things nobody asked for in a call.
#[derive(Clone)]
pub(crate) enum Channel {
    /// A session of 2025-11-25 or older: notifications go to its peer.
    Session,
    /// One stateless 2026-07-28 request: it hears only about itself (progress,
    /// its own log messages), never about list changes.
    Request,
    /// A 2026-07-28 `subscriptions/listen` stream: what its filter accepted.
    Listen(SubscriptionSink),
}

/// What the gateway keeps about a live downstream session.
pub(crate) struct SessionEntry {
    pub peer: Peer<RoleServer>,
    pub channel: Channel,
    /// Protocol version the client speaks.
    pub protocol_version: String,
    pub route: Route,
    pub capabilities: ClientCapabilities,
    pub subscriptions: HashSet<(String, String)>,
    pub log_level: Option<LoggingLevel>,
    pub last_call: Instant,
    /// The id rmcp gave the session on HTTP, once a request showed it.
    pub http_session: Option<Arc<str>>,
    /// Log messages on their way to a stateless request, which waits for
    /// them before it answers (its stream ends with the answer).
    pub relays: Arc<ProgressRelays>,
}

/// One downstream call that is being served by an upstream request.
#[derive(Debug)]
pub(crate) struct CallLink {
    pub peer: Peer<RoleServer>,
    /// The client's name (for the audit log).
    pub client: String,
    pub downstream_id: RequestId,
    pub downstream_token: Option<ProgressToken>,
    /// The upstream request serving this call: set the moment it is sent
    /// (see [`crate::upstream`]'s transport watch), so nothing the server
    /// says about it can arrive before the call is known by its id.
    pub upstream: OnceLock<UpstreamRequest>,
    pub capabilities: ClientCapabilities,
    /// Progress notifications received for this call and not yet relayed.
    pub relaying: Arc<ProgressRelays>,
    /// For calls of 2026-07-28 clients: where the server's requests for input
    /// go (they become an `InputRequiredResult`, see [`crate::bridge`]).
    pub inputs: Option<crate::bridge::Inputs>,
}

/// How the upstream knows the request serving a call.
#[derive(Debug, Clone)]
pub(crate) struct UpstreamRequest {
    pub id: RequestId,
    pub progress_token: ProgressToken,
}

impl CallLink {
    /// Records the upstream request serving this call (the first one wins).
    pub fn bind(&self, id: RequestId, progress_token: ProgressToken) {
        let _ = self.upstream.set(UpstreamRequest { id, progress_token });
    }

    fn is_request(&self, id: &RequestId) -> bool {
        self.upstream.get().is_some_and(|u| &u.id == id)
    }

    fn has_token(&self, token: &ProgressToken) -> bool {
        self.upstream
            .get()
            .is_some_and(|u| &u.progress_token == token)
    }
}

/// Counts notifications of one call (or one stateless request) that have
/// been received from the upstream and are not yet relayed to the client,
/// so the result can wait for them.
///
/// rmcp hands each upstream notification to its own task but resolves the
/// response directly, so without this a result could overtake the progress
/// the server sent before it. The count goes up as the upstream transport
/// receives a notification (in order with the response) and down when its
/// handler has finished.
#[derive(Debug, Default)]
pub(crate) struct ProgressRelays {
    count: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

impl ProgressRelays {
    /// Marks one relay as started; it ends when the guard drops.
    pub fn start(self: &Arc<Self>) -> RelayGuard {
        self.count.fetch_add(1, Ordering::AcqRel);
        RelayGuard(self.clone())
    }

    /// Waits (at most `limit`) for the relays counted so far to finish.
    pub async fn settle(&self, limit: std::time::Duration) {
        let _ = tokio::time::timeout(limit, async {
            loop {
                let idle = self.idle.notified();
                if self.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        })
        .await;
    }
}

/// One relay in flight.
#[derive(Debug)]
pub(crate) struct RelayGuard(Arc<ProgressRelays>);

impl Drop for RelayGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A session that should hear about something, with how it names things.
pub(crate) struct Listener {
    pub peer: Peer<RoleServer>,
    pub route: Route,
    /// Set for `subscriptions/listen` streams: notifications go through it.
    pub sink: Option<SubscriptionSink>,
    /// Set for stateless requests: counts messages being relayed to them.
    pub relays: Option<Arc<ProgressRelays>>,
}

/// Which list changed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ListKind {
    Tools,
    Prompts,
    Resources,
}

impl Listener {
    fn of(entry: &SessionEntry) -> Option<Self> {
        let sink = match &entry.channel {
            Channel::Session => None,
            Channel::Request => return None,
            Channel::Listen(sink) => Some(sink.clone()),
        };
        Some(Self {
            peer: entry.peer.clone(),
            route: entry.route.clone(),
            sink,
            relays: None,
        })
    }

    /// Tells this session that a list changed (if it asked to hear it).
    pub async fn list_changed(&self, kind: ListKind) {
        match (&self.sink, kind) {
            (Some(sink), ListKind::Tools) => {
                if sink.accepted().tools_list_changed == Some(true) {
                    let _ = sink.notify_tool_list_changed().await;
                }
            }
            (Some(sink), ListKind::Prompts) => {
                if sink.accepted().prompts_list_changed == Some(true) {
                    let _ = sink.notify_prompt_list_changed().await;
                }
            }
            (Some(sink), ListKind::Resources) => {
                if sink.accepted().resources_list_changed == Some(true) {
                    let _ = sink.notify_resource_list_changed().await;
                }
            }
            (None, ListKind::Tools) => {
                let _ = self.peer.notify_tool_list_changed().await;
            }
            (None, ListKind::Prompts) => {
                let _ = self.peer.notify_prompt_list_changed().await;
            }
            (None, ListKind::Resources) => {
                let _ = self.peer.notify_resource_list_changed().await;
            }
        }
    }

    /// Tells this session that a resource it subscribed to changed.
    pub async fn resource_updated(&self, params: ResourceUpdatedNotificationParam) {
        match &self.sink {
            Some(sink) => {
                let _ = sink.notify_resource_updated(params.uri).await;
            }
            None => {
                let _ = self.peer.notify_resource_updated(params).await;
            }
        }
    }

    /// Passes a log message on (listen streams carry none).
    pub async fn log(&self, params: LoggingMessageNotificationParam) {
        if self.sink.is_none() {
            let _ = self.peer.notify_logging_message(params).await;
        }
    }
}

#[derive(Default)]
pub(crate) struct Dispatch {
    next_session: AtomicU64,
    sessions: Mutex<HashMap<SessionKey, SessionEntry>>,
    calls: Mutex<HashMap<String, Vec<Arc<CallLink>>>>,
    /// Listen streams of stateless clients being opened.
    pub openings: crate::opening::Openings,
    /// Sessions by the id rmcp gave them on HTTP, with their client.
    by_http_session: Mutex<HashMap<Arc<str>, (SessionKey, String)>>,
}

/// Put into an `initialize` request by the HTTP guard; the front fills in
/// the session it registers, so the guard can pair it with the id rmcp
/// gives it in the answer.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionSlot(pub Arc<OnceLock<SessionKey>>);

/// What the direct path needs of a known session.
pub(crate) struct DirectSession {
    pub protocol_version: String,
    pub capabilities: ClientCapabilities,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves only plain maps behind;
    // they stay usable, so recover instead of poisoning the whole gateway.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Dispatch {
    pub fn register_session(
        &self,
        peer: Peer<RoleServer>,
        channel: Channel,
        protocol_version: String,
        route: Route,
        capabilities: ClientCapabilities,
    ) -> SessionKey {
        let key = self.next_session.fetch_add(1, Ordering::Relaxed) + 1;
        lock(&self.sessions).insert(
            key,
            SessionEntry {
                peer,
                channel,
                protocol_version,
                route,
                capabilities,
                subscriptions: HashSet::new(),
                log_level: None,
                last_call: Instant::now(),
                http_session: None,
                relays: Arc::default(),
            },
        );
        key
    }

    /// Forgets a session; returns its resource subscriptions so the caller can
    /// release the upstream ones nobody else holds.
    pub fn remove_session(&self, key: SessionKey) -> Vec<(String, String)> {
        let removed = lock(&self.sessions).remove(&key);
        let Some(entry) = removed else {
            return Vec::new();
        };
        if let Some(id) = &entry.http_session {
            lock(&self.by_http_session).remove(id);
        }
        entry
            .subscriptions
            .into_iter()
            .filter(|sub| !self.is_subscribed_elsewhere(sub))
            .collect()
    }

    fn is_subscribed_elsewhere(&self, sub: &(String, String)) -> bool {
        lock(&self.sessions)
            .values()
            .any(|s| s.subscriptions.contains(sub))
    }

    /// Live client sessions (a stateless request or listen stream counts
    /// while it is open).
    pub fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// How many sessions speak each protocol version.
    pub fn session_versions(&self) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        for s in lock(&self.sessions).values() {
            *out.entry(s.protocol_version.clone()).or_insert(0) += 1;
        }
        out
    }

    /// Records the resources a listen stream wants; returns the (server, uri)
    /// pairs nobody held before.
    pub fn subscribe_all(
        &self,
        key: SessionKey,
        subs: &[(String, String)],
    ) -> Vec<(String, String)> {
        let mut sessions = lock(&self.sessions);
        let fresh: Vec<_> = subs
            .iter()
            .filter(|sub| !sessions.values().any(|s| s.subscriptions.contains(*sub)))
            .cloned()
            .collect();
        if let Some(s) = sessions.get_mut(&key) {
            s.subscriptions.extend(subs.iter().cloned());
        }
        fresh
    }

    /// Every (server, uri) some session is subscribed to on `server`.
    pub fn wanted_resources(&self, server: &str) -> Vec<String> {
        let mut out: Vec<String> = lock(&self.sessions)
            .values()
            .flat_map(|s| s.subscriptions.iter())
            .filter(|(srv, _)| srv == server)
            .map(|(_, uri)| uri.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    pub fn touch_session(&self, key: SessionKey) {
        if let Some(s) = lock(&self.sessions).get_mut(&key) {
            s.last_call = Instant::now();
        }
    }

    /// Learns the id rmcp gave the session `key` of `client` on HTTP (from
    /// the answer to its `initialize`).
    pub fn learn_http_session(&self, key: SessionKey, client: &str, http_session: &str) {
        let id: Arc<str> = http_session.into();
        {
            let mut sessions = lock(&self.sessions);
            let Some(s) = sessions.get_mut(&key) else {
                return;
            };
            s.http_session = Some(id.clone());
        }
        lock(&self.by_http_session).insert(id, (key, client.to_owned()));
    }

    /// The session rmcp knows as `http_session`, when it belongs to `client`
    /// on `route` and rmcp served it within `fresh` (so rmcp's idle timer
    /// will not end it while the direct path serves it).
    pub fn direct_session(
        &self,
        http_session: &str,
        client: &str,
        route: &Route,
        fresh: std::time::Duration,
    ) -> Option<DirectSession> {
        let key = {
            let map = lock(&self.by_http_session);
            let (key, owner) = map.get(http_session)?;
            if owner != client {
                return None;
            }
            *key
        };
        let sessions = lock(&self.sessions);
        let s = sessions.get(&key)?;
        (&s.route == route && s.last_call.elapsed() < fresh).then(|| DirectSession {
            protocol_version: s.protocol_version.clone(),
            capabilities: s.capabilities.clone(),
        })
    }

    /// Lets log messages already on their way to a stateless request arrive
    /// before its answer (at most `limit`).
    pub async fn settle_relays(&self, key: SessionKey, limit: std::time::Duration) {
        let relays = lock(&self.sessions).get(&key).map(|s| s.relays.clone());
        if let Some(relays) = relays {
            relays.settle(limit).await;
        }
    }

    /// The minimum log level a session asked for, if it did.
    pub fn log_level(&self, key: SessionKey) -> Option<LoggingLevel> {
        lock(&self.sessions).get(&key).and_then(|s| s.log_level)
    }

    pub fn set_log_level(&self, key: SessionKey, level: LoggingLevel) {
        if let Some(s) = lock(&self.sessions).get_mut(&key) {
            s.log_level = Some(level);
        }
    }

    /// Records a subscription; true when it is the first one for this
    /// upstream resource (so the upstream must be asked).
    pub fn subscribe(&self, key: SessionKey, server: &str, uri: &str) -> bool {
        let sub = (server.to_owned(), uri.to_owned());
        let mut sessions = lock(&self.sessions);
        let first = !sessions.values().any(|s| s.subscriptions.contains(&sub));
        if let Some(s) = sessions.get_mut(&key) {
            s.subscriptions.insert(sub);
        }
        first
    }

    /// Drops a subscription; true when no session holds it any more.
    pub fn unsubscribe(&self, key: SessionKey, server: &str, uri: &str) -> bool {
        let sub = (server.to_owned(), uri.to_owned());
        let mut sessions = lock(&self.sessions);
        if let Some(s) = sessions.get_mut(&key) {
            s.subscriptions.remove(&sub);
        }
        !sessions.values().any(|s| s.subscriptions.contains(&sub))
    }

    /// Sessions subscribed to `uri` of `server`.
    pub fn subscribers(&self, server: &str, uri: &str) -> Vec<Listener> {
        let sub = (server.to_owned(), uri.to_owned());
        lock(&self.sessions)
            .values()
            .filter(|s| s.subscriptions.contains(&sub))
            .filter_map(Listener::of)
            .collect()
    }

    /// Sessions whose endpoint includes `server`.
    pub fn listeners(&self, server: &str) -> Vec<Listener> {
        lock(&self.sessions)
            .values()
            .filter(|s| s.route.includes(server))
            .filter_map(Listener::of)
            .collect()
    }

    /// Sessions of `server` whose minimum log level (if they set one) lets `level` through.
    ///
    /// A stateless 2026-07-28 request hears log messages only when it set
    /// `_meta` `logLevel`, on its own response stream, while it runs.
    pub fn log_listeners(&self, server: &str, level: LoggingLevel) -> Vec<Listener> {
        lock(&self.sessions)
            .values()
            .filter(|s| s.route.includes(server))
            .filter(|s| match (&s.channel, s.log_level) {
                (Channel::Request, None) => false,
                (_, min) => min.is_none_or(|min| rank(level) >= rank(min)),
            })
            .filter_map(|s| match s.channel {
                Channel::Request => Some(Listener {
                    peer: s.peer.clone(),
                    route: s.route.clone(),
                    sink: None,
                    relays: Some(s.relays.clone()),
                }),
                _ => Listener::of(s),
            })
            .collect()
    }

    /// The session that most recently made a call and can answer roots
    /// requests: the best guess for a `roots/list` not tied to any call.
    pub fn recent_roots_session(&self, server: &str) -> Option<Peer<RoleServer>> {
        lock(&self.sessions)
            .values()
            .filter(|s| {
                s.route.includes(server)
                    && s.capabilities.roots.is_some()
                    && matches!(s.channel, Channel::Session)
            })
            .max_by_key(|s| s.last_call)
            .map(|s| s.peer.clone())
    }

    /// Registers an in-flight call, before its upstream request is sent;
    /// dropping the guard unregisters it.
    pub fn begin_call(self: &Arc<Self>, server: &str, link: CallLink) -> CallGuard {
        let link = Arc::new(link);
        lock(&self.calls)
            .entry(server.to_owned())
            .or_default()
            .push(link.clone());
        CallGuard {
            dispatch: self.clone(),
            server: server.to_owned(),
            link,
        }
    }

    /// The call an upstream progress token belongs to.
    pub fn call_by_progress(&self, server: &str, token: &ProgressToken) -> Option<Arc<CallLink>> {
        lock(&self.calls)
            .get(server)?
            .iter()
            .find(|c| c.has_token(token))
            .cloned()
    }

    /// The call a server->client request belongs to. With a known upstream
    /// request id (streamable HTTP tells us which response stream it came on)
    /// that is exact; without one (stdio has no such marker) the most recent
    /// in-flight call to that server is the best guess.
    pub fn call_for_request(
        &self,
        server: &str,
        upstream_id: Option<&RequestId>,
    ) -> Option<Arc<CallLink>> {
        let calls = lock(&self.calls);
        let list = calls.get(server)?;
        if let Some(id) = upstream_id
            && let Some(found) = list.iter().find(|c| c.is_request(id))
        {
            return Some(found.clone());
        }
        list.last().cloned()
    }
}

impl Dispatch {
    /// Counts `notification`, just received from `server`, as on its way to
    /// the calls and stateless requests it will be relayed to; each count
    /// ends when its guard drops.
    pub fn count_relays(&self, server: &str, notification: &ServerNotification) -> Vec<RelayGuard> {
        match notification {
            ServerNotification::ProgressNotification(n) => self
                .call_by_progress(server, &n.params.progress_token)
                .filter(|c| c.downstream_token.is_some())
                .map(|c| c.relaying.start())
                .into_iter()
                .collect(),
            ServerNotification::LoggingMessageNotification(n) => self
                .log_listeners(server, n.params.level)
                .iter()
                .filter_map(|l| l.relays.as_ref().map(|r| r.start()))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Keeps a call registered while it runs.
pub(crate) struct CallGuard {
    dispatch: Arc<Dispatch>,
    server: String,
    link: Arc<CallLink>,
}

impl CallGuard {
    /// The registered call.
    pub fn link(&self) -> &Arc<CallLink> {
        &self.link
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let mut calls = lock(&self.dispatch.calls);
        if let Some(list) = calls.get_mut(&self.server) {
            list.retain(|c| !Arc::ptr_eq(c, &self.link));
            if list.is_empty() {
                calls.remove(&self.server);
            }
        }
    }
}

/// Severity order of MCP log levels (RFC 5424, least severe first).
fn rank(level: LoggingLevel) -> u8 {
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
