//! `switchboard doctor`: checks what commonly goes wrong, each problem with
//! its fix. The CLI prints the [`Report`]; the UI shows the same structure.

use std::{collections::BTreeMap, ffi::OsString, net::SocketAddr, path::Path};

use serde::Serialize;
use switchboard_auth::{SecretRef, SecretStore, has_placeholders};
use switchboard_store::{ServerRecord, Store, TransportConfig};

mod audit;
mod context;
mod path;
mod sandbox;

pub use audit::{AuditState, megabytes};
pub use context::ContextState;
use path::command_name;
pub use path::{login_path, which};

use crate::{
    ClientKind, Platform,
    detect::{FileState, detect},
    install::{self, InstallStatus, Mode},
};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fine.
    Ok,
    /// Worth knowing; nothing is broken.
    Info,
    /// Something may not work as expected.
    Warning,
    /// Something does not work.
    Problem,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Group: `data`, `gateway`, `runtime`, `keyring`, `server`, `client`.
    pub area: &'static str,
    /// What was checked (`node`, a server's name, a client's id).
    pub subject: String,
    /// How bad.
    pub severity: Severity,
    /// What was found.
    pub detail: String,
    /// How to fix it (always present for warnings and problems).
    pub fix: Option<String>,
}

impl Check {
    fn new(
        area: &'static str,
        subject: impl Into<String>,
        severity: Severity,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            area,
            subject: subject.into(),
            severity,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// Everything the doctor found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The findings, in the order checked.
    pub checks: Vec<Check>,
}

impl Report {
    /// Findings at least this severe.
    pub fn at_least(&self, severity: Severity) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(move |c| c.severity >= severity)
    }

    /// How many problems.
    pub fn problems(&self) -> usize {
        self.at_least(Severity::Problem).count()
    }
}

/// What a running gateway says about one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerState {
    /// `starting`, `ready`, `failed`, `stopped`, `blocked`.
    pub state: String,
    /// Its last error.
    pub error: Option<String>,
}

/// Whether a gateway runs for the data dir.
#[derive(Debug, Clone)]
pub enum GatewayProbe {
    /// It answered.
    Running {
        /// Its MCP URL.
        mcp_url: String,
        /// Status per enabled server.
        servers: BTreeMap<String, ServerState>,
    },
    /// `gateway.json` exists but nothing answers at its address.
    Stale {
        /// The address it names.
        mcp_url: String,
    },
    /// No gateway.
    NotRunning,
}

/// What the doctor looks at; the caller gathers the parts that need the gateway.
#[derive(Debug)]
pub struct Input<'a> {
    /// The data directory.
    pub data_dir: &'a Path,
    /// Where client configs are.
    pub platform: &'a Platform,
    /// The store, or why it did not open.
    pub store: std::result::Result<&'a Store, String>,
    /// The secret store the user chose, or why there is none.
    pub secrets: std::result::Result<&'a SecretStore, String>,
    /// The gateway.
    pub gateway: GatewayProbe,
    /// The address `switchboard serve` listens on by default.
    pub listen: SocketAddr,
    /// The login shell's PATH (stdio servers are started with it).
    pub path: OsString,
    /// Each client's view against its budget (empty when no gateway runs).
    pub contexts: Vec<ContextState>,
    /// What the kernel can enforce for stdio servers, or why that is unknown.
    pub sandbox: std::result::Result<switchboard_sandbox::Support, String>,
    /// The audit log (None when it could not be opened).
    pub audit: Option<AuditState>,
}

