//! Connections to the user's MCP servers, each kept alive by a supervisor.
//!
//! One [`Upstream`] per configured server owns a task that connects (spawning
//! the process for stdio servers), publishes the server's status, caches its
//! tool list, and reconnects with backoff when the connection dies. The
//! connection itself ([`conn::Conn`]) carries JSON-RPC messages as they are;
//! what the server says outside any call goes to the gateway's [`Fanout`].
//! Nothing here knows the downstream side beyond that trait.

mod bearer;
mod browse;
pub(crate) mod conn;
mod events;
pub(crate) mod handshake;
pub(crate) mod http;
mod listen;
pub(crate) mod mux;
mod offered;
mod pipe;
pub(crate) mod sse;
mod stdio;
mod streams;
mod supervise;

use std::{
    collections::VecDeque,
    path::PathBuf,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use rmcp::model::Tool;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchboard_store::ServerRecord;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use browse::{BrowseError, Offer, stderr_tail};
pub(crate) use events::Fanout;
pub use handshake::{UPSTREAM_LEGACY_VERSION, UPSTREAM_PROTOCOL_VERSION};
pub use stdio::sandbox_plan;
pub(crate) use stdio::{SandboxHost, temp_root};

use conn::Conn;
use handshake::{Lifecycle, ServerInfo};

/// Lifecycle state of an upstream server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamState {
    /// Connecting (or spawning) and initializing.
    Starting,
    /// Initialized and serving.
    Ready,
    /// The last attempt failed; a retry is scheduled.
    Failed,
    /// Disabled or shut down.
    Stopped,
    /// Not started: its command waits for the user's approval.
    Blocked,
    /// The server wants an OAuth sign-in; reconnects once signed in.
    #[serde(rename = "needs_sign_in")]
    NeedsSignIn,
}

impl UpstreamState {
    fn describe(self) -> &'static str {
        match self {
            UpstreamState::Starting => "starting",
            UpstreamState::Ready => "reconnecting",
            UpstreamState::Failed => "failed",
            UpstreamState::Stopped => "stopped",
            UpstreamState::Blocked => "blocked",
            UpstreamState::NeedsSignIn => "needs sign-in",
        }
    }
}

/// What the UI and the CLI show about an upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamStatus {
    /// Current state.
    pub state: UpstreamState,
    /// Why the last attempt failed or the connection ended.
    pub error: Option<String>,
    /// Number of tools, once known.
    pub tools: Option<usize>,
    /// How many times the connection was re-established.
    pub restarts: u32,
    /// Protocol version agreed with the server.
    pub protocol_version: Option<String>,
}

impl UpstreamStatus {
    /// The status of a server that may not start yet.
    pub fn blocked(reason: String) -> Self {
        Self {
            state: UpstreamState::Blocked,
            error: Some(reason),
            tools: None,
            restarts: 0,
            protocol_version: None,
        }
    }

    fn starting() -> Self {
        Self {
            state: UpstreamState::Starting,
            error: None,
            tools: None,
            restarts: 0,
            protocol_version: None,
        }
    }
}

/// Why a request to a server did not get an answer from it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The server is not connected.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// The server wants a (new) sign-in.
    #[error(
        "server \"{server}\" needs sign-in: run `switchboard auth login {server}` or sign in from the control panel"
    )]
    NeedsSignIn {
        /// The server.
        server: String,
    },
    /// The server's token lacks a scope the request needs.
    #[error("server \"{server}\" needs more permissions{}: sign in again with `switchboard auth login {server}`", scope.as_ref().map(|s| format!(" (scope {s})")).unwrap_or_default())]
    NeedsScope {
        /// The server.
        server: String,
        /// The scope it asked for.
        scope: Option<String>,
    },
    /// The connection ended before the answer.
    #[error("server \"{server}\" closed the connection before answering")]
    Closed {
        /// The server.
        server: String,
    },
    /// The server forgot the gateway's session (renewed and retried once).
    #[error("server \"{server}\" ended the gateway's session")]
    Expired {
        /// The server.
        server: String,
    },
    /// The request could not be delivered.
    #[error("server \"{server}\" could not be reached: {detail}")]
    Send {
        /// The server.
        server: String,
        /// What failed.
        detail: String,
    },
    /// The server answered with an HTTP error and no JSON-RPC message.
    #[error("server \"{server}\" answered HTTP {status}: {body}")]
    Status {
        /// The server.
        server: String,
        /// The HTTP status.
        status: u16,
        /// An excerpt of the body.
        body: String,
    },
    /// The server's answer could not be read.
    #[error("server \"{server}\" sent an unreadable answer: {detail}")]
    Protocol {
        /// The server.
        server: String,
        /// What was wrong.
        detail: String,
    },
}

