//! Starting, running and stopping a gateway.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use switchboard_audit::{AuditDb, AuditLog, AuditSettings, Redactor};
use switchboard_store::Store;
use tokio_util::sync::CancellationToken;

use crate::{
    Error, Result,
    http::{
        self,
        guard::{ClientTokens, GuardState},
    },
    hub::Hub,
    pipeline::Core,
    policy::Policy,
    session::{Downstream, Sessions, SessionsView},
    upstream::{Environment, Fanout},
};

/// How a gateway runs.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where to listen: a loopback address, or with `tls` any address.
    pub listen: SocketAddr,
    /// Certificate and key for listening over TLS (needed beyond loopback).
    pub tls: Option<http::TlsFiles>,
    /// Hosts a TLS listener answers for, besides loopback names (the
    /// Host/Origin check); needed beyond loopback.
    pub allowed_hosts: Vec<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// A client session idle this long is closed.
    pub session_idle: Duration,
    /// How long a server may take to initialize.
    pub init_timeout: Duration,
    /// How long requests wait for servers that are still starting.
    pub settle: Duration,
    /// How often the store is checked for changes made by other processes.
    pub watch_interval: Duration,
    /// Items after which a merged list page on `/mcp` ends with a cursor.
    pub page_size: usize,
    /// The executable that starts stdio servers in their sandbox: the host's
    /// own, whose `main` calls `switchboard_sandbox::run_if_launcher`. None:
    /// servers whose sandbox is on do not start (never unsandboxed).
    pub sandbox_launcher: Option<PathBuf>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7331)),
            tls: None,
            allowed_hosts: Vec::new(),
            max_body_bytes: 4 * 1024 * 1024,
            session_idle: Duration::from_secs(8 * 3600),
            init_timeout: Duration::from_secs(60),
            settle: Duration::from_secs(10),
            watch_interval: Duration::from_millis(300),
            page_size: 1000,
            sandbox_launcher: None,
        }
    }
}

/// What a running gateway publishes in `<data dir>/gateway.json` (mode 0600)
/// so the CLI can reach it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeInfo {
    /// Process id of the gateway.
    pub pid: u32,
    /// Bound address.
    pub listen: SocketAddr,
    /// MCP endpoint.
    pub mcp_url: String,
    /// Control API base.
    pub control_url: String,
    /// Bearer token of the control API.
    pub control_token: String,
    /// The https MCP endpoint for clients on other machines, when TLS is on
    /// (`mcp_url` is then the plain loopback one of this machine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

