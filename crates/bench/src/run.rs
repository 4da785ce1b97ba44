//! `switchboard-bench run`: the interleaved A/B/C/D matrix, then the scale run.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use serde::Serialize;
use tokio::process::Command;

use crate::{
    AuditMode, BoxError, RunArgs,
    gateway::DataDir,
    load::{self, Session, Stop, Target, Workload},
    nginx, procs,
    report::{self, Report},
    scale,
    stats::{Samples, Summary},
};

/// The four ways a client reaches the echo server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum PathKind {
    A,
    B,
    C,
    D,
}

pub const PATHS: [PathKind; 4] = [PathKind::A, PathKind::B, PathKind::C, PathKind::D];

impl PathKind {
    pub fn label(self) -> &'static str {
        match self {
            PathKind::A => "A direct",
            PathKind::B => "B nginx",
            PathKind::C => "C gateway http",
            PathKind::D => "D gateway stdio",
        }
    }

    fn index(self) -> usize {
        self as usize
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

/// CPU and memory of the processes around one measured phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Usage {
    /// CPU seconds of the hop (nginx master + workers; the gateway; for D the
    /// gateway plus its stdio echo server).
    pub hop_cpu_s: f64,
    /// Peak RSS of the hop during the phase (nginx: sum over its processes;
    /// C and D: the gateway process alone).
    pub hop_peak_rss: u64,
    /// CPU seconds of the echo server that answered.
    pub upstream_cpu_s: f64,
    /// CPU seconds of this load generator.
    pub client_cpu_s: f64,
}

/// The processes to watch for one path.
struct Watch {
    hop_cpu: Vec<u32>,
    hop_rss: Vec<u32>,
    upstream: Vec<u32>,
}

struct Meter {
    watch: Watch,
    start: [f64; 3],
    peak_reset: bool,
}

fn cpu_sum(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|&p| procs::stat(p))
        .map(|s| s.cpu)
        .sum()
}

impl Meter {
    fn begin(watch: Watch) -> Self {
        let peak_reset = watch.hop_rss.iter().all(|&p| procs::reset_peak(p));
        let me = std::process::id();
        let start = [
            cpu_sum(&watch.hop_cpu),
            cpu_sum(&watch.upstream),
            cpu_sum(&[me]),
        ];
        Self {
            watch,
            start,
            peak_reset,
        }
    }

    fn end(self) -> Usage {
        let me = std::process::id();
        let hop_peak_rss = self
            .watch
            .hop_rss
            .iter()
            .filter_map(|&p| procs::stat(p))
            .map(|s| if self.peak_reset { s.hwm } else { s.rss })
            .sum();
        Usage {
            hop_cpu_s: cpu_sum(&self.watch.hop_cpu) - self.start[0],
            hop_peak_rss,
            upstream_cpu_s: cpu_sum(&self.watch.upstream) - self.start[1],
            client_cpu_s: cpu_sum(&[me]) - self.start[2],
        }
    }
}

/// One measured phase.
struct Phase {
    samples: Samples,
    warmup_errors: BTreeMap<String, u64>,
    usage: Usage,
}

/// Figures of one path in one round.
#[derive(Debug, Clone, Serialize)]
pub struct RoundFigures {
    pub round: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub throughput: f64,
    pub errors: u64,
    pub usage: Usage,
}

/// One path in one cell, all rounds together.
#[derive(Debug, Clone, Serialize)]
pub struct PathResult {
    pub path: PathKind,
    pub label: &'static str,
    /// All rounds' samples merged.
    pub summary: Summary,
    pub added_p50_ms: Option<f64>,
    pub added_p99_ms: Option<f64>,
    pub hop_cpu_s_per_1000: Option<f64>,
    pub hop_peak_rss_mb: Option<f64>,
    pub upstream_cpu_s_per_1000: f64,
    pub client_cpu_s_per_1000: f64,
    pub warmup_errors: BTreeMap<String, u64>,
    pub rounds: Vec<RoundFigures>,
}

/// One (workload, concurrency) cell.
#[derive(Debug, Clone, Serialize)]
pub struct CellResult {
    pub workload: String,
    pub payload_bytes: usize,
    pub concurrency: usize,
    pub paths: Vec<PathResult>,
}