/// Why a server cannot take a request right now.
#[derive(Debug, Clone, thiserror::Error)]
#[error("server \"{name}\" is not available ({state}{})", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
pub struct Unavailable {
    /// The server.
    pub name: String,
    /// Its state, as text.
    pub state: &'static str,
    /// The last error, if any.
    pub reason: Option<String>,
    /// Whether it waits for a sign-in.
    pub needs_sign_in: bool,
}

/// Things every upstream needs from the gateway around it.
#[derive(Clone)]
pub(crate) struct Environment {
    /// Where the server's news goes (the client sessions).
    pub fanout: Arc<dyn Fanout>,
    /// Pins tool definitions as they are seen (None: not pinned).
    pub policy: Option<Arc<crate::policy::Policy>>,
    /// Learns secret values to mask (None: nothing is recorded).
    pub audit: Option<Arc<switchboard_audit::AuditLog>>,
    /// Where secret env values and headers live (SQLite holds placeholders).
    pub secrets: switchboard_auth::SecretStore,
    /// Where stdio servers' stderr goes: `<dir>/<name>.log`.
    pub log_dir: PathBuf,
    /// Shared HTTP client for remote upstreams.
    pub http: reqwest::Client,
    /// How long a server may take to initialize (npx may download first).
    pub init_timeout: Duration,
    /// OAuth sign-in of remote servers (one per server, shared by all clients).
    pub oauth: switchboard_auth::oauth::OAuth,
    /// How stdio servers enter their sandbox (None: this host cannot sandbox,
    /// so a sandboxed server does not start).
    pub sandbox: Option<stdio::SandboxHost>,
}

/// The live connection of an upstream.
pub(crate) struct Live {
    pub conn: Arc<Conn>,
    pub info: Arc<ServerInfo>,
}

impl Live {
    /// Whether the server speaks 2026-07-28 or later (no sessions; list
    /// changes and resource updates come through `subscriptions/listen`).
    pub fn stateless(&self) -> bool {
        self.info.stateless()
    }
}

/// The tool list of the current connection.
struct Tools {
    list: Arc<Vec<Tool>>,
    /// Read from the current connection (else: left from an earlier one).
    fresh: bool,
    read_at: Option<Instant>,
}

/// State shared between an upstream's supervisor, its connection and the
/// rest of the gateway.
pub(crate) struct Shared {
    pub name: String,
    fanout: Arc<dyn Fanout>,
    policy: Option<Arc<crate::policy::Policy>>,
    status: watch::Sender<UpstreamStatus>,
    live: RwLock<Option<Arc<Live>>>,
    tools: RwLock<Tools>,
    /// Bumped each time the tool list is read.
    tools_read: watch::Sender<u64>,
    /// The lifecycle that worked last (remembered across reconnects).
    lifecycle: Mutex<Lifecycle>,
    /// Generation of the resource set a 2026-07-28 server's listen stream
    /// should cover (bumped on change) and the one it covers now.
    listen_want: watch::Sender<u64>,
    listen_have: watch::Sender<u64>,
    /// The resources some client session holds, by URI.
    wanted: Mutex<std::collections::BTreeSet<String>>,
    /// The tools marked unavailable, with the list they were made from.
    unavailable: Mutex<Option<offered::Marked>>,
}

/// A tool looked up for a call.
#[derive(Debug, Clone)]
pub(crate) enum ToolLookup {
    /// Its definition, as listed by the server.
    Listed(Tool),
    /// The server's list is in and does not hold it.
    Unlisted,
    /// The server's list is not in (the server is starting, or listing failed).
    Unknown,
}

/// Longest a refused lookup waits before the list is asked for again.
const RELIST_AFTER: Duration = Duration::from_secs(2);

impl Shared {
    fn set_status(&self, f: impl FnOnce(&mut UpstreamStatus)) {
        self.status.send_modify(f);
    }

    fn live(&self) -> Option<Arc<Live>> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_live(&self, live: Option<Arc<Live>>) {
        if live.is_none() {
            self.tools.write().unwrap_or_else(|e| e.into_inner()).fresh = false;
        }
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = live;
    }

