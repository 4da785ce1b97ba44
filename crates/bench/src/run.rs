//! `switchboard-bench run`: per client protocol and server era, the interleaved
//! A/B/C/D/E paths, then the scale run.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use serde::Serialize;
use tokio::process::Command;

pub use crate::results::{CellResult, Matrix, PathResult};
use crate::{
    AuditMode, BoxError, RunArgs,
    gateway::{DataDir, Gateway},
    load::{self, Protocol, Session, Stop, Target, Workload},
    meter::{Meter, Watch, settle},
    nginx, procs,
    report::{self, Report},
    results::{GatewayMemory, Phase, cell_result, mb},
    scale,
};

/// The hop between the client and the echo server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Hop {
    /// A: no hop.
    Direct,
    /// B: nginx `proxy_pass`.
    Nginx,
    /// C: the gateway, HTTP upstream.
    GatewayHttp,
    /// D: the gateway, stdio upstream.
    GatewayStdio,
    /// E: the gateway's `/mcp`, every server's tools in one list (the HTTP upstream's).
    GatewayAll,
}

/// One way a client reaches the echo server: the hop and, for the gateway, its audit mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PathId {
    pub hop: Hop,
    /// None: the gateway as configured (no audit switch was applied), or not a gateway.
    pub audit: Option<AuditMode>,
}

impl PathId {
    /// "A", "B", "C strict", …
    pub fn short(self) -> String {
        let letter = match self.hop {
            Hop::Direct => "A",
            Hop::Nginx => "B",
            Hop::GatewayHttp => "C",
            Hop::GatewayStdio => "D",
            Hop::GatewayAll => "E",
        };
        match self.audit {
            Some(mode) => format!("{letter} {}", mode.name()),
            None => letter.to_owned(),
        }
    }

    pub fn label(self) -> String {
        let name = match self.hop {
            Hop::Direct => "A direct",
            Hop::Nginx => "B nginx",
            Hop::GatewayHttp => "C gateway http",
            Hop::GatewayStdio => "D gateway stdio",
            Hop::GatewayAll => "E gateway /mcp",
        };
        match self.audit {
            Some(mode) => format!("{name} {}", mode.name()),
            None => name.to_owned(),
        }
    }

    pub fn is_gateway(self) -> bool {
        matches!(
            self.hop,
            Hop::GatewayHttp | Hop::GatewayStdio | Hop::GatewayAll
        )
    }
}

/// A client protocol and a server era: one section of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pair {
    pub client: Protocol,
    pub server: Protocol,
}

impl Pair {
    pub fn label(self) -> String {
        format!("{} clients, {} servers", era(self.client), era(self.server))
    }

    /// The protocol of the direct and nginx paths: the client's, unless the
    /// server cannot speak it (a stateless client of a session-only server
    /// needs the gateway to bridge; directly, a session client is the reference).
    pub fn direct_client(self) -> Protocol {
        match (self.client, self.server) {
            (Protocol::Stateless, Protocol::Session) => Protocol::Session,
            (client, _) => client,
        }
    }
}

fn era(p: Protocol) -> &'static str {
    match p {
        Protocol::Session => "session (2025-11-25)",
        Protocol::Stateless => "stateless (2026-07-28)",
    }
}

impl AuditMode {
    pub fn name(self) -> &'static str {
        match self {
            AuditMode::Strict => "strict",
            AuditMode::Relaxed => "relaxed",
        }
    }
}

/// Resolved programs.
pub struct Binaries {
    pub switchboard: PathBuf,
    pub echo: PathBuf,
    pub nginx: PathBuf,
}

fn binaries(args: &RunArgs) -> Result<Binaries, BoxError> {
    let found = |given: &Option<PathBuf>, name: &str| {
        given
            .clone()
            .or_else(|| procs::sibling_binary(name))
            .ok_or_else(|| {
                format!("`{name}` not found next to switchboard-bench; build it (see `make bench`)")
            })
    };
    Ok(Binaries {
        switchboard: found(&args.switchboard, "switchboard")?,
        echo: found(&args.echo_server, "echo-server")?,
        nginx: args
            .nginx
            .clone()
            .or_else(|| procs::find_program("nginx"))
            .ok_or("nginx not found: install it (`bash tests/setup.sh --bench`)")?,
    })
}

