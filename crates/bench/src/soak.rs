//! `switchboard-bench soak` (what `make soak` runs): one gateway under mixed
//! load for a long while, with faults, watched for leaks.
//!
//! `switchboard serve` (release, strict audit, a private data folder and HOME)
//! with three servers: the `echo-server` fixture over stdio (the gateway's
//! child) and over streamable HTTP, and the Python SDK's echo server over
//! legacy HTTP+SSE. N clients, each with its own token, speak 2025-11-25
//! (sessions) or 2026-07-28 (stateless) on `/mcp` or `/mcp/{server}`, calling
//! `echo` (and now and then a 32 KB `payload`) with a pause between calls.
//! Meanwhile faults at random moments (seeded): see [`faults`].
//!
//! Every minute one line: the gateway's RSS, open descriptors, processes
//! below it, calls answered, p50/p99, failures, the data folder's size. At
//! the end: RSS growth after warm-up, descriptors and processes with the load
//! stopped against before it started, the spread of the per-minute p99, the
//! audit records of `tools/call` against the calls each client saw answered,
//! and whether any process outlived the gateway. It writes `soak.json` and
//! fails when a check fails.

mod clients;
mod faults;
mod markdown;
mod summary;

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde::Serialize;
use tokio::sync::watch;

use crate::{
    AuditMode, BoxError,
    gateway::DataDir,
    procs,
    run::{self, progress},
};
use clients::Pool;
use faults::{Faults, Launch, Upstream};

/// The gateway's servers, as clients name them: stdio, streamable HTTP, SSE.
pub(crate) const SERVERS: [&str; 3] = ["echo-stdio", "echo-http", "echo-sse"];
/// Seconds between two samples of the gateway's process.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Once the load stops, the idle gateway is sampled this often until its
/// descriptors and processes are back to where they were before the load, at
/// most [`SETTLE_LIMIT`] (beyond a connection pool's 90 s idle timeout).
const SETTLE_STEP: Duration = Duration::from_secs(5);
const SETTLE_LIMIT: Duration = Duration::from_secs(150);

/// Options of `switchboard-bench soak`.
#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    /// Minutes of load (a short run, e.g. 2, checks that it works).
    #[arg(long, default_value_t = 30.0)]
    pub minutes: f64,
    /// Clients at once (revoked ones are replaced by new ones).
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Mean pause of a client between two calls, ms (each pause is drawn
    /// between 0 and twice this).
    #[arg(long, default_value_t = 100)]
    pub think_ms: u64,
    /// Mean seconds between two faults (0: no faults).
    #[arg(long, default_value_t = 20.0)]
    pub fault_every: f64,
    /// The audit log's size limit for the run, MB (`audit.max_mb`): above the
    /// run's records, so that retention prunes none of the records counted.
    #[arg(long, default_value_t = 8192)]
    pub audit_max_mb: u64,
    /// Seed of the faults and the calls (default: from the clock; printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where soak.json goes.
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,
    /// The `switchboard` binary (default: next to this one).
    #[arg(long)]
    pub switchboard: Option<PathBuf>,
    /// The `echo-server` fixture binary (default: next to this one).
    #[arg(long)]
    pub echo_server: Option<PathBuf>,
    /// Python with the MCP SDK, for the SSE server (default: the test venv,
    /// $SWITCHBOARD_VENV or ~/.cache/switchboard/venv).
    #[arg(long)]
    pub python: Option<PathBuf>,
}

/// The SSE echo server, written to the work folder at the start.
const SSE_SERVER: &str = include_str!("soak/sse_echo_server.py");

/// SplitMix64: a small seeded generator, so a seed repeats a run's choices.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// In [lo, hi).
    pub fn between(&mut self, lo: f64, hi: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * unit
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.between(0.0, 1.0) < p
    }
}

/// The gateway's process at one moment.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Sample {
    /// Seconds since the load started (negative: before).
    pub t_s: f64,
    pub rss_mb: f64,
    pub fds: usize,
    /// Processes below the gateway (its stdio servers).
    pub children: usize,
    /// Children that ended and were not reaped.
    pub zombies: usize,
    pub data_mb: f64,
    /// The gateway's CPU time so far (user + system), seconds.
    pub cpu_s: f64,
}