impl RuntimeInfo {
    /// The file's path inside `data_dir`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("gateway.json")
    }

    /// Reads the file, if a gateway wrote one.
    pub fn read(data_dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(Self::path(data_dir)).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn write(&self, data_dir: &Path) -> Result<()> {
        let path = Self::path(data_dir);
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        write_private(&path, text.as_bytes()).map_err(|source| Error::Write { path, source })
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// What clients' tools cost on `/mcp` and how they are offered to them.
#[derive(Clone)]
pub struct Contexts(Arc<Core>);

impl Contexts {
    /// The report of each of `clients` now: its mode, budget, what it is
    /// listed, and the tokens of its view per server and per tool.
    pub fn reports(&self, clients: &[String]) -> Vec<crate::ContextReport> {
        clients.iter().map(|c| self.0.report(c)).collect()
    }

    /// Which tools of each of `clients`' views read private data, carry
    /// untrusted content or send data out, and whether a view holds all three.
    pub fn flows(&self, clients: &[String]) -> Vec<crate::FlowReport> {
        clients.iter().map(|c| self.0.flow_report(c)).collect()
    }
}

/// A running gateway.
pub struct Gateway {
    info: RuntimeInfo,
    data_dir: PathBuf,
    sandbox_launcher: Option<PathBuf>,
    hub: Arc<Hub>,
    audit: Arc<AuditLog>,
    policy: Arc<Policy>,
    core: Arc<Core>,
    sessions: SessionsView,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    hosts: http::HostCheck,
    watcher: tokio::task::JoinHandle<()>,
    mounted: http::Mounted,
    /// The audit records going out as OTLP logs, when they do.
    audit_export: Option<(CancellationToken, tokio::task::JoinHandle<()>)>,
}

/// Settings key of the audit log's settings.
pub const AUDIT_SETTINGS_KEY: &str = "audit";

/// Every secret the configuration holds (header and environment values), so
/// the audit log can mask them wherever they show up.
fn configured_secrets(servers: &[switchboard_store::ServerRecord]) -> Vec<String> {
    servers
        .iter()
        .flat_map(|s| s.transport.pairs().values().cloned())
        .collect()
}

fn environment(
    store: &Store,
    fanout: Arc<dyn Fanout>,
    audit: Option<Arc<AuditLog>>,
    policy: Option<Arc<Policy>>,
    config: &GatewayConfig,
) -> Result<Environment> {
    let secrets = switchboard_auth::SecretStore::from_env(store.data_dir())
        .map_err(|e| Error::Secrets(e.to_string()))?;
    let http = crate::upstream::http::client()?;
    let oauth = switchboard_auth::oauth::OAuth::new(
        secrets.clone(),
        switchboard_auth::oauth::OAuthConfig::for_data_dir(store.data_dir()),
    );
    Ok(Environment {
        fanout,
        audit,
        policy,
        oauth,
        secrets,
        log_dir: store.data_dir().join("logs").join("servers"),
        http,
        init_timeout: config.init_timeout,
        sandbox: config
            .sandbox_launcher
            .clone()
            .map(|launcher| crate::upstream::SandboxHost {
                launcher,
                temp_root: crate::upstream::temp_root(store.data_dir()),
            }),
    })
}

impl Gateway {
    /// Binds, starts serving and starts the configured servers in the
    /// background. Returns as soon as the endpoint accepts connections.
    pub async fn start(store: Store, config: GatewayConfig) -> Result<Self> {
        let started = Instant::now();
        let bound = crate::listen::bind(&config).await?;
        let addr = bound.local_addr;

        let control_token = switchboard_auth::new_control_token();
        let servers = store.list_servers().await?;
        let audit = start_audit(&store, &servers, control_token.expose()).await?;
        let export_stop = CancellationToken::new();
        let audit_export =
            switchboard_telemetry::export_audit(audit.subscribe(), export_stop.clone())
                .map(|task| (export_stop, task));
        let policy = Arc::new(Policy::load(store.clone()).await?);
        let sessions = Arc::new(Sessions::default());
        let fanout = Arc::new(Downstream {
            sessions: sessions.clone(),
            policy: policy.clone(),
            audit: audit.clone(),
        });
        let hub = Arc::new(Hub::new(environment(
            &store,
            fanout,
            Some(audit.clone()),
            Some(policy.clone()),
            &config,
        )?));
        let shutdown = CancellationToken::new();
        let core = Arc::new(Core::new(
            hub.clone(),
            sessions.clone(),
            audit.clone(),
            policy.clone(),
            crate::pipeline::Timing {
                settle: config.settle,
                decide_wait: config.init_timeout,
                page_size: config.page_size,
            },
            shutdown.child_token(),
        ));
        let guard = Arc::new(GuardState {
            tokens: ClientTokens::load(store.clone()).await?,
            hosts: bound.hosts.clone(),
            control_token: control_token.expose().clone(),
            max_body_bytes: config.max_body_bytes,
        });
        let mounted = http::Mounted::default();
        let app = http::router(core.clone(), guard.clone(), mounted.clone());
        tokio::spawn(crate::pipeline::reap_sessions(
            core.clone(),
            config.session_idle,
            shutdown.child_token(),
        ));

        let info = RuntimeInfo {
            pid: std::process::id(),
            listen: addr,
            mcp_url: format!("http://{addr}/mcp"),
            control_url: format!("http://{addr}/api/"),
            control_token: control_token.expose().clone(),
            public_url: bound.public_addr.map(|public| {
                let host = bound
                    .hosts
                    .hosts()
                    .first()
                    .cloned()
                    .unwrap_or_else(|| public.ip().to_string());
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host
                };
                format!("https://{host}:{}/mcp", public.port())
            }),
        };
        info.write(store.data_dir())?;
        let hosts = bound.hosts.clone();

        let server = bound.serve(app, shutdown.clone());

        hub.reconcile(&servers).await;
        let followers = Followers {
            store: store.clone(),
            hub: hub.clone(),
            guard,
            audit: audit.clone(),
            policy,
            control_token: control_token.expose().clone(),
        };
        let watcher = tokio::spawn(watch_store(
            followers,
            config.watch_interval,
            shutdown.clone(),
        ));
        tracing::info!(%addr, elapsed_ms = started.elapsed().as_millis() as u64, servers = servers.len(), "gateway ready");
        Ok(Self {
            info,
            data_dir: store.data_dir().to_owned(),
            sandbox_launcher: config.sandbox_launcher.clone(),
            hub,
            audit,
            policy: core.policy.clone(),
            core,
            sessions: SessionsView(sessions),
            shutdown,
            server,
            watcher,
            mounted,
            hosts,
            audit_export,
        })
    }

    /// The Host/Origin check of every route; routes a host mounts use it too.
    pub fn host_check(&self) -> http::HostCheck {
        self.hosts.clone()
    }

    /// Adds routes (the control API, the web UI) behind the gateway's own:
    /// requests none of the gateway's routes match go to them.
    pub fn mount(&self, routes: axum::Router) {
        self.mounted.set(routes);
    }

    /// Where the gateway listens and how to reach it.
    pub fn info(&self) -> &RuntimeInfo {
        &self.info
    }

    /// The executable that starts stdio servers in their sandbox, if this host has one.
    pub fn sandbox_launcher(&self) -> Option<&Path> {
        self.sandbox_launcher.as_deref()
    }

    /// What clients' tools cost on `/mcp` and how they are offered.
    pub fn contexts(&self) -> Contexts {
        Contexts(self.core.clone())
    }

    /// The upstream servers.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The audit log.
    pub fn audit(&self) -> &Arc<AuditLog> {
        &self.audit
    }

    /// Who may call what (and the calls waiting for an answer).
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// The live client sessions.
    pub fn sessions(&self) -> SessionsView {
        self.sessions.clone()
    }

    /// Stops accepting requests, closes sessions, stops every server, and
    /// removes the runtime file.
    pub async fn shutdown(self) -> Result<()> {
        self.shutdown.cancel();
        let _ = self.watcher.await;
        let served = self.server.await;
        self.hub.shutdown().await;
        // Last: everything the sessions and servers said is committed.
        self.audit.shutdown().await;
        if let Some((stop, task)) = self.audit_export {
            stop.cancel();
            let _ = task.await;
        }
        if RuntimeInfo::read(&self.data_dir).is_some_and(|i| i.pid == self.info.pid) {
            let _ = std::fs::remove_file(RuntimeInfo::path(&self.data_dir));
        }
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Serve(e)),
            Err(e) => Err(Error::Serve(std::io::Error::other(e))),
        }
    }
}