/// Progress goes to stderr; the table goes to stdout.
pub fn progress(message: &str) {
    eprintln!("[bench] {message}");
}

/// The audit switch: what was asked and what was possible.
#[derive(Debug, Clone, Serialize)]
pub struct AuditPlan {
    pub requested: Vec<AuditMode>,
    pub applied: bool,
    pub note: String,
}

/// Sets the gateway's audit mode in `data` before `serve` (`switchboard settings
/// set audit.strict …`) and reads it back. Err when this gateway has no such
/// setting: then C and D run once, as configured, and the report says so.
pub(crate) async fn apply_audit_mode(data: &DataDir, mode: AuditMode) -> Result<(), BoxError> {
    let strict = mode == AuditMode::Strict;
    data.set_setting("audit.strict", if strict { "true" } else { "false" })
        .await?;
    let shown = data.settings_json().await?;
    match shown
        .pointer("/audit/strict")
        .and_then(serde_json::Value::as_bool)
    {
        Some(v) if v == strict => Ok(()),
        _ => Err(format!("audit.strict did not read back as {strict}: {shown}").into()),
    }
}

pub(crate) fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

pub(crate) fn url_addr(url: &str) -> Result<SocketAddr, BoxError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http URL: {url}"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    Ok(authority.parse()?)
}

/// Starts the echo server over streamable HTTP on a free port; returns it and its URL.
pub(crate) async fn start_echo(
    echo: &Path,
    protocol: Protocol,
    log: &Path,
) -> Result<(procs::Proc, String), BoxError> {
    let mut command = Command::new(echo);
    command.args(["--port", "0", "--protocol-version", protocol.label()]);
    start_announcing("echo-server", &mut command, log).await
}

/// Starts a server that prints `listening on URL` once it listens; returns it and the URL.
pub(crate) async fn start_announcing(
    name: &str,
    command: &mut Command,
    log: &Path,
) -> Result<(procs::Proc, String), BoxError> {
    let mut proc = procs::Proc::spawn(name, command, log)?;
    let mut lines = proc.stdout_lines()?;
    let line = proc
        .wait_for_line(&mut lines, "listening on", Duration::from_secs(10))
        .await?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let url = line
        .rsplit(' ')
        .next()
        .ok_or_else(|| format!("no URL in the announcement of {name}"))?
        .to_owned();
    Ok((proc, url))
}