/// Runs every check.
pub async fn run(input: Input<'_>) -> Report {
    let mut report = Report::default();
    data_dir(&input, &mut report);
    gateway(&input, &mut report);
    let servers = match input.store {
        Ok(store) => store.list_servers().await.unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    runtimes(&input, &servers, &mut report);
    keyring(&input, &servers, &mut report);
    for server in &servers {
        check_server(&input, server, &mut report);
    }
    sandbox::sandbox(&input, &servers, &mut report);
    if let Ok(store) = input.store {
        clients(&input, store, &mut report).await;
    }
    context::budgets(&input, &mut report);
    audit::storage(&input, &mut report);
    report
}

fn data_dir(input: &Input<'_>, report: &mut Report) {
    let dir = input.data_dir;
    if !dir.is_dir() {
        report.checks.push(
            Check::new(
                "data",
                dir.display().to_string(),
                Severity::Problem,
                "the data directory does not exist",
            )
            .fix(format!(
                "create it: `mkdir -p {}` (or pass --data-dir)",
                dir.display()
            )),
        );
        return;
    }
    let probe = dir.join(".doctor-write-test");
    let writable = std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe));
    if let Err(e) = writable {
        report.checks.push(
            Check::new(
                "data",
                dir.display().to_string(),
                Severity::Problem,
                format!("cannot write to the data directory: {e}"),
            )
            .fix(format!(
                "give your user write access to {} (or pass --data-dir)",
                dir.display()
            )),
        );
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0o700);
        if mode & 0o077 != 0 {
            report.checks.push(
                Check::new(
                    "data",
                    dir.display().to_string(),
                    Severity::Warning,
                    format!("the data directory is readable by other users (mode {mode:o})"),
                )
                .fix(format!("`chmod 700 {}`", dir.display())),
            );
            return;
        }
    }
    match &input.store {
        Ok(_) => report.checks.push(Check::new("data", dir.display().to_string(), Severity::Ok, "data directory and database are usable")),
        Err(e) => report.checks.push(
            Check::new("data", dir.display().to_string(), Severity::Problem, format!("the database cannot be opened: {e}"))
                .fix("move the damaged switchboard.db aside and run the command again (a new one is created), or restore it from a backup"),
        ),
    }
}

fn gateway(input: &Input<'_>, report: &mut Report) {
    match &input.gateway {
        GatewayProbe::Running { mcp_url, .. } => report.checks.push(Check::new(
            "gateway",
            mcp_url.clone(),
            Severity::Ok,
            format!("the gateway is running at {mcp_url}"),
        )),
        GatewayProbe::Stale { mcp_url } => report.checks.push(
            Check::new(
                "gateway",
                mcp_url.clone(),
                Severity::Warning,
                format!("gateway.json names {mcp_url}, but nothing answers there (the gateway stopped without cleaning up)"),
            )
            .fix("start it with `switchboard serve`; the stale file is replaced"),
        ),
        GatewayProbe::NotRunning => {
            let listen = input.listen;
            match std::net::TcpListener::bind(listen) {
                Ok(_) => report.checks.push(
                    Check::new(
                        "gateway",
                        listen.to_string(),
                        Severity::Info,
                        format!("no gateway is running; port {} is free", listen.port()),
                    )
                    .fix("start it with `switchboard serve`"),
                ),
                Err(e) => report.checks.push(
                    Check::new(
                        "gateway",
                        listen.to_string(),
                        Severity::Problem,
                        format!("no gateway is running and {listen} is taken by another program ({e})"),
                    )
                    .fix(
                        "stop that program, or run `switchboard serve --listen 127.0.0.1:PORT` with a free port and reinstall the clients (`switchboard clients install KIND`)"
                    ),
                ),
            }
        }
    }
}

const RUNTIMES: &[(&str, &str)] = &[
    (
        "node",
        "install Node.js (https://nodejs.org, or your package manager's `nodejs`)",
    ),
    (
        "npx",
        "install Node.js, which includes npx (https://nodejs.org)",
    ),
    (
        "uvx",
        "install uv, which includes uvx (https://docs.astral.sh/uv/getting-started/installation/)",
    ),
    (
        "docker",
        "install Docker (https://docs.docker.com/get-docker/) and start it",
    ),
];

fn runtimes(input: &Input<'_>, servers: &[ServerRecord], report: &mut Report) {
    for (program, how) in RUNTIMES {
        let users: Vec<&str> = servers
            .iter()
            .filter(|s| s.enabled)
            .filter(|s| match &s.transport {
                // A command given by its path does not depend on PATH.
                TransportConfig::Stdio { command, .. }
                    if !command.contains('/') && !command.contains('\\') =>
                {
                    let name = command_name(command);
                    // npx runs node.
                    name == *program || (*program == "node" && name == "npx")
                }
                _ => false,
            })
            .map(|s| s.name.as_str())
            .collect();
        match which(program, &input.path) {
            Some(found) => report.checks.push(Check::new(
                "runtime",
                *program,
                Severity::Ok,
                format!("{} (on your login shell's PATH)", found.display()),
            )),
            None if users.is_empty() => report.checks.push(Check::new(
                "runtime",
                *program,
                Severity::Info,
                "not found on your login shell's PATH; no server needs it",
            )),
            None => report.checks.push(
                Check::new(
                    "runtime",
                    *program,
                    Severity::Problem,
                    format!(
                        "not found on your login shell's PATH; needed by {}",
                        users.join(", ")
                    ),
                )
                .fix((*how).to_owned()),
            ),
        }
    }
}

