//! Faults at random moments, one at a time: servers killed (`kill -9`) and
//! started again, restarted, disabled and enabled through the control API, a
//! tool's permission changed, a server added and removed, a client revoked and
//! another added. Each fault restores what it changed before the next one.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde::Serialize;
use serde_json::json;
use tokio::{process::Command, sync::watch};

use super::{Rng, SERVERS, clients::Pool};
use crate::{BoxError, gateway::Gateway, procs, run};

/// Longest wait for a server to be ready again after a fault.
const RECOVERY_LIMIT: Duration = Duration::from_secs(45);
/// Longest a fault may take as a whole.
const FAULT_LIMIT: Duration = Duration::from_secs(120);
/// The arguments of the extra stdio server that is added and removed (unlike
/// the permanent one's, so each can be told apart among the gateway's children).
const EXTRA_ARGS: [&str; 3] = ["--stdio", "--tools", "3"];

/// How a server the soak runs itself is started.
#[derive(Debug, Clone)]
pub(crate) enum Launch {
    /// The `echo-server` fixture over streamable HTTP.
    Echo(PathBuf),
    /// The Python SDK's echo server over legacy HTTP+SSE.
    Sse { python: PathBuf, script: PathBuf },
}

/// An HTTP or SSE server that the soak runs (and kills, and starts again on its port).
pub(crate) struct Upstream {
    /// Its name in the gateway.
    pub name: &'static str,
    launch: Launch,
    port: u16,
    proc: Option<procs::Proc>,
    starts: usize,
    logs: PathBuf,
}

impl Upstream {
    /// Starts it on a free port; returns it and its URL.
    pub async fn start(
        name: &'static str,
        launch: Launch,
        logs: &Path,
    ) -> Result<(Self, String), BoxError> {
        let mut upstream = Self {
            name,
            launch,
            port: 0,
            proc: None,
            starts: 0,
            logs: logs.to_owned(),
        };
        let url = upstream.spawn().await?;
        upstream.port = run::url_addr(&url)?.port();
        Ok((upstream, url))
    }

    async fn spawn(&mut self) -> Result<String, BoxError> {
        let port = self.port.to_string();
        let mut command = match &self.launch {
            Launch::Echo(echo) => {
                let mut c = Command::new(echo);
                c.args(["--port", &port]);
                c
            }
            Launch::Sse { python, script } => {
                let mut c = Command::new(python);
                c.arg(script).args(["--port", &port]);
                c
            }
        };
        self.starts += 1;
        let log = self.logs.join(format!("{}-{}.log", self.name, self.starts));
        let (proc, url) = run::start_announcing(self.name, &mut command, &log).await?;
        self.proc = Some(proc);
        Ok(url)
    }

    /// Stops it (SIGTERM).
    pub async fn stop(&mut self) {
        if let Some(proc) = self.proc.take() {
            proc.stop(Duration::from_secs(5)).await;
        }
    }
}

/// The kinds of fault, with how often each is picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    KillStdio,
    KillUpstream,
    Restart,
    DisableEnable,
    Permission,
    AddRemoveServer,
    ClientChurn,
}

const FAULTS: [(Fault, u32); 7] = [
    (Fault::KillStdio, 3),
    (Fault::KillUpstream, 3),
    (Fault::Restart, 2),
    (Fault::DisableEnable, 2),
    (Fault::Permission, 2),
    (Fault::AddRemoveServer, 2),
    (Fault::ClientChurn, 3),
];

impl Fault {
    fn pick(rng: &mut Rng) -> Self {
        let total: u32 = FAULTS.iter().map(|(_, w)| w).sum();
        let mut at = rng.below(total as usize) as u32;
        for (fault, weight) in FAULTS {
            if at < weight {
                return fault;
            }
            at -= weight;
        }
        Fault::Restart
    }
}

/// One fault as it happened.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FaultEvent {
    /// Seconds since the load started.
    pub at_s: f64,
    pub kind: String,
    /// What was done, or why it failed.
    pub detail: String,
    pub ok: bool,
}

/// What the fault loop needs.
pub(crate) struct Faults<'a> {
    pub gateway: &'a Gateway,
    pub upstreams: &'a mut [Upstream],
    pub pool: &'a Arc<Pool>,
    pub echo: &'a Path,
    pub rng: Rng,
    /// Mean seconds between faults.
    pub every: f64,
    pub started: Instant,
    /// Faults so far (the monitor prints them per minute).
    pub count: &'a AtomicU64,
    extras: usize,
}