impl Sample {
    /// None when the gateway is gone.
    fn take(pid: u32, data_dir: &Path, since: Instant) -> Option<Self> {
        if !procs::is_alive(pid) {
            return None;
        }
        let stat = procs::stat(pid)?;
        Some(Self {
            t_s: since.elapsed().as_secs_f64(),
            rss_mb: crate::results::mb(stat.rss),
            fds: procs::open_fds(pid)?,
            children: procs::descendants(pid).len(),
            zombies: procs::children(pid)
                .into_iter()
                .filter(|&p| procs::is_zombie(p))
                .count(),
            data_mb: crate::results::mb(run::dir_size(data_dir)),
            cpu_s: stat.cpu,
        })
    }
}

fn binary(given: &Option<PathBuf>, name: &str) -> Result<PathBuf, BoxError> {
    given
        .clone()
        .or_else(|| procs::sibling_binary(name))
        .ok_or_else(|| {
            format!("`{name}` not found next to switchboard-bench; build it (see `make soak`)")
                .into()
        })
}

fn python(given: &Option<PathBuf>) -> Result<PathBuf, BoxError> {
    let venv = std::env::var_os("SWITCHBOARD_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/switchboard/venv")))
        .map(|v| v.join("bin/python"));
    given
        .clone()
        .or(venv)
        .filter(|p| p.is_file())
        .ok_or_else(|| {
            "no Python with the MCP SDK for the SSE server: run `bash tests/setup.sh` or pass --python"
                .into()
        })
}

pub async fn run(args: SoakArgs) -> Result<(), BoxError> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let switchboard = binary(&args.switchboard, "switchboard")?;
    let echo = binary(&args.echo_server, "echo-server")?;
    let python = python(&args.python)?;
    let tmp = tempfile::Builder::new()
        .prefix("switchboard-soak-")
        .tempdir()?;
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs)?;
    progress(&format!(
        "soak: seed {seed}, {} minutes, {} clients, work dir {}",
        args.minutes,
        args.clients,
        tmp.path().display()
    ));
    let load_at_start = crate::machine::loadavg();

    let script = tmp.path().join("sse_echo_server.py");
    std::fs::write(&script, SSE_SERVER)?;
    let (http, http_url) = Upstream::start(SERVERS[1], Launch::Echo(echo.clone()), &logs).await?;
    let (sse, sse_url) = Upstream::start(SERVERS[2], Launch::Sse { python, script }, &logs).await?;
    let mut upstreams = [http, sse];

    let data =
        DataDir::new(&switchboard, tmp.path().join("data"))?.with_home(tmp.path().join("home"))?;
    data.add_stdio_server(SERVERS[0], &echo, &["--stdio"])
        .await?;
    data.add_http_server(SERVERS[1], &http_url).await?;
    data.add_sse_server(SERVERS[2], &sse_url).await?;
    run::apply_audit_mode(&data, AuditMode::Strict).await?;
    data.set_setting("audit.max_mb", &args.audit_max_mb.to_string())
        .await?;
    let mut tokens = Vec::new();
    for i in 0..args.clients.max(1) {
        let name = format!("soak-{i:03}");
        tokens.push((name.clone(), data.add_client(&name).await?));
    }
    let gateway = data
        .serve(&logs.join("gateway.log"), Duration::from_secs(30))
        .await?;
    gateway
        .all_ready(SERVERS.len(), Duration::from_secs(30))
        .await?;
    let pid = gateway.pid();
    progress(&format!(
        "soak: gateway at {} (pid {pid}), servers {}",
        gateway.mcp_url,
        SERVERS.join(", ")
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    let idle_before = Sample::take(pid, &data.dir, started).ok_or("the gateway exited")?;
    let fds_before = procs::fd_kinds(pid, &data.dir);

    let (stop_tx, stop_rx) = watch::channel(false);
    let pool = Arc::new(Pool::new(
        &gateway.mcp_url,
        Duration::from_millis(args.think_ms),
        seed,
        stop_rx.clone(),
    ));
    for (name, token) in tokens {
        pool.spawn(name, token);
    }
    let fault_count = AtomicU64::new(0);
    let faults = Faults::new(
        &gateway,
        &mut upstreams,
        &pool,
        &echo,
        seed.rotate_left(17),
        args.fault_every,
        started,
        &fault_count,
    );
    let watch = Watch {
        pid,
        data_dir: &data.dir,
        pool: &pool,
        started,
        length: Duration::from_secs_f64(args.minutes.max(0.1) * 60.0),
        faults: &fault_count,
        cpu_at_start: idle_before.cpu_s,
    };
    let (watched, events) = tokio::join!(watch.run(stop_tx), faults.run(stop_rx));
    pool.join().await;
    let (rows, samples, mut errors) = match watched {
        Ok(watched) => watched,
        Err(e) => {
            let kept = tmp.keep();
            return Err(format!("{e}; logs and data kept in {}", kept.display()).into());
        }
    };
    clients::merge_errors(&mut errors, &pool.take_window().samples.errors);
    progress("soak: load stopped; waiting for the gateway to settle");
    let stopped = Instant::now();
    let idle_after = loop {
        tokio::time::sleep(SETTLE_STEP).await;
        let idle = Sample::take(pid, &data.dir, started).ok_or("the gateway exited")?;
        let back = idle.fds <= idle_before.fds && idle.children == idle_before.children;
        if back || stopped.elapsed() >= SETTLE_LIMIT {
            break idle;
        }
    };
    let settled_s = stopped.elapsed().as_secs_f64();
    let fds_after = procs::fd_kinds(pid, &data.dir);
    let records = summary::audit_counts(&gateway).await?;
    let load_at_end = crate::machine::loadavg();

    let below = procs::descendants(pid);
    let killed = gateway.stop().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let outlived: Vec<u32> = below.into_iter().filter(|&p| procs::is_alive(p)).collect();
    procs::kill_leftovers(&outlived);
    for upstream in &mut upstreams {
        upstream.stop().await;
    }

    let report = summary::Report::new(summary::Inputs {
        args: &args,
        seed,
        rows,
        samples,
        errors,
        events,
        idle_before,
        idle_after,
        settled_s,
        fds_before,
        fds_after,
        by_server: pool.take_by_server(),
        clients: pool.clients().iter().map(|c| c.figures()).collect(),
        records,
        leftover_processes: killed + outlived.len(),
        load_at_start,
        load_at_end,
    });
    let text = markdown::text(&report);
    println!("{text}");
    std::fs::create_dir_all(&args.out)?;
    let path = args.out.join("soak.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    println!("Written: {}", path.display());
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.hard && !c.pass)
        .map(|c| c.name.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        let kept = tmp.keep();
        Err(format!(
            "soak checks failed: {}; logs and data kept in {}",
            failed.join(", "),
            kept.display()
        )
        .into())
    }
}

/// The once-a-minute watch over the gateway while the load runs.
struct Watch<'a> {
    pid: u32,
    data_dir: &'a Path,
    pool: &'a Pool,
    started: Instant,
    length: Duration,
    faults: &'a AtomicU64,
    /// The gateway's CPU seconds when the load started.
    cpu_at_start: f64,
}