fn secrets_of(transport: &TransportConfig) -> Vec<SecretRef> {
    transport
        .pairs()
        .values()
        .filter_map(|v| SecretRef::parse(v))
        .collect()
}

fn keyring(input: &Input<'_>, servers: &[ServerRecord], report: &mut Report) {
    let with_secrets: Vec<&str> = servers
        .iter()
        .filter(|s| has_placeholders(s.transport.pairs()))
        .map(|s| s.name.as_str())
        .collect();
    let result = match &input.secrets {
        Ok(store) => store
            .check()
            .map(|()| store.describe())
            .map_err(|e| match e {
                // The fix below says what to do; the detail keeps only the cause.
                switchboard_auth::SecretError::Unavailable(why) => why,
                other => other.to_string(),
            }),
        Err(e) => Err(e.clone()),
    };
    let fix = format!(
        "start and unlock your keyring (GNOME Keyring, KWallet, Keychain); on a machine without one, opt in to a plain file with {}=file",
        switchboard_auth::SECRET_STORE_ENV
    );
    match result {
        Ok(what) => report.checks.push(Check::new(
            "keyring",
            what,
            Severity::Ok,
            "secrets can be stored and read",
        )),
        // Nothing needs it yet: say so without raising an alarm.
        Err(e) if with_secrets.is_empty() => report.checks.push(
            Check::new(
                "keyring",
                "secrets",
                Severity::Info,
                format!("not available ({e}); no server keeps a secret yet"),
            )
            .fix(fix),
        ),
        Err(e) => report.checks.push(
            Check::new(
                "keyring",
                "secrets",
                Severity::Problem,
                format!(
                    "not available ({e}); {} cannot get their secrets",
                    with_secrets.join(", ")
                ),
            )
            .fix(fix),
        ),
    }
}

fn check_server(input: &Input<'_>, server: &ServerRecord, report: &mut Report) {
    let name = server.name.clone();
    let area = "server";
    if !server.enabled {
        report.checks.push(
            Check::new(area, name.clone(), Severity::Info, "disabled")
                .fix(format!("`switchboard servers enable {name}` to use it")),
        );
        return;
    }
    let mut found = false;
    if let TransportConfig::Stdio { command, .. } = &server.transport {
        if which(command, &input.path).is_none() {
            found = true;
            report.checks.push(
                Check::new(area, name.clone(), Severity::Problem, format!("its command `{command}` is not on your login shell's PATH"))
                    .fix(format!(
                        "install `{}`, or change the server: `switchboard servers remove {name}` and add it again with the full path",
                        command_name(command)
                    )),
            );
        }
        if !server.launch_approved() {
            found = true;
            report.checks.push(
                Check::new(area, name.clone(), Severity::Problem, "its command waits for your approval and does not start")
                    .fix(format!("review it in `switchboard servers list`, then `switchboard servers approve {name}`")),
            );
        }
    }
    if let Ok(secrets) = input.secrets {
        for secret in secrets_of(&server.transport) {
            if let Ok(None) = secrets.get(&secret) {
                found = true;
                report.checks.push(
                    Check::new(area, name.clone(), Severity::Problem, format!("its secret {secret} is missing from the {}", secrets.describe()))
                        .fix(format!("add the server again with the value: `switchboard servers remove {name}`, then `switchboard servers add {name} …`")),
                );
            }
        }
    }
    if let GatewayProbe::Running { servers, .. } = &input.gateway {
        match servers.get(&name) {
            // Waiting for approval: reported above.
            Some(status) if status.state == "blocked" => {}
            Some(status)
                if status.state == "failed"
                    || (status.state != "ready" && status.error.is_some()) =>
            {
                let error = status.error.clone().unwrap_or_else(|| status.state.clone());
                report.checks.push(
                    Check::new(
                        area,
                        name.clone(),
                        Severity::Problem,
                        format!("last start failed: {error}"),
                    )
                    .fix(format!(
                        "read {} and fix what it says; the gateway retries on its own",
                        input
                            .data_dir
                            .join("logs")
                            .join("servers")
                            .join(format!("{name}.log"))
                            .display()
                    )),
                );
            }
            Some(status) if !found => report.checks.push(Check::new(
                area,
                name.clone(),
                Severity::Ok,
                status.state.clone(),
            )),
            _ => {}
        }
    } else if !found {
        report.checks.push(Check::new(
            area,
            name,
            Severity::Ok,
            "configured (no gateway running to ask about it)",
        ));
    }
}

