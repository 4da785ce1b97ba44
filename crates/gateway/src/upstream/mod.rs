//! Connections to the user's MCP servers, each kept alive by a supervisor.
//!
//! One [`Upstream`] per configured server owns a task that connects (spawning
//! the process for stdio servers), publishes the server's status, caches its
//! tool list, and reconnects with backoff when the connection dies.

mod browse;
mod client;
pub(crate) mod direct;
mod http;
mod listen;
mod oauth;
mod sse;
mod stdio;
mod watched;

use std::{
    collections::VecDeque,
    path::PathBuf,
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use rmcp::{
    ClientLifecycleMode, ErrorData as McpError, RoleClient,
    model::{ServerPeerInfo, SubscribeRequestParams, Tool, UnsubscribeRequestParams},
    service::{Peer, RunningService, serve_client_with_lifecycle_and_ct},
    transport::IntoTransport,
};
use serde::{Deserialize, Serialize};
use switchboard_store::{ServerRecord, TransportConfig};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use browse::{BrowseError, Offer, stderr_tail};
pub use client::{UPSTREAM_LEGACY_VERSION, UPSTREAM_PROTOCOL_VERSION};
pub(crate) use client::{UpstreamClient, ask_downstream};
pub(crate) use oauth::explain_failure;
pub(crate) use watched::ServesCall;

use crate::dispatch::Dispatch;

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

/// Things every upstream needs from the gateway around it.
#[derive(Clone)]
pub(crate) struct Environment {
    pub dispatch: Arc<Dispatch>,
    /// Where server-to-client messages are recorded (None: not recorded).
    pub audit: Option<Arc<switchboard_audit::AuditLog>>,
    /// Pins tool definitions as they are seen (None: not pinned).
    pub policy: Option<Arc<crate::policy::Policy>>,
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
}

/// The live connection of an upstream.
pub(crate) struct Live {
    pub peer: Peer<RoleClient>,
    pub info: Arc<ServerPeerInfo>,
    /// How to send a call on this connection without rmcp (streamable HTTP
    /// servers without OAuth; see [`crate::front::direct`]).
    pub direct: Option<Arc<direct::Route>>,
}

impl Live {
    /// Whether the server speaks 2026-07-28 or later (no sessions; list
    /// changes and resource updates come through `subscriptions/listen`).
    pub fn stateless(&self) -> bool {
        !self.info.protocol_version.has_initialize()
    }
}

/// How the gateway opens a connection to a server, learned from the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    /// Not known yet: probe with `server/discover`, fall back to `initialize`.
    Auto,
    /// The server spoke 2026-07-28 last time.
    Discover,
    /// The server answered `initialize` last time (or the probe failed).
    Initialize,
}

/// State shared between an upstream's supervisor, its client handler and the
/// rest of the gateway.
pub(crate) struct Shared {
    pub name: String,
    pub dispatch: Arc<Dispatch>,
    pub audit: Option<Arc<switchboard_audit::AuditLog>>,
    policy: Option<Arc<crate::policy::Policy>>,
    status: watch::Sender<UpstreamStatus>,
    live: RwLock<Option<Arc<Live>>>,
    tools: RwLock<Arc<Vec<Tool>>>,
    /// The lifecycle that worked last (remembered across reconnects).
    lifecycle: Mutex<Lifecycle>,
    /// Generation of the resource set a 2026-07-28 server's listen stream
    /// should cover (bumped on change) and the one it covers now.
    listen_want: watch::Sender<u64>,
    listen_have: watch::Sender<u64>,
}

impl Shared {
    fn set_status(&self, f: impl FnOnce(&mut UpstreamStatus)) {
        self.status.send_modify(f);
    }

    /// Re-reads the tool list from the server into the cache.
    pub async fn refresh_tools(&self, peer: &Peer<RoleClient>) {
        match peer.list_all_tools().await {
            Ok(tools) => {
                if let Some(policy) = &self.policy {
                    policy.observe_tools(&self.name, &tools).await;
                }
                let count = tools.len();
                *self.tools.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(tools);
                self.set_status(|s| s.tools = Some(count));
            }
            Err(e) => tracing::warn!(server = %self.name, error = %e, "tools/list failed"),
        }
    }