impl<'a> Faults<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gateway: &'a Gateway,
        upstreams: &'a mut [Upstream],
        pool: &'a Arc<Pool>,
        echo: &'a Path,
        seed: u64,
        every: f64,
        started: Instant,
        count: &'a AtomicU64,
    ) -> Self {
        Self {
            gateway,
            upstreams,
            pool,
            echo,
            rng: Rng::new(seed),
            every,
            started,
            count,
            extras: 0,
        }
    }

    /// Injects faults until `stop` turns true; returns them in order.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Vec<FaultEvent> {
        let mut events = Vec::new();
        if self.every <= 0.0 {
            return events;
        }
        loop {
            let wait = Duration::from_secs_f64(self.every * self.rng.between(0.5, 1.5));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
            let fault = Fault::pick(&mut self.rng);
            let at_s = self.started.elapsed().as_secs_f64();
            let (kind, outcome) = match tokio::time::timeout(FAULT_LIMIT, self.apply(fault)).await {
                Ok((kind, outcome)) => (kind, outcome),
                Err(_) => (format!("{fault:?}"), Err("did not finish in 120 s".into())),
            };
            let event = FaultEvent {
                at_s,
                ok: outcome.is_ok(),
                detail: outcome.unwrap_or_else(|e| e.to_string()),
                kind,
            };
            crate::run::progress(&format!(
                "soak {:>5.0} s: {}: {}{}",
                event.at_s,
                event.kind,
                event.detail,
                if event.ok { "" } else { " (FAILED)" }
            ));
            self.count.fetch_add(1, Ordering::Relaxed);
            events.push(event);
        }
        events
    }

    /// Applies one fault; returns its kind and what happened.
    async fn apply(&mut self, fault: Fault) -> (String, Result<String, BoxError>) {
        match fault {
            Fault::KillStdio => ("kill -9 stdio server".into(), self.kill_stdio().await),
            Fault::KillUpstream => {
                let index = self.rng.below(self.upstreams.len());
                let kind = format!("kill -9 {} server", self.upstreams[index].name);
                (kind, self.kill_upstream(index).await)
            }
            Fault::Restart => {
                let name = SERVERS[self.rng.below(SERVERS.len())];
                let outcome = async {
                    self.gateway
                        .rpc("server_restart", json!({ "name": name }))
                        .await?;
                    self.ready_again(name).await
                };
                (format!("restart {name}"), outcome.await)
            }
            Fault::DisableEnable => {
                let name = SERVERS[self.rng.below(SERVERS.len())];
                let off = Duration::from_secs_f64(self.rng.between(2.0, 8.0));
                (
                    format!("disable, enable {name}"),
                    self.disable(name, off).await,
                )
            }
            Fault::Permission => {
                let name = SERVERS[self.rng.below(SERVERS.len())];
                let tool = if self.rng.chance(0.5) {
                    "echo"
                } else {
                    "payload"
                };
                let held = Duration::from_secs_f64(self.rng.between(3.0, 10.0));
                let outcome = self.deny(name, tool, held).await;
                (format!("deny, then clear {name} {tool}"), outcome)
            }
            Fault::AddRemoveServer => ("add, remove a server".into(), self.add_remove().await),
            Fault::ClientChurn => ("revoke a client, add one".into(), self.churn().await),
        }
    }

    /// Waits until `name` is ready again; returns how long that took.
    async fn ready_again(&self, name: &str) -> Result<String, BoxError> {
        let since = Instant::now();
        // Give the gateway a moment to notice what happened.
        tokio::time::sleep(Duration::from_millis(300)).await;
        loop {
            let state = self.gateway.server_state(name).await?;
            if state.as_deref() == Some("ready") {
                return Ok(format!(
                    "ready again after {:.1} s",
                    since.elapsed().as_secs_f64()
                ));
            }
            if since.elapsed() > RECOVERY_LIMIT {
                return Err(format!("{name} not ready after {RECOVERY_LIMIT:?}: {state:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The gateway's children running `echo-server` with exactly `args`.
    fn stdio_servers(&self, args: &[&str]) -> Vec<u32> {
        procs::descendants(self.gateway.pid())
            .into_iter()
            .filter(|&p| {
                let line = procs::cmdline(p);
                procs::comm(p).as_deref() == Some("echo-server")
                    && line.len() > args.len()
                    && line[line.len() - args.len()..] == *args
            })
            .collect()
    }

    async fn kill_stdio(&mut self) -> Result<String, BoxError> {
        let pids = self.stdio_servers(&["--stdio"]);
        let Some(&pid) = pids.first() else {
            return Err("no stdio echo server is running".into());
        };
        procs::kill_hard(pid);
        let recovered = self.ready_again(SERVERS[0]).await?;
        Ok(format!("pid {pid}; {recovered}"))
    }

    async fn kill_upstream(&mut self, index: usize) -> Result<String, BoxError> {
        let pause = Duration::from_secs_f64(self.rng.between(1.0, 6.0));
        let upstream = &mut self.upstreams[index];
        let name = upstream.name;
        let pid = match upstream.proc.take() {
            Some(proc) => {
                let pid = proc.pid;
                proc.kill().await;
                pid
            }
            None => 0,
        };
        tokio::time::sleep(pause).await;
        upstream.spawn().await?;
        let recovered = self.ready_again(name).await?;
        Ok(format!(
            "pid {pid}, down {:.1} s; {recovered}",
            pause.as_secs_f64()
        ))
    }

    async fn disable(&mut self, name: &str, off: Duration) -> Result<String, BoxError> {
        let set = |enabled: bool| {
            self.gateway.rpc(
                "server_set_enabled",
                json!({ "name": name, "enabled": enabled }),
            )
        };
        set(false).await?;
        tokio::time::sleep(off).await;
        set(true).await?;
        let recovered = self.ready_again(name).await?;
        Ok(format!("off {:.1} s; {recovered}", off.as_secs_f64()))
    }

    async fn deny(&mut self, server: &str, tool: &str, held: Duration) -> Result<String, BoxError> {
        let set = |permission: serde_json::Value| {
            self.gateway.rpc(
                "permission_set",
                json!({ "server": server, "tool": tool, "permission": permission }),
            )
        };
        set(json!("deny")).await?;
        tokio::time::sleep(held).await;
        set(serde_json::Value::Null).await?;
        Ok(format!("denied for {:.1} s", held.as_secs_f64()))
    }

    async fn add_remove(&mut self) -> Result<String, BoxError> {
        self.extras += 1;
        let name = format!("extra-{}", self.extras);
        let transport = json!({
            "kind": "stdio",
            "command": self.echo.to_string_lossy(),
            "args": EXTRA_ARGS,
            "env": [],
        });
        self.gateway
            .rpc(
                "server_add",
                json!({ "name": name, "transport": transport }),
            )
            .await?;
        let ready = self.ready_again(&name).await;
        let kept = Duration::from_secs_f64(self.rng.between(1.0, 4.0));
        tokio::time::sleep(kept).await;
        self.gateway
            .rpc("server_remove", json!({ "name": name }))
            .await?;
        let ready = ready?;
        // Its process must end with it.
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let left = self.stdio_servers(&EXTRA_ARGS);
            if left.is_empty() {
                return Ok(format!("{name}: {ready}; removed, its process ended"));
            }
            if Instant::now() > until {
                return Err(format!(
                    "{name} removed, but its process still runs after 10 s: pids {left:?}"
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn churn(&mut self) -> Result<String, BoxError> {
        let live = self.pool.live();
        let gone = if live.len() > 1 {
            let client = &live[self.rng.below(live.len())];
            self.gateway
                .rpc("client_revoke", json!({ "name": client.name }))
                .await?;
            self.pool.revoked(client);
            client.name.clone()
        } else {
            "none".into()
        };
        let name = self.pool.next_name();
        let added = self
            .gateway
            .rpc("client_add", json!({ "name": name }))
            .await?;
        let token = added
            .get("token")
            .and_then(|t| t.as_str())
            .ok_or("client_add answered without a token")?
            .to_owned();
        self.pool.spawn(name.clone(), token);
        Ok(format!("revoked {gone}, added {name}"))
    }
}

/// Faults by kind: how many, and how many failed.
pub(crate) fn by_kind(events: &[FaultEvent]) -> BTreeMap<String, (u64, u64)> {
    let mut kinds: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for event in events {
        // "kill -9 echo-http server" and "restart echo-sse" group by what was done.
        let entry = kinds.entry(event.kind.clone()).or_default();
        entry.0 += 1;
        if !event.ok {
            entry.1 += 1;
        }
    }
    kinds
}