pub async fn run(args: RunArgs) -> Result<(), BoxError> {
    let started = Instant::now();
    let bins = binaries(&args)?;
    let tmp = tempfile::Builder::new()
        .prefix("switchboard-bench-")
        .tempdir()?;
    progress(&format!("work dir {}", tmp.path().display()));

    let mut matrices = Vec::new();
    let mut audit = None;
    for &server in &args.servers {
        for &client in &args.clients {
            let pair = Pair { client, server };
            progress(&format!("section: {}", pair.label()));
            let dir = tmp
                .path()
                .join(format!("{}-{}", client.label(), server.label()));
            std::fs::create_dir_all(&dir)?;
            let (m, plan) = matrix(&args, &bins, &dir, pair).await?;
            matrices.push(m);
            audit.get_or_insert(plan);
        }
    }
    let audit = audit.ok_or("no client protocol or server era to measure")?;
    let scale = if args.scale_servers > 0 {
        Some(
            scale::run(
                &bins,
                &tmp.path().join("scale"),
                args.scale_servers,
                args.scale_tools,
                args.scale_startups.max(1),
            )
            .await?,
        )
    } else {
        None
    };
    let report = Report::new(&args, &bins, matrices, scale, audit, started.elapsed());
    let text = report::text(&report);
    println!("{text}");
    std::fs::create_dir_all(&args.out)?;
    let json_path = args.out.join("bench.json");
    let md_path = args.out.join("bench.md");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?)?;
    std::fs::write(&md_path, report::markdown(&report))?;
    println!(
        "Written: {} and {} ({:.0} s)",
        json_path.display(),
        md_path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One `switchboard serve` of the matrix, with its audit mode.
struct GatewayUnderTest {
    audit: Option<AuditMode>,
    gateway: Gateway,
    data_dir: PathBuf,
    stdio_child: Vec<u32>,
    token: String,
    idle: procs::ProcStat,
}

async fn start_gateways(
    args: &RunArgs,
    bins: &Binaries,
    tmp: &Path,
    echo_url: &str,
    pair: Pair,
) -> Result<(Vec<GatewayUnderTest>, AuditPlan), BoxError> {
    let mut plan = AuditPlan {
        requested: args.audit.clone(),
        applied: false,
        note: String::new(),
    };
    // One gateway per audit mode, so both run interleaved like every other path.
    let mut modes: Vec<Option<AuditMode>> = args.audit.iter().copied().map(Some).collect();
    modes.dedup();
    if modes.is_empty() {
        modes.push(None);
    }
    let mut out = Vec::new();
    let mut index = 0;
    while index < modes.len() {
        let mode = modes[index];
        let name = mode.map_or("gateway", AuditMode::name);
        let data = DataDir::new(&bins.switchboard, tmp.join(format!("gateway-{name}")))?;
        data.add_http_server("echo-http", echo_url).await?;
        data.add_stdio_server(
            "echo-stdio",
            &bins.echo,
            &["--stdio", "--protocol-version", pair.server.label()],
        )
        .await?;
        let token = data.add_client("bench").await?;
        if let Some(m) = mode {
            match apply_audit_mode(&data, m).await {
                Ok(()) => plan.applied = true,
                Err(e) => {
                    let e = e.to_string();
                    let e = e.lines().next().unwrap_or_default();
                    plan.note = format!(
                        "this gateway has no strict-audit setting ({e}); --audit is a no-op: C and D \
                         ran once with the gateway as configured, and no strict/relaxed figures \
                         are reported"
                    );
                    progress(&format!("audit: {}", plan.note));
                    modes = vec![None];
                    index = 0;
                    out.clear();
                    continue;
                }
            }
        }
        let gateway = data
            .serve(&tmp.join(format!("{name}.log")), Duration::from_secs(30))
            .await?;
        gateway.all_ready(2, Duration::from_secs(30)).await?;
        let stdio_child: Vec<u32> = procs::children(gateway.pid())
            .into_iter()
            .filter(|&p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "echo-server")
            })
            .collect();
        if stdio_child.is_empty() {
            return Err("the gateway's stdio echo server is not running".into());
        }
        progress(&format!(
            "gateway ({}) at {} (pid {})",
            mode.map_or("audit as configured", AuditMode::name),
            gateway.mcp_url,
            gateway.pid()
        ));
        out.push(GatewayUnderTest {
            audit: mode,
            gateway,
            data_dir: data.dir.clone(),
            stdio_child,
            token,
            idle: procs::ProcStat::default(),
        });
        index += 1;
    }
    if plan.applied {
        plan.note =
            "set with `switchboard settings set audit.strict true|false`, one gateway per mode"
                .into();
    }
    // Idle memory once all of them run (and have settled).
    tokio::time::sleep(Duration::from_secs(1)).await;
    for g in &mut out {
        g.idle = procs::stat(g.gateway.pid()).unwrap_or_default();
    }
    Ok((out, plan))
}