async fn clients(input: &Input<'_>, store: &Store, report: &mut Report) {
    let area = "client";
    let running_url = match &input.gateway {
        GatewayProbe::Running { mcp_url, .. } => Some(mcp_url.clone()),
        _ => None,
    };
    for detected in detect(input.platform, input.data_dir, None) {
        let id = detected.kind.id();
        for file in &detected.files {
            if let FileState::Malformed { error } = &file.state {
                report
                    .checks
                    .push(
                        Check::new(area, id, Severity::Problem, error.clone()).fix(format!(
                            "fix the syntax of {} (Switchboard leaves it alone until then)",
                            file.path.display()
                        )),
                    );
            }
        }
        if !detected.installed {
            continue;
        }
        match &detected.switchboard {
            InstallStatus::NotInstalled => report.checks.push(
                Check::new(area, id, Severity::Info, format!("{} does not use Switchboard", detected.name))
                    .fix(format!("`switchboard clients install {id}` (see first with --dry-run)")),
            ),
            InstallStatus::EntryMissing => report.checks.push(
                Check::new(area, id, Severity::Warning, "Switchboard was installed, but its entry is gone from the config")
                    .fix(format!("`switchboard clients install {id}` again, or `switchboard clients uninstall {id}` to forget it")),
            ),
            InstallStatus::Installed { mode, .. } => {
                report.checks.push(client_token_check(input, store, detected.kind, *mode, running_url.as_deref()).await);
            }
        }
    }
}

async fn client_token_check(
    input: &Input<'_>,
    store: &Store,
    kind: ClientKind,
    mode: Option<Mode>,
    running_url: Option<&str>,
) -> Check {
    let id = kind.id();
    let reinstall = format!("`switchboard clients install {id}`");
    let token = match install::installed_token(input.platform, kind) {
        Ok(Some(token)) => token,
        _ => {
            return Check::new(
                "client",
                id,
                Severity::Problem,
                "its Switchboard entry carries no token",
            )
            .fix(reinstall);
        }
    };
    match store
        .client_by_token_hash(&switchboard_auth::hash_token(&token))
        .await
    {
        Ok(Some(_)) => {}
        _ => {
            return Check::new(
                "client",
                id,
                Severity::Problem,
                "its token is not valid any more (the client was removed or re-created)",
            )
            .fix(reinstall);
        }
    }
    if let (Some(running), Some(Mode::Http)) = (running_url, mode) {
        let location = input.platform.user_config(kind);
        let points_at = crate::LoadedFile::load(kind, &location.path)
            .ok()
            .and_then(|f| f.doc.entry(crate::ENTRY_NAME))
            .and_then(|v| {
                ["url", "serverUrl", "httpUrl"]
                    .iter()
                    .find_map(|k| v.get(*k).and_then(|u| u.as_str()).map(str::to_owned))
            });
        if let Some(url) = points_at
            && url.trim_end_matches('/') != running.trim_end_matches('/')
        {
            return Check::new(
                "client",
                id,
                Severity::Problem,
                format!("points at {url}, but the gateway listens at {running}"),
            )
            .fix(reinstall);
        }
    }
    Check::new(
        "client",
        id,
        Severity::Ok,
        format!(
            "uses Switchboard ({})",
            match mode {
                Some(Mode::Stdio) => "stdio bridge",
                Some(Mode::Http) => "HTTP",
                None => "entry found",
            }
        ),
    )
}