    fn live(&self) -> Option<Arc<Live>> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_live(&self, live: Option<Arc<Live>>) {
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = live;
    }

    fn tools(&self) -> Arc<Vec<Tool>> {
        self.tools.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Why a server cannot take a request right now.
#[derive(Debug, thiserror::Error)]
#[error("server \"{name}\" is not available ({state}{})", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
pub struct Unavailable {
    /// The server.
    pub name: String,
    /// Its state, as text.
    pub state: &'static str,
    /// The last error, if any.
    pub reason: Option<String>,
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
            dispatch: env.dispatch.clone(),
            audit: env.audit.clone(),
            policy: env.policy.clone(),
            status,
            live: RwLock::new(None),
            tools: RwLock::new(Arc::new(Vec::new())),
            lifecycle: Mutex::new(Lifecycle::Auto),
            listen_want: watch::channel(0).0,
            listen_have: watch::channel(0).0,
        });
        let stop = CancellationToken::new();
        let task = tokio::spawn(supervise(
            shared.clone(),
            record.transport.clone(),
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

    /// The live connection, or why there is none.
    pub(crate) fn connection(&self) -> Result<Arc<Live>, Unavailable> {
        self.shared.live().ok_or_else(|| {
            let status = self.status();
            Unavailable {
                name: self.shared.name.clone(),
                state: match status.state {
                    UpstreamState::Starting => "starting",
                    UpstreamState::Ready => "reconnecting",
                    UpstreamState::Failed => "failed",
                    UpstreamState::Stopped => "stopped",
                    UpstreamState::Blocked => "blocked",
                    UpstreamState::NeedsSignIn => "needs sign-in",
                },
                reason: status.error,
            }
        })
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
            UpstreamState::Failed => limit.min(FAILED_GRACE),
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

    /// Holds an upstream subscription to `uri` (the first session asked for it).
    pub(crate) async fn subscribe_resource(
        &self,
        uri: &str,
        settle: Duration,
    ) -> Result<(), McpError> {
        let live = self
            .connection_within(settle)
            .await
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
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
        #[expect(
            deprecated,
            reason = "resources/subscribe is how 2025-11-25 servers subscribe"
        )]
        live.peer
            .subscribe(SubscribeRequestParams::new(uri))
            .await
            .map_err(|e| crate::front::relay_error(self.name(), e))
    }

    /// Releases the upstream subscription to `uri` (no session holds it now).
    pub(crate) async fn unsubscribe_resource(&self, uri: &str) -> Result<(), McpError> {
        let live = self
            .connection()
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        if live.stateless() {
            self.shared.listen_want.send_modify(|g| *g += 1);
            return Ok(());
        }
        #[expect(
            deprecated,
            reason = "resources/unsubscribe is how 2025-11-25 servers unsubscribe"
        )]
        live.peer
            .unsubscribe(UnsubscribeRequestParams::new(uri))
            .await
            .map_err(|e| crate::front::relay_error(self.name(), e))
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

type Running = RunningService<RoleClient, UpstreamClient>;

/// A connected upstream plus whatever must be cleaned up with it.
struct Connected {
    running: Running,
    process: Option<stdio::Process>,
    direct: Option<Arc<direct::Route>>,
    /// Ends the rmcp service loop (and with it the transport).
    ct: CancellationToken,
}

const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How long a request waits for a failed server's next attempt.
const FAILED_GRACE: Duration = Duration::from_secs(2);
/// A connection that lived this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(30);

async fn supervise(
    shared: Arc<Shared>,
    transport: TransportConfig,
    env: Environment,
    stop: CancellationToken,
) {
    let span = tracing::info_span!("upstream", server = %shared.name, transport = transport.kind());
    let _enter = span.enter();
    drop(_enter);
    let mut backoff = BACKOFF_START;
    let mut was_ready = false;
    let auth = oauth_of(&shared.name, &transport, &env);
    let mut signed = auth.as_ref().map(|a| a.generation());
    loop {
        shared.set_status(|s| s.state = UpstreamState::Starting);
        if let Some(signed) = signed.as_mut() {
            signed.mark_unchanged();
        }
        let connect = connect(&shared, &transport, &env, auth.clone());
        let connected = tokio::select! {
            c = connect => c,
            () = stop.cancelled() => break,
        };
        match connected {
            Ok(connected) => {
                let started = std::time::Instant::now();
                let Some(info) = connected.running.peer().peer_info() else {
                    shared.set_status(|s| {
                        s.state = UpstreamState::Failed;
                        s.error = Some("server did not identify itself".into());
                    });
                    continue;
                };
                let info = (*info).clone();
                let peer = connected.running.peer().clone();
                let version = info.protocol_version.to_string();
                let live = Arc::new(Live {
                    peer: peer.clone(),
                    info: Arc::new(info),
                    direct: connected.direct.clone(),
                });
                remember(&shared, &live);
                if live.stateless() {
                    tokio::spawn(listen::run(
                        shared.clone(),
                        peer.clone(),
                        connected.ct.child_token(),
                    ));
                }
                let previous_tools = shared.tools();
                shared.refresh_tools(&peer).await;
                // Initialized without a token, but the server wants one for
                // everything else: no use serving until signed in.
                if let Some(auth) = auth.as_ref().filter(|a| a.lost_now()) {
                    connected.ct.cancel();
                    let waiting = connected.running.waiting();
                    let _ = tokio::time::timeout(Duration::from_secs(2), waiting).await;
                    let message = "the server requires sign-in".to_owned();
                    if await_sign_in(&shared, auth, signed.as_mut(), &stop, message).await {
                        break;
                    }
                    backoff = BACKOFF_START;
                    continue;
                }
                shared.set_live(Some(live));
                shared.set_status(|s| {
                    s.state = UpstreamState::Ready;
                    s.error = None;
                    s.protocol_version = Some(version);
                    if was_ready {
                        s.restarts += 1;
                    }
                });
                was_ready = true;
                tracing::info!(parent: &span, tools = shared.tools().len(), "ready");
                announce_tools(
                    &shared,
                    previous_tools.as_slice() != shared.tools().as_slice(),
                );

                let Connected {
                    running,
                    mut process,
                    ct,
                    ..
                } = connected;
                let waiting = running.waiting();
                tokio::pin!(waiting);
                let reason = tokio::select! {
                    quit = &mut waiting => describe_quit(quit),
                    () = sign_in_lost(auth.as_deref()) => {
                        // The token was refused and could not be refreshed. The
                        // connection stays, so calls fail at once with a message
                        // naming the server, until someone signs in again.
                        let reason = auth
                            .as_ref()
                            .and_then(|a| a.status().reason)
                            .unwrap_or_else(|| "the server refused the sign-in".into());
                        tracing::warn!(parent: &span, reason = %reason, "needs sign-in");
                        shared.set_status(|s| {
                            s.state = UpstreamState::NeedsSignIn;
                            s.error = Some(oauth::sign_in_hint(&shared.name, &reason));
                        });
                        let mut ended = false;
                        tokio::select! {
                            () = sign_in_changed(signed.as_mut()) => {}
                            _ = &mut waiting => ended = true,
                            () = stop.cancelled() => {
                                shared.set_live(None);
                                ct.cancel();
                                let _ = tokio::time::timeout(Duration::from_secs(2), &mut waiting).await;
                                break;
                            }
                        }
                        shared.set_live(None);
                        ct.cancel();
                        if !ended {
                            let _ = tokio::time::timeout(Duration::from_secs(2), &mut waiting).await;
                        }
                        backoff = BACKOFF_START;
                        continue;
                    }
                    () = sign_in_changed(signed.as_mut()) => {
                        // Signed in again or out: start over with the new state.
                        shared.set_live(None);
                        ct.cancel();
                        let _ = tokio::time::timeout(Duration::from_secs(2), &mut waiting).await;
                        tracing::info!(parent: &span, "sign-in changed: reconnecting");
                        backoff = BACKOFF_START;
                        continue;
                    }
                    () = stop.cancelled() => {
                        shared.set_live(None);
                        ct.cancel();
                        let _ = tokio::time::timeout(Duration::from_secs(2), &mut waiting).await;
                        if let Some(process) = process {
                            process.terminate().await;
                        }
                        break;
                    }
                };
                shared.set_live(None);
                let exit = match process.as_mut() {
                    Some(p) => p.exit_description().await,
                    None => None,
                };
                let message = exit.unwrap_or(reason);
                tracing::warn!(parent: &span, reason = %message, "connection lost");
                if let Some(process) = process {
                    process.terminate().await;
                }
                shared.set_status(|s| {
                    s.state = UpstreamState::Failed;
                    s.error = Some(message);
                });
                announce_tools(&shared, true);
                if started.elapsed() >= STABLE_AFTER {
                    backoff = BACKOFF_START;
                }
            }
            Err(message) => {
                if let Some(auth) = auth.as_ref().filter(|a| a.needs_sign_in()) {
                    if await_sign_in(&shared, auth, signed.as_mut(), &stop, message).await {
                        break;
                    }
                    backoff = BACKOFF_START;
                    continue;
                }
                tracing::warn!(parent: &span, error = %message, "connect failed");
                shared.set_status(|s| {
                    s.state = UpstreamState::Failed;
                    s.error = Some(message);
                });
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stop.cancelled() => break,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
    shared.set_live(None);
    shared.set_status(|s| {
        s.state = UpstreamState::Stopped;
    });
    announce_tools(&shared, true);
}

/// Tells sessions that can see this server that its tools changed. Sessions
/// on the aggregated endpoint also hear when a server appears or disappears.
fn announce_tools(shared: &Arc<Shared>, changed: bool) {
    if !changed {
        return;
    }
    let listeners = shared.dispatch.listeners(&shared.name);
    if listeners.is_empty() {
        return;
    }
    tokio::spawn(async move {
        for l in listeners {
            l.list_changed(crate::dispatch::ListKind::Tools).await;
        }
    });
}

fn describe_quit(quit: Result<rmcp::service::QuitReason, tokio::task::JoinError>) -> String {
    match quit {
        Ok(rmcp::service::QuitReason::Closed) => "the server closed the connection".into(),
        Ok(rmcp::service::QuitReason::Cancelled) => "the connection was cancelled".into(),
        Ok(rmcp::service::QuitReason::JoinError(e)) | Err(e) => {
            format!("connection task failed: {e}")
        }
        Ok(other) => format!("connection ended: {other:?}"),
    }
}

/// Remembers the lifecycle a successful connection used.
fn remember(shared: &Shared, live: &Live) {
    let mut lifecycle = shared.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
    *lifecycle = if live.stateless() {
        Lifecycle::Discover
    } else {
        Lifecycle::Initialize
    };
}

/// The lifecycle to try now. A failed attempt moves on: a failed probe is
/// followed by a plain `initialize`, and a failure of what worked before
/// starts over with a probe (the server may have been upgraded or replaced).
fn next_lifecycle(shared: &Shared, transport: &TransportConfig) -> ClientLifecycleMode {
    let lifecycle = *shared.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
    if matches!(transport, TransportConfig::Sse { .. }) {
        // The legacy SSE transport predates 2026-07-28.
        return ClientLifecycleMode::Initialize;
    }
    match lifecycle {
        Lifecycle::Auto => ClientLifecycleMode::Auto {
            preferred_versions: vec![UPSTREAM_PROTOCOL_VERSION],
            legacy_version: Some(UPSTREAM_LEGACY_VERSION),
        },
        Lifecycle::Discover => ClientLifecycleMode::Discover {
            preferred_versions: vec![UPSTREAM_PROTOCOL_VERSION],
        },
        Lifecycle::Initialize => ClientLifecycleMode::Initialize,
    }
}

fn failed_lifecycle(shared: &Shared) {
    let mut lifecycle = shared.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
    *lifecycle = match *lifecycle {
        Lifecycle::Auto => Lifecycle::Initialize,
        Lifecycle::Initialize | Lifecycle::Discover => Lifecycle::Auto,
    };
}

/// The OAuth state of a streamable HTTP server, unless it has a configured
/// `Authorization` header (then that header is what it gets).
fn oauth_of(
    name: &str,
    transport: &TransportConfig,
    env: &Environment,
) -> Option<Arc<switchboard_auth::oauth::ServerAuth>> {
    match transport {
        TransportConfig::Http { url, headers }
            if !headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("authorization")) =>
        {
            Some(env.oauth.server(name, url))
        }
        _ => None,
    }
}

/// Marks the server as needing sign-in and waits until someone signs in (or
/// out). True when the supervisor was stopped meanwhile.
async fn await_sign_in(
    shared: &Arc<Shared>,
    auth: &switchboard_auth::oauth::ServerAuth,
    signed: Option<&mut watch::Receiver<u64>>,
    stop: &CancellationToken,
    message: String,
) -> bool {
    shared.set_live(None);
    let reason = auth.status().reason.unwrap_or(message);
    tracing::warn!(server = %shared.name, reason = %reason, "needs sign-in");
    shared.set_status(|s| {
        s.state = UpstreamState::NeedsSignIn;
        s.error = Some(oauth::sign_in_hint(&shared.name, &reason));
    });
    announce_tools(shared, true);
    tokio::select! {
        () = sign_in_changed(signed) => false,
        () = stop.cancelled() => true,
    }
}

/// Resolves when the server's tokens stop working (not for a missing scope:
/// the other tools still work then).
async fn sign_in_lost(auth: Option<&switchboard_auth::oauth::ServerAuth>) {
    match auth {
        Some(auth) => auth.lost().await,
        None => std::future::pending().await,
    }
}

/// Resolves when the server's sign-in changes; never without a sign-in.
async fn sign_in_changed(rx: Option<&mut watch::Receiver<u64>>) {
    match rx {
        Some(rx) => {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

async fn connect(
    shared: &Arc<Shared>,
    transport: &TransportConfig,
    env: &Environment,
    auth: Option<Arc<switchboard_auth::oauth::ServerAuth>>,
) -> Result<Connected, String> {
    let mode = next_lifecycle(shared, transport);
    let probed = matches!(mode, ClientLifecycleMode::Auto { .. });
    let result = connect_with(shared, transport, env, mode, auth.clone()).await;
    match result {
        Err(probe_error) if probed => {
            // Some servers reject the probe in ways rmcp does not take as
            // "legacy" (e.g. an unsupported-version error listing older
            // versions): try the handshake at once instead of failing.
            failed_lifecycle(shared);
            tracing::debug!(server = %shared.name, error = %probe_error, "server/discover failed; trying initialize");
            let result = connect_with(
                shared,
                transport,
                env,
                ClientLifecycleMode::Initialize,
                auth,
            )
            .await;
            if result.is_err() {
                failed_lifecycle(shared);
            }
            result
        }
        Err(e) => {
            failed_lifecycle(shared);
            Err(e)
        }
        ok => ok,
    }
}

async fn connect_with(
    shared: &Arc<Shared>,
    transport: &TransportConfig,
    env: &Environment,
    mode: ClientLifecycleMode,
    auth: Option<Arc<switchboard_auth::oauth::ServerAuth>>,
) -> Result<Connected, String> {
    let client = UpstreamClient {
        shared: shared.clone(),
    };
    match transport {
        TransportConfig::Stdio {
            command,
            args,
            env: vars,
            cwd,
        } => {
            let vars = &resolve_secrets(env, vars).await?;
            let (process, io) = stdio::spawn(
                &shared.name,
                command,
                args,
                vars,
                cwd.as_deref(),
                &env.log_dir,
            )
            .await?;
            let ct = CancellationToken::new();
            let io = watched::Watched::new(
                IntoTransport::<RoleClient, _, _>::into_transport(io),
                shared.dispatch.clone(),
                &shared.name,
            );
            let serving = serve_client_with_lifecycle_and_ct(client, io, mode, ct.clone());
            match tokio::time::timeout(env.init_timeout, serving).await {
                Ok(Ok(running)) => Ok(Connected {
                    running,
                    process: Some(process),
                    direct: None,
                    ct,
                }),
                Ok(Err(e)) => {
                    let detail = process.failure_detail().await;
                    process.terminate().await;
                    Err(format!("initialize failed: {e}{detail}"))
                }
                Err(_) => {
                    let detail = process.failure_detail().await;
                    process.terminate().await;
                    Err(format!(
                        "no answer to initialize within {}s{detail}",
                        env.init_timeout.as_secs()
                    ))
                }
            }
        }
        TransportConfig::Http { url, headers } => {
            let headers = &resolve_secrets(env, headers).await?;
            let session = Arc::new(http::SessionCell::default());
            let direct = Arc::new(direct::Route::new(
                env.http.clone(),
                url,
                http::header_map(headers)?,
                session.clone(),
                auth.clone(),
            ));
            let transport = http::transport(env.http.clone(), url, headers, auth, session)?;
            let mut connected = serve_remote(client, transport, mode, env.init_timeout).await?;
            connected.direct = Some(direct);
            Ok(connected)
        }
        TransportConfig::Sse { url, headers } => {
            let headers = http::header_map(&resolve_secrets(env, headers).await?)?;
            let transport = tokio::time::timeout(
                env.init_timeout,
                sse::SseClientTransport::connect(env.http.clone(), url, headers),
            )
            .await
            .map_err(|_| {
                format!(
                    "no SSE endpoint event within {}s",
                    env.init_timeout.as_secs()
                )
            })?
            .map_err(|e| e.to_string())?;
            serve_remote(client, transport, mode, env.init_timeout).await
        }
    }
}

/// Replaces keyring placeholders with the secrets they stand for. The values
/// are also handed to the audit log's redactor, which masks them from then on.
async fn resolve_secrets(
    env: &Environment,
    values: &std::collections::BTreeMap<String, String>,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    if !switchboard_auth::has_placeholders(values) {
        return Ok(values.clone());
    }
    let (secrets, owned) = (env.secrets.clone(), values.clone());
    // Keyring calls block (D-Bus round trips).
    let resolved = tokio::task::spawn_blocking(move || secrets.resolve_map(&owned))
        .await
        .map_err(|e| format!("reading secrets failed: {e}"))?
        .map_err(|e| e.to_string())?;
    if let Some(audit) = &env.audit {
        let learned = resolved
            .iter()
            .filter(|(k, v)| values.get(*k) != Some(*v))
            .map(|(_, v)| v.clone());
        audit.redactor().learn_secrets(learned);
    }
    Ok(resolved)
}

async fn serve_remote<T, E, A>(
    client: UpstreamClient,
    transport: T,
    mode: ClientLifecycleMode,
    limit: Duration,
) -> Result<Connected, String>
where
    T: IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let transport = watched::Watched::new(
        transport.into_transport(),
        client.shared.dispatch.clone(),
        &client.shared.name,
    );
    let ct = CancellationToken::new();
    let serving = serve_client_with_lifecycle_and_ct(client, transport, mode, ct.clone());
    match tokio::time::timeout(limit, serving).await {
        Ok(Ok(running)) => Ok(Connected {
            running,
            process: None,
            direct: None,
            ct,
        }),
        Ok(Err(e)) => Err(format!("initialize failed: {e}")),
        Err(_) => Err(format!(
            "no answer to initialize within {}s",
            limit.as_secs()
        )),
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