    fn tools(&self) -> Arc<Vec<Tool>> {
        self.tools
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .list
            .clone()
    }

    /// Re-reads the tool list from the server into the cache (every page).
    pub async fn refresh_tools(&self, conn: &Arc<Conn>) -> bool {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut params = Map::new();
            if let Some(c) = cursor.take() {
                params.insert("cursor".into(), Value::String(c));
            }
            match conn
                .call::<rmcp::model::ListToolsResult>("tools/list", params)
                .await
            {
                Ok(page) => {
                    tools.extend(page.tools);
                    match page.next_cursor {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
                Err(e) => {
                    tracing::warn!(server = %self.name, error = %e, "tools/list failed");
                    return false;
                }
            }
        }
        if let Some(policy) = &self.policy {
            policy.observe_tools(&self.name, &tools).await;
        }
        let count = tools.len();
        {
            let mut cache = self.tools.write().unwrap_or_else(|e| e.into_inner());
            cache.list = Arc::new(tools);
            cache.fresh = true;
            cache.read_at = Some(Instant::now());
        }
        self.tools_read.send_modify(|n| *n += 1);
        self.set_status(|s| s.tools = Some(count));
        true
    }

    /// The resources some session holds on this server (for the listen stream).
    fn wanted_resources(&self) -> Vec<String> {
        self.wanted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// One configured server and its supervisor.
pub struct Upstream {
    shared: Arc<Shared>,
    record: ServerRecord,
    stop: CancellationToken,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Upstream {
    /// Starts supervising `record` (connecting in the background).
    pub(crate) fn start(record: ServerRecord, env: Environment) -> Arc<Self> {
        let (status, _) = watch::channel(UpstreamStatus::starting());
        let shared = Arc::new(Shared {
            name: record.name.clone(),
            fanout: env.fanout.clone(),
            policy: env.policy.clone(),
            status,
            live: RwLock::new(None),
            tools: RwLock::new(Tools {
                list: Arc::new(Vec::new()),
                fresh: false,
                read_at: None,
            }),
            tools_read: watch::channel(0).0,
            lifecycle: Mutex::new(Lifecycle::Auto),
            listen_want: watch::channel(0).0,
            listen_have: watch::channel(0).0,
            wanted: Mutex::default(),
            unavailable: Mutex::default(),
        });
        let stop = CancellationToken::new();
        let task = tokio::spawn(supervise::supervise(
            shared.clone(),
            record.transport.clone(),
            record.sandbox.clone(),
            env,
            stop.clone(),
        ));
        Arc::new(Self {
            shared,
            record,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The configuration this supervisor runs.
    pub fn record(&self) -> &ServerRecord {
        &self.record
    }

    /// Current status.
    pub fn status(&self) -> UpstreamStatus {
        self.shared.status.borrow().clone()
    }

    /// Cached tool definitions, as the server names them.
    pub fn tools(&self) -> Arc<Vec<Tool>> {
        self.shared.tools()
    }

    fn unavailable(&self) -> Unavailable {
        let status = self.status();
        Unavailable {
            name: self.shared.name.clone(),
            state: status.state.describe(),
            reason: status.error,
            needs_sign_in: status.state == UpstreamState::NeedsSignIn,
        }
    }

    /// The live connection, or why there is none.
    pub(crate) fn connection(&self) -> Result<Arc<Live>, Unavailable> {
        self.shared.live().ok_or_else(|| self.unavailable())
    }

    /// The live connection; while the server is (re)starting, waits for it at
    /// most `limit` (a failed server gets a short grace for its next attempt).
    pub(crate) async fn connection_within(
        &self,
        limit: Duration,
    ) -> Result<Arc<Live>, Unavailable> {
        if let Some(live) = self.shared.live() {
            return Ok(live);
        }
        let limit = match self.status().state {
            UpstreamState::Starting => limit,
            UpstreamState::Failed => limit.min(supervise::FAILED_GRACE),
            UpstreamState::Ready
            | UpstreamState::Stopped
            | UpstreamState::Blocked
            | UpstreamState::NeedsSignIn => Duration::ZERO,
        };
        let mut rx = self.shared.status.subscribe();
        let _ = tokio::time::timeout(
            limit,
            rx.wait_for(|s| matches!(s.state, UpstreamState::Ready | UpstreamState::Stopped)),
        )
        .await;
        self.connection()
    }

    /// The definition of `name` for deciding a call: once the server's list
    /// is in (waiting at most `wait` for it), and asked for again once when
    /// the list does not hold it (a server may serve tools it did not list
    /// yet). Never a guess.
    pub(crate) async fn tool_for_call(&self, name: &str, wait: Duration) -> ToolLookup {
        let find = |shared: &Shared| {
            let tools = shared.tools.read().unwrap_or_else(|e| e.into_inner());
            let found = tools.list.iter().find(|t| t.name == name).cloned();
            (found, tools.fresh, tools.read_at)
        };
        let (found, known, _) = find(&self.shared);
        if let Some(tool) = found {
            return ToolLookup::Listed(tool);
        }
        if !known {
            let mut read = self.shared.tools_read.subscribe();
            let mut status = self.shared.status.subscribe();
            let _ = tokio::time::timeout(wait, async {
                tokio::select! {
                    _ = read.changed() => {}
                    _ = status.wait_for(|s| !matches!(s.state, UpstreamState::Starting | UpstreamState::Ready)) => {}
                }
            })
            .await;
            let (found, known, _) = find(&self.shared);
            if let Some(tool) = found {
                return ToolLookup::Listed(tool);
            }
            if !known {
                return ToolLookup::Unknown;
            }
        }
        let (_, _, read_at) = find(&self.shared);
        if read_at.is_none_or(|at| at.elapsed() >= RELIST_AFTER)
            && let Some(live) = self.shared.live()
        {
            self.shared.refresh_tools(&live.conn).await;
        }
        match find(&self.shared).0 {
            Some(tool) => ToolLookup::Listed(tool),
            None => ToolLookup::Unlisted,
        }
    }

    /// Holds the upstream subscription to `uri` (the first session asked for it).
    pub(crate) async fn subscribe_resource(
        &self,
        uri: &str,
        settle: Duration,
    ) -> Result<(), conn::CallError> {
        let live = self
            .connection_within(settle)
            .await
            .map_err(UpstreamError::from)?;
        self.shared
            .wanted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uri.to_owned());
        if live.stateless() {
            // The listen stream is reopened with the new set; wait until the
            // server has acknowledged it, so no update is missed.
            let mut generation = 0;
            self.shared.listen_want.send_modify(|g| {
                *g += 1;
                generation = *g;
            });
            let mut have = self.shared.listen_have.subscribe();
            let _ = tokio::time::timeout(settle, have.wait_for(|h| *h >= generation)).await;
            return Ok(());
        }
        let mut params = Map::new();
        params.insert("uri".into(), Value::String(uri.to_owned()));
        live.conn
            .call::<Value>("resources/subscribe", params)
            .await
            .map(|_| ())
    }

    /// Releases the upstream subscription to `uri` (no session holds it now).
    pub(crate) async fn unsubscribe_resource(&self, uri: &str) -> Result<(), conn::CallError> {
        self.shared
            .wanted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uri);
        let live = self.connection().map_err(UpstreamError::from)?;
        if live.stateless() {
            self.shared.listen_want.send_modify(|g| *g += 1);
            return Ok(());
        }
        let mut params = Map::new();
        params.insert("uri".into(), Value::String(uri.to_owned()));
        live.conn
            .call::<Value>("resources/unsubscribe", params)
            .await
            .map(|_| ())
    }

    /// A notification of the server read on a call's stream that is not about
    /// the call: handled as the server's news.
    pub(crate) fn news(&self, message: crate::wire::Message) {
        use mux::Events as _;
        events::Notices(Arc::downgrade(&self.shared)).notification(message);
    }

    /// Waits until the server is no longer starting, at most `limit`.
    pub async fn settled(&self, limit: Duration) {
        let mut rx = self.shared.status.subscribe();
        let _ =
            tokio::time::timeout(limit, rx.wait_for(|s| s.state != UpstreamState::Starting)).await;
    }

    /// Asks the supervisor to stop without waiting for it.
    pub(crate) fn stop_now(&self) {
        self.stop.cancel();
    }

    /// Stops the supervisor and the server (drains: waits for the task).
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// The last lines of a process's stderr, for error messages.
#[derive(Default)]
pub(crate) struct StderrTail {
    lines: VecDeque<String>,
}

impl StderrTail {
    const KEEP: usize = 8;

    fn push(&mut self, line: String) {
        if self.lines.len() == Self::KEEP {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    fn render(&self) -> String {
        self.lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" | ")
    }
}