impl CellResult {
    pub fn path(&self, kind: PathKind) -> Option<&PathResult> {
        self.paths.iter().find(|p| p.path == kind)
    }
}

/// Gateway memory outside the measured phases.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayMemory {
    /// RSS once both servers are ready, before any client session.
    pub idle_rss_mb: f64,
    /// RSS with the C and D session pools open, before load.
    pub with_sessions_rss_mb: f64,
    /// RSS two seconds after the load ended and the sessions closed.
    pub after_load_rss_mb: f64,
    /// Highest RSS over the whole run (VmHWM since start, no reset).
    pub peak_rss_mb: f64,
    /// Peak RSS of the stdio echo server (D's upstream), for reference.
    pub stdio_child_peak_rss_mb: f64,
    /// Whether per-phase peaks could be measured (VmHWM reset through clear_refs).
    pub per_phase_peaks: bool,
}

/// What the matrix measured.
#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub cells: Vec<CellResult>,
    pub gateway: GatewayMemory,
    pub rounds: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub keep_alive: bool,
    pub nginx_workers: usize,
}

/// The audit switch: what was asked and what was possible.
#[derive(Debug, Clone, Serialize)]
pub struct AuditPlan {
    pub requested: Vec<AuditMode>,
    pub applied: bool,
    pub note: String,
}

/// Sets the gateway's audit mode in `data_dir` before `serve`. The gateway has
/// no strict-audit setting yet, so this does nothing and says so; once it has
/// one, set it here (e.g. `switchboard settings set audit strict`) and run C
/// and D once per requested mode.
async fn apply_audit_mode(_data: &DataDir, _mode: AuditMode) -> Result<bool, BoxError> {
    Ok(false)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn url_addr(url: &str) -> Result<SocketAddr, BoxError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http URL: {url}"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    Ok(authority.parse()?)
}