type Watched = (
    Vec<summary::Minute>,
    Vec<Sample>,
    std::collections::BTreeMap<String, u64>,
);

impl Watch<'_> {
    /// Samples every 10 s and prints a line a minute until the run's length
    /// is over (or the gateway dies); then tells the clients and faults to stop.
    async fn run(self, stop: watch::Sender<bool>) -> Result<Watched, BoxError> {
        let outcome = self.watch().await;
        let _ = stop.send(true);
        outcome
    }

    async fn watch(&self) -> Result<Watched, BoxError> {
        println!("{}", summary::MINUTE_HEADER);
        let mut rows = Vec::new();
        let mut samples = Vec::new();
        let mut errors = std::collections::BTreeMap::new();
        let mut faults_before = 0;
        let mut cpu_before = (0.0, self.cpu_at_start);
        let mut tick = 1u32;
        loop {
            let at = self.started + SAMPLE_EVERY * tick;
            let end = self.started + self.length;
            tokio::time::sleep_until(at.min(end).into()).await;
            tick += 1;
            let sample = Sample::take(self.pid, self.data_dir, self.started).ok_or_else(|| {
                format!(
                    "the gateway (pid {}) exited {:.0} s into the load",
                    self.pid,
                    self.started.elapsed().as_secs_f64()
                )
            })?;
            samples.push(sample);
            let done = at >= end;
            let minute_over = sample.t_s + 0.5 >= 60.0 * (rows.len() + 1) as f64;
            if minute_over || done {
                let window = self.pool.take_window();
                clients::merge_errors(&mut errors, &window.samples.errors);
                let faults = self.faults.load(Ordering::Relaxed);
                let cpu_pct = 100.0 * (sample.cpu_s - cpu_before.1) / (sample.t_s - cpu_before.0);
                cpu_before = (sample.t_s, sample.cpu_s);
                let row = summary::Minute::new(
                    rows.len() + 1,
                    &window,
                    sample,
                    cpu_pct,
                    faults - faults_before,
                );
                faults_before = faults;
                println!("{}", row.line());
                rows.push(row);
            }
            if done {
                return Ok((rows, samples, errors));
            }
        }
    }
}