async fn matrix(
    args: &RunArgs,
    bins: &Binaries,
    tmp: &Path,
    pair: Pair,
) -> Result<(Matrix, AuditPlan), BoxError> {
    // Upstream: one echo server over HTTP for A, B, C and E.
    let (echo, echo_url) = start_echo(&bins.echo, pair.server, &tmp.join("echo-http.log")).await?;
    progress(&format!("echo server at {echo_url} (pid {})", echo.pid));

    let nginx = nginx::start(
        &bins.nginx,
        &tmp.join("nginx"),
        url_addr(&echo_url)?,
        "/mcp",
        args.nginx_workers.max(1),
    )
    .await?;
    progress(&format!("nginx at {} (pid {})", nginx.url, nginx.proc.pid));

    let (gateways, audit) = start_gateways(args, bins, tmp, &echo_url, pair).await?;

    // The paths, each with its target and the processes to watch.
    let nginx_pids = {
        let mut p = vec![nginx.proc.pid];
        p.extend(procs::children(nginx.proc.pid));
        p
    };
    let plain = |url: &str| Target {
        url: url.to_owned(),
        token: None,
        keep_alive: args.keep_alive,
        protocol: pair.direct_client(),
        tool_prefix: String::new(),
    };
    let mut paths: Vec<(PathId, Target, Watch)> = vec![
        (
            PathId {
                hop: Hop::Direct,
                audit: None,
            },
            plain(&echo_url),
            Watch {
                hop_cpu: vec![],
                hop_rss: vec![],
                upstream: vec![echo.pid],
            },
        ),
        (
            PathId {
                hop: Hop::Nginx,
                audit: None,
            },
            plain(&nginx.url),
            Watch {
                hop_cpu: nginx_pids.clone(),
                hop_rss: nginx_pids.clone(),
                upstream: vec![echo.pid],
            },
        ),
    ];
    for hop in [Hop::GatewayHttp, Hop::GatewayStdio, Hop::GatewayAll] {
        for g in &gateways {
            let pid = g.gateway.pid();
            // The hop is the gateway process; the echo server it reaches is the
            // upstream (for D the stdio child), as nginx's is.
            let (path, prefix, upstream) = match hop {
                Hop::GatewayHttp => ("/echo-http", "", vec![echo.pid]),
                Hop::GatewayStdio => ("/echo-stdio", "", g.stdio_child.clone()),
                _ => ("", "echo-http__", vec![echo.pid]),
            };
            let watch = Watch {
                hop_cpu: vec![pid],
                hop_rss: vec![pid],
                upstream,
            };
            paths.push((
                PathId {
                    hop,
                    audit: g.audit,
                },
                Target {
                    url: format!("{}{path}", g.gateway.mcp_url),
                    token: Some(g.token.clone()),
                    keep_alive: args.keep_alive,
                    protocol: pair.client,
                    tool_prefix: prefix.to_owned(),
                },
                watch,
            ));
        }
    }

    let pool_size = args.concurrency.iter().copied().max().unwrap_or(1).max(1);
    let mut pools: Vec<Vec<Session>> = Vec::new();
    for (id, target, _) in &paths {
        let pool = Session::connect_many(target, pool_size)
            .await
            .map_err(|e| format!("{}: {e}", id.label()))?;
        pools.push(pool);
    }
    progress(&format!(
        "{pool_size} sessions open on each of {} paths",
        paths.len()
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let with_sessions: Vec<procs::ProcStat> = gateways
        .iter()
        .map(|g| procs::stat(g.gateway.pid()).unwrap_or_default())
        .collect();

    let mut workloads = vec![Workload::Echo];
    if args.payload_kb > 0 {
        workloads.push(Workload::Payload(args.payload_kb * 1024));
    }
    let warmup = Duration::from_secs_f64(args.warmup);
    let duration = Duration::from_secs_f64(args.duration);
    let cells_per_round = workloads.len() * args.concurrency.len();
    // phases[cell][path] = one Phase per round
    let mut phases: Vec<Vec<Vec<Phase>>> = (0..cells_per_round)
        .map(|_| (0..paths.len()).map(|_| Vec::new()).collect())
        .collect();
    let mut peak_reset = true;
    let rounds = args.rounds.max(1);
    // Small results first, and each round from low to high concurrency: memory a
    // heavier cell leaves behind (the allocator keeps it) shows up in later cells.
    for (w, &workload) in workloads.iter().enumerate() {
        for round in 0..rounds {
            for (c, &concurrency) in args.concurrency.iter().enumerate() {
                let cell = w * args.concurrency.len() + c;
                // Rotate the order so no path always runs first (or right after another).
                let shift = round + cell;
                let mut line = format!(
                    "round {}/{rounds} {} c={concurrency}:",
                    round + 1,
                    workload.label()
                );
                for i in 0..paths.len() {
                    let index = (i + shift) % paths.len();
                    let (id, _, watch) = &paths[index];
                    let pool = &pools[index];
                    let warm =
                        load::run_phase(pool, concurrency, workload, Stop::After(warmup)).await;
                    let meter = Meter::begin(watch);
                    peak_reset &= meter.peak_reset;
                    let samples =
                        load::run_phase(pool, concurrency, workload, Stop::After(duration)).await;
                    // Work the hop deferred (a relaxed audit log's backlog) belongs to
                    // this phase, and must not run into the next path's.
                    let drain = settle(&watch.hop_cpu).await;
                    let mut usage = meter.end();
                    usage.drain_s = drain.as_secs_f64();
                    let s = samples.summary();
                    line.push_str(&format!(
                        " [{} {:.0}/s p50 {:.2}ms{}]",
                        id.short(),
                        s.throughput,
                        s.p50_ms,
                        if s.errors > 0 {
                            format!(" {} errors", s.errors)
                        } else {
                            String::new()
                        }
                    ));
                    phases[cell][index].push(Phase {
                        samples,
                        warmup_errors: warm.errors,
                        usage,
                    });
                }
                progress(&line);
            }
        }
    }

    for pool in pools {
        load::close_all(pool).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let path_ids: Vec<PathId> = paths.iter().map(|(id, _, _)| *id).collect();
    let mut memory = Vec::new();
    for (g, with_sessions) in gateways.into_iter().zip(with_sessions) {
        let pid = g.gateway.pid();
        let after = procs::stat(pid).unwrap_or_default();
        let child_peak = g
            .stdio_child
            .iter()
            .filter_map(|&p| procs::stat(p))
            .map(|s| s.hwm)
            .sum();
        // VmHWM was reset per phase, so the run's peak is the highest phase peak.
        let phase_peak = phases
            .iter()
            .flat_map(|per_path| per_path.iter().zip(&path_ids))
            .filter(|(_, id)| id.is_gateway() && id.audit == g.audit)
            .flat_map(|(rounds, _)| rounds.iter())
            .map(|p| p.usage.hop_peak_rss)
            .max()
            .unwrap_or_default();
        let peak = [phase_peak, g.idle.hwm, with_sessions.rss, after.hwm]
            .into_iter()
            .max()
            .unwrap_or_default();
        let direct_requests = g.gateway.direct_requests().await.unwrap_or_default();
        let left = g.gateway.stop().await;
        if left > 0 {
            progress(&format!(
                "killed {left} gateway children left after its shutdown"
            ));
        }
        memory.push(GatewayMemory {
            audit: g.audit,
            idle_rss_mb: mb(g.idle.rss),
            with_sessions_rss_mb: mb(with_sessions.rss),
            after_load_rss_mb: mb(after.rss),
            peak_rss_mb: mb(peak),
            stdio_child_peak_rss_mb: mb(child_peak),
            data_dir_mb: mb(dir_size(&g.data_dir)),
            direct_requests,
        });
    }
    nginx.proc.stop(Duration::from_secs(5)).await;
    echo.stop(Duration::from_secs(5)).await;

    let mut cells = Vec::new();
    let mut index = 0;
    for &workload in &workloads {
        for &concurrency in &args.concurrency {
            let per_path = std::mem::take(&mut phases[index]);
            index += 1;
            cells.push(cell_result(workload, concurrency, &path_ids, per_path));
        }
    }
    Ok((
        Matrix {
            paths: path_ids,
            cells,
            gateways: memory,
            per_phase_peaks: peak_reset,
            rounds,
            duration_s: args.duration,
            warmup_s: args.warmup,
            keep_alive: args.keep_alive,
            pair,
            nginx_workers: args.nginx_workers.max(1),
        },
        audit,
    ))
}