async fn start_audit(
    store: &Store,
    servers: &[switchboard_store::ServerRecord],
    control_token: &str,
) -> Result<Arc<AuditLog>> {
    let db = AuditDb::open_at(store.data_dir(), store.database()).await?;
    let redactor = Arc::new(Redactor::builtin());
    let mut secrets = configured_secrets(servers);
    secrets.push(control_token.to_owned());
    redactor.set_known_secrets(secrets);
    let settings = store
        .get_setting::<AuditSettings>(AUDIT_SETTINGS_KEY)
        .await?
        .unwrap_or_default();
    // A store that cannot be chosen fails the environment below with its reason.
    let vault = switchboard_auth::SecretStore::from_env(store.data_dir())
        .ok()
        .map(|secrets| Arc::new(crate::KeyringVault(secrets)) as Arc<dyn switchboard_audit::Vault>);
    Ok(AuditLog::start(db, redactor, settings, vault).await?)
}

/// What follows the store: everything rebuilt when another process (the
/// CLI, the desktop app) changes the configuration.
struct Followers {
    store: Store,
    hub: Arc<Hub>,
    guard: Arc<GuardState>,
    audit: Arc<AuditLog>,
    policy: Arc<Policy>,
    control_token: String,
}

impl Followers {
    async fn reload(&self) {
        match self.store.list_servers().await {
            Ok(servers) => {
                let mut secrets = configured_secrets(&servers);
                secrets.push(self.control_token.clone());
                self.audit.redactor().set_known_secrets(secrets);
                self.hub.reconcile(&servers).await;
            }
            Err(e) => tracing::warn!(error = %e, "cannot reload servers"),
        }
        if let Err(e) = self.policy.reload().await {
            tracing::warn!(error = %e, "cannot reload policy");
        }
        match self
            .store
            .get_setting::<AuditSettings>(AUDIT_SETTINGS_KEY)
            .await
        {
            Ok(settings) => self.audit.apply(settings.unwrap_or_default()),
            Err(e) => tracing::warn!(error = %e, "cannot reload audit settings"),
        }
        if let Err(e) = self.guard.tokens.reload().await {
            tracing::warn!(error = %e, "cannot reload clients");
        }
    }
}

/// Picks up changes other processes make to the store: SQLite is asked every
/// `every`; PostgreSQL announces them (other instances' included) at once.
async fn watch_store(followers: Followers, every: Duration, shutdown: CancellationToken) {
    let mut seen = followers.store.data_version().await.unwrap_or_default();
    loop {
        let version = tokio::select! {
            version = followers.store.next_change(seen, every) => version,
            () = shutdown.cancelled() => return,
        };
        match version {
            Ok(version) => {
                seen = version;
                followers.reload().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot check the store for changes");
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = shutdown.cancelled() => return,
                }
            }
        }
    }
}

/// Where a gateway that serves nobody sends the servers' news: nowhere.
struct Unheard;

impl Fanout for Unheard {
    fn notify(&self, _server: &str, _version: Option<&str>, _message: &crate::wire::Message) {}
    fn tools_changed(&self, _server: &str) {}
}

/// Connects to the configured servers without serving anything (for
/// `switchboard tools list` when no gateway runs) and returns each one's
/// tools or why it has none.
pub async fn collect_tools(
    store: &Store,
    only: Option<&str>,
    config: &GatewayConfig,
) -> Result<BTreeMap<String, std::result::Result<Vec<rmcp::model::Tool>, String>>> {
    let servers: Vec<_> = store
        .list_servers()
        .await?
        .into_iter()
        .filter(|s| only.is_none_or(|o| o == s.name))
        .collect();
    let hub = Hub::new(environment(store, Arc::new(Unheard), None, None, config)?);
    hub.reconcile(&servers).await;
    hub.settled(config.init_timeout).await;
    let mut out = BTreeMap::new();
    for up in hub.all() {
        let entry = match up.connection() {
            Ok(_) => Ok(up.tools().as_ref().clone()),
            Err(e) => Err(e.to_string()),
        };
        out.insert(up.name().to_owned(), entry);
    }
    hub.shutdown().await;
    Ok(out)
}