pub async fn run(args: RunArgs) -> Result<(), BoxError> {
    let started = Instant::now();
    let bins = binaries(&args)?;
    let tmp = tempfile::Builder::new()
        .prefix("switchboard-bench-")
        .tempdir()?;
    progress(&format!("work dir {}", tmp.path().display()));

    let (matrix, audit) = matrix(&args, &bins, tmp.path()).await?;
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
    let report = Report::new(&args, &bins, matrix, scale, audit, started.elapsed());
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

async fn matrix(
    args: &RunArgs,
    bins: &Binaries,
    tmp: &Path,
) -> Result<(Matrix, AuditPlan), BoxError> {
    // Upstream: one echo server over HTTP for A, B and C.
    let mut command = Command::new(&bins.echo);
    command.args(["--port", "0"]);
    let mut echo = procs::Proc::spawn("echo-server", &mut command, &tmp.join("echo-http.log"))?;
    let mut lines = echo.stdout_lines()?;
    let line = echo
        .wait_for_line(&mut lines, "listening on", Duration::from_secs(10))
        .await?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let echo_url = line
        .rsplit(' ')
        .next()
        .ok_or("no URL in the echo server's announcement")?
        .to_owned();
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

    let data = DataDir::new(&bins.switchboard, tmp.join("gateway"))?;
    data.add_http_server("echo-http", &echo_url).await?;
    data.add_stdio_server("echo-stdio", &bins.echo, &["--stdio"])
        .await?;
    let token = data.add_client("bench").await?;
    let mut audit = AuditPlan {
        requested: args.audit.clone(),
        applied: false,
        note: String::new(),
    };
    for &mode in &args.audit {
        audit.applied |= apply_audit_mode(&data, mode).await?;
    }
    if !audit.applied {
        audit.note = "the gateway has no strict-audit setting yet: --audit is a no-op, C and D \
                      ran once with the gateway as it is, and no strict/relaxed figures are \
                      reported"
            .into();
        progress(&format!("audit: {}", audit.note));
    }
    let gw = data
        .serve(&tmp.join("gateway.log"), Duration::from_secs(30))
        .await?;
    gw.all_ready(2, Duration::from_secs(30)).await?;
    progress(&format!("gateway at {} (pid {})", gw.mcp_url, gw.pid()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = procs::stat(gw.pid()).unwrap_or_default();
    let stdio_child: Vec<u32> = procs::children(gw.pid())
        .into_iter()
        .filter(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.trim() == "echo-server")
        })
        .collect();
    if stdio_child.is_empty() {
        return Err("the gateway's stdio echo server is not running".into());
    }

    let targets = [
        Target {
            url: echo_url.clone(),
            token: None,
            keep_alive: args.keep_alive,
        },
        Target {
            url: nginx.url.clone(),
            token: None,
            keep_alive: args.keep_alive,
        },
        Target {
            url: format!("{}/echo-http", gw.mcp_url),
            token: Some(token.clone()),
            keep_alive: args.keep_alive,
        },
        Target {
            url: format!("{}/echo-stdio", gw.mcp_url),
            token: Some(token.clone()),
            keep_alive: args.keep_alive,
        },
    ];
    let pool_size = args.concurrency.iter().copied().max().unwrap_or(1).max(1);
    let mut pools: Vec<Vec<Session>> = Vec::new();
    for (kind, target) in PATHS.iter().zip(&targets) {
        let pool = Session::connect_many(target, pool_size)
            .await
            .map_err(|e| format!("{}: {e}", kind.label()))?;
        pools.push(pool);
    }
    progress(&format!("{pool_size} sessions open on each path"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let with_sessions = procs::stat(gw.pid()).unwrap_or_default();

    let nginx_pids = {
        let mut p = vec![nginx.proc.pid];
        p.extend(procs::children(nginx.proc.pid));
        p
    };
    let watch = |kind: PathKind| match kind {
        PathKind::A => Watch {
            hop_cpu: vec![],
            hop_rss: vec![],
            upstream: vec![echo.pid],
        },
        PathKind::B => Watch {
            hop_cpu: nginx_pids.clone(),
            hop_rss: nginx_pids.clone(),
            upstream: vec![echo.pid],
        },
        PathKind::C => Watch {
            hop_cpu: vec![gw.pid()],
            hop_rss: vec![gw.pid()],
            upstream: vec![echo.pid],
        },
        PathKind::D => Watch {
            hop_cpu: [vec![gw.pid()], stdio_child.clone()].concat(),
            hop_rss: vec![gw.pid()],
            upstream: stdio_child.clone(),
        },
    };

    let mut workloads = vec![Workload::Echo];
    if args.payload_kb > 0 {
        workloads.push(Workload::Payload(args.payload_kb * 1024));
    }
    let warmup = Duration::from_secs_f64(args.warmup);
    let duration = Duration::from_secs_f64(args.duration);
    let cells_per_round = workloads.len() * args.concurrency.len();
    // phases[cell][path] = one Phase per round
    let mut phases: Vec<[Vec<Phase>; 4]> =
        (0..cells_per_round).map(|_| Default::default()).collect();
    let mut peak_reset = true;
    for round in 0..args.rounds.max(1) {
        let mut cell = 0;
        for &workload in &workloads {
            for &concurrency in &args.concurrency {
                // Rotate the order so no path always runs first (or right after another).
                let shift = round + cell;
                let order: Vec<PathKind> = (0..PATHS.len())
                    .map(|i| PATHS[(i + shift) % PATHS.len()])
                    .collect();
                let mut line = format!(
                    "round {}/{} {} c={concurrency}:",
                    round + 1,
                    args.rounds.max(1),
                    workload.label()
                );
                for kind in order {
                    let pool = &pools[kind.index()];
                    let warm =
                        load::run_phase(pool, concurrency, workload, Stop::After(warmup)).await;
                    let meter = Meter::begin(watch(kind));
                    peak_reset &= meter.peak_reset || kind == PathKind::A;
                    let samples =
                        load::run_phase(pool, concurrency, workload, Stop::After(duration)).await;
                    let usage = meter.end();
                    let s = samples.summary();
                    line.push_str(&format!(
                        " {:?} {:.0}/s p50 {:.2}ms{}",
                        kind,
                        s.throughput,
                        s.p50_ms,
                        if s.errors > 0 {
                            format!(" ({} errors)", s.errors)
                        } else {
                            String::new()
                        }
                    ));
                    phases[cell][kind.index()].push(Phase {
                        samples,
                        warmup_errors: warm.errors,
                        usage,
                    });
                }
                progress(&line);
                cell += 1;
            }
        }
    }

    for pool in pools {
        load::close_all(pool).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = procs::stat(gw.pid()).unwrap_or_default();
    let child_peak = stdio_child
        .iter()
        .filter_map(|&p| procs::stat(p))
        .map(|s| s.hwm)
        .sum();
    // VmHWM was reset per phase, so the run's peak is the highest phase peak.
    let gateway_peak = phases
        .iter()
        .flat_map(|paths| [&paths[2], &paths[3]])
        .flatten()
        .map(|p| p.usage.hop_peak_rss)
        .chain([idle.hwm, with_sessions.rss, after.hwm])
        .max()
        .unwrap_or_default();

    let left = gw.stop().await;
    if left > 0 {
        progress(&format!(
            "killed {left} gateway children left after its shutdown"
        ));
    }
    nginx.proc.stop(Duration::from_secs(5)).await;
    echo.stop(Duration::from_secs(5)).await;

    let mut cells = Vec::new();
    let mut index = 0;
    for &workload in &workloads {
        for &concurrency in &args.concurrency {
            let per_path = std::mem::take(&mut phases[index]);
            index += 1;
            cells.push(cell_result(workload, concurrency, per_path));
        }
    }
    Ok((
        Matrix {
            cells,
            gateway: GatewayMemory {
                idle_rss_mb: mb(idle.rss),
                with_sessions_rss_mb: mb(with_sessions.rss),
                after_load_rss_mb: mb(after.rss),
                peak_rss_mb: mb(gateway_peak),
                stdio_child_peak_rss_mb: mb(child_peak),
                per_phase_peaks: peak_reset,
            },
            rounds: args.rounds.max(1),
            duration_s: args.duration,
            warmup_s: args.warmup,
            keep_alive: args.keep_alive,
            nginx_workers: args.nginx_workers.max(1),
        },
        audit,
    ))
}

fn cell_result(workload: Workload, concurrency: usize, per_path: [Vec<Phase>; 4]) -> CellResult {
    let mut paths: Vec<PathResult> = Vec::new();
    for (kind, phases) in PATHS.iter().zip(per_path) {
        let mut merged = Samples::default();
        let mut warmup_errors: BTreeMap<String, u64> = BTreeMap::new();
        let mut usage = Usage::default();
        let mut rounds = Vec::new();
        for (round, phase) in phases.into_iter().enumerate() {
            let s = phase.samples.summary();
            rounds.push(RoundFigures {
                round,
                p50_ms: s.p50_ms,
                p99_ms: s.p99_ms,
                throughput: s.throughput,
                errors: s.errors,
                usage: phase.usage.clone(),
            });
            usage.hop_cpu_s += phase.usage.hop_cpu_s;
            usage.upstream_cpu_s += phase.usage.upstream_cpu_s;
            usage.client_cpu_s += phase.usage.client_cpu_s;
            usage.hop_peak_rss = usage.hop_peak_rss.max(phase.usage.hop_peak_rss);
            for (m, c) in phase.warmup_errors {
                *warmup_errors.entry(m).or_default() += c;
            }
            merged.merge(phase.samples, false);
        }
        let summary = merged.summary();
        let per_1000 = |cpu: f64| {
            if summary.calls > 0 {
                cpu * 1000.0 / summary.calls as f64
            } else {
                0.0
            }
        };
        let has_hop = *kind != PathKind::A;
        paths.push(PathResult {
            path: *kind,
            label: kind.label(),
            added_p50_ms: None,
            added_p99_ms: None,
            hop_cpu_s_per_1000: has_hop.then(|| per_1000(usage.hop_cpu_s)),
            hop_peak_rss_mb: has_hop.then(|| mb(usage.hop_peak_rss)),
            upstream_cpu_s_per_1000: per_1000(usage.upstream_cpu_s),
            client_cpu_s_per_1000: per_1000(usage.client_cpu_s),
            warmup_errors,
            rounds,
            summary,
        });
    }
    let (a50, a99) = paths
        .first()
        .map(|a| (a.summary.p50_ms, a.summary.p99_ms))
        .unwrap_or_default();
    for p in paths.iter_mut().skip(1) {
        p.added_p50_ms = Some(p.summary.p50_ms - a50);
        p.added_p99_ms = Some(p.summary.p99_ms - a99);
    }
    CellResult {
        workload: workload.label(),
        payload_bytes: match workload {
            Workload::Echo => 0,
            Workload::Payload(n) => n,
        },
        concurrency,
        paths,
    }
}
