//! `switchboard-bench`: what the gateway costs, measured side by side.
//!
//! `switchboard-bench run` (what `make bench` runs) starts an echo MCP server, nginx
//! as a bare reverse-proxy hop and `switchboard serve`, then drives the same
//! closed-loop `tools/call` load through each path in one interleaved run:
//!
//! - A: client -> echo server (streamable HTTP, direct)
//! - B: client -> nginx `proxy_pass` -> echo server
//! - C: client -> Switchboard `/mcp/{server}` -> echo server (HTTP upstream)
//! - D: client -> Switchboard `/mcp/{server}` -> echo server over stdio
//!
//! then a scale run (100 stdio servers with 50 tools each). It prints a table and
//! writes it as JSON and Markdown.
//!
//! `switchboard-bench load --url URL` is the load generator on its own;
//! `switchboard-bench sandbox` times a stdio server's start with and without
//! its sandbox; `switchboard-bench soak` (what `make soak` runs) keeps one
//! gateway under mixed load with faults for half an hour and checks for leaks.

mod database;
mod gateway;
mod load;
mod machine;
mod meter;
mod nginx;
mod procs;
mod report;
mod results;
mod run;
mod sandbox;
mod scale;
mod search;
mod soak;
mod stats;
mod targets;

use std::{error::Error, path::PathBuf, process::ExitCode, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

pub type BoxError = Box<dyn Error + Send + Sync>;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard-bench",
    about = "Benchmark of the Switchboard gateway against a direct connection and nginx"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The side-by-side run of `make bench`: A/B/C/D interleaved, then the scale runs.
    Run(RunArgs),
    /// Only the load generator, against one MCP endpoint.
    Load(LoadArgs),
    /// How well and how fast `search_tools` finds tools in the corpus of
    /// real tool definitions, and the tokens search mode saves.
    Search(SearchArgs),
    /// What the sandbox adds to a stdio server's start.
    Sandbox(SandboxArgs),
    /// Calls per second and added latency with the audit log on SQLite and on PostgreSQL.
    Database(database::DatabaseArgs),
    /// One gateway under mixed load with faults for a long while: memory,
    /// descriptors, processes, latency per minute, audit records against answered calls.
    Soak(soak::SoakArgs),
}

#[derive(Debug, Args)]
struct SandboxArgs {
    /// Starts of each kind.
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Where to write sandbox.json.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct SearchArgs {
    /// The corpus folder (tools/*.json, queries.jsonl).
    #[arg(long, default_value = "crates/bench/corpus")]
    corpus: PathBuf,
    /// Where to write search.json and search.md.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// How the strict-audit setting of the gateway is set for C and D.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditMode {
    /// Every call is recorded before its result is returned.
    Strict,
    /// Calls are recorded in the background.
    Relaxed,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Interleaved rounds (each runs every path once per cell, in rotated order).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Measured seconds per path, cell and round.
    #[arg(long, default_value_t = 1.5)]
    pub duration: f64,
    /// Warm-up seconds before each measurement (same sessions, not counted).
    #[arg(long, default_value_t = 0.3)]
    pub warmup: f64,
    /// Concurrent sessions to measure at.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 64])]
    pub concurrency: Vec<usize>,
    /// Size of the large result, in KB (0: only the small echo).
    #[arg(long, default_value_t = 100)]
    pub payload_kb: usize,
    /// Audit modes to measure the gateway in (one gateway per mode); strict is
    /// the default setting.
    #[arg(long, value_delimiter = ',', default_values = ["strict"])]
    pub audit: Vec<AuditMode>,
    /// Reuse HTTP connections in the load generator (rmcp's own client opens one per request).
    #[arg(long)]
    pub keep_alive: bool,
    /// The protocols of the load clients: 2025-11-25 (sessions) and 2026-07-28
    /// (stateless, what rmcp 3.9 and the Python SDK 2.3 speak by default).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["2025-11-25", "2026-07-28"])]
    pub clients: Vec<load::Protocol>,
    /// The eras of the echo servers: 2025-11-25 (sessions only) and 2026-07-28.
    /// Every client protocol is measured against every server era.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["2025-11-25", "2026-07-28"])]
    pub servers: Vec<load::Protocol>,
    /// nginx worker processes.
    #[arg(long, default_value_t = 2)]
    pub nginx_workers: usize,
    /// Upstream servers in the scale run (0 skips it).
    #[arg(long, default_value_t = 100)]
    pub scale_servers: usize,
    /// Tools per server in the scale run.
    #[arg(long, default_value_t = 50)]
    pub scale_tools: usize,
    /// Times `serve` is started in the scale run (the startup figures are their median).
    #[arg(long, default_value_t = 3)]
    pub scale_startups: usize,
    /// Where the JSON and Markdown results go.
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,
    /// The `switchboard` binary (default: next to this one).
    #[arg(long)]
    pub switchboard: Option<PathBuf>,
    /// The `echo-server` fixture binary (default: next to this one).
    #[arg(long)]
    pub echo_server: Option<PathBuf>,
    /// nginx (default: from PATH or /usr/sbin).
    #[arg(long)]
    pub nginx: Option<PathBuf>,
    /// Abort the whole run after this many minutes.
    #[arg(long, default_value_t = 30.0)]
    pub max_minutes: f64,
    /// The command line recorded in the report.
    #[arg(long, default_value = "make bench")]
    pub command_note: String,
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// MCP endpoint (streamable HTTP).
    #[arg(long)]
    url: String,
    /// Bearer token (the gateway's client token).
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Concurrent sessions, each in a closed loop.
    #[arg(long, short = 'c', default_value_t = 1)]
    concurrency: usize,
    /// Seconds to measure.
    #[arg(long, default_value_t = 5.0, conflicts_with = "count")]
    duration: f64,
    /// Calls to measure in total instead of a duration (at most 10 minutes).
    #[arg(long)]
    count: Option<u64>,
    /// Warm-up seconds (not counted).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Call `payload` for this many bytes instead of `echo`.
    #[arg(long)]
    payload: Option<usize>,
    /// Reuse HTTP connections between requests.
    #[arg(long)]
    keep_alive: bool,
    /// The protocol to speak.
    #[arg(long, value_enum, default_value = "2026-07-28")]
    protocol: load::Protocol,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = dispatch(cli) => r,
            // Dropping the run drops its processes, which kills them by PID.
            _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> Result<(), BoxError> {
    match cli.command {
        Command::Run(args) => {
            let limit = Duration::from_secs_f64(args.max_minutes * 60.0);
            tokio::time::timeout(limit, run::run(args))
                .await
                .map_err(|_| format!("the run took longer than {limit:?}; aborted"))?
        }
        Command::Load(args) => load_only(args).await,
        Command::Database(args) => database::run(args).await,
        Command::Soak(args) => soak::run(args).await,
        Command::Search(args) => {
            let report = search::evaluate(&args.corpus)?;
            let text = search::markdown(&report);
            println!("{text}");
            if let Some(out) = args.out {
                std::fs::create_dir_all(&out)?;
                std::fs::write(out.join("search.md"), &text)?;
                std::fs::write(
                    out.join("search.json"),
                    serde_json::to_string_pretty(&report)?,
                )?;
            }
            Ok(())
        }
        Command::Sandbox(args) => sandbox::run(args.runs, args.out.as_deref()),
    }
}

async fn load_only(args: LoadArgs) -> Result<(), BoxError> {
    let target = load::Target {
        url: args.url,
        token: args.token,
        keep_alive: args.keep_alive,
        protocol: args.protocol,
        tool_prefix: String::new(),
    };
    let workload = match args.payload {
        Some(n) => load::Workload::Payload(n),
        None => load::Workload::Echo,
    };
    let sessions = load::Session::connect_many(&target, args.concurrency.max(1)).await?;
    let warmup = load::run_phase(
        &sessions,
        args.concurrency,
        workload,
        load::Stop::After(Duration::from_secs_f64(args.warmup)),
    )
    .await;
    let stop = match args.count {
        Some(n) => load::Stop::Count(n, Duration::from_secs(600)),
        None => load::Stop::After(Duration::from_secs_f64(args.duration)),
    };
    let samples = load::run_phase(&sessions, args.concurrency, workload, stop).await;
    load::close_all(sessions).await;
    let summary = samples.summary();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{} sessions, {}: {} calls in {:.2} s = {:.0} calls/s; latency ms p50 {:.3} p90 {:.3} p99 {:.3} max {:.3}; errors {}",
            args.concurrency,
            workload.label(),
            summary.calls,
            summary.seconds,
            summary.throughput,
            summary.p50_ms,
            summary.p90_ms,
            summary.p99_ms,
            summary.max_ms,
            summary.errors
        );
        for (message, count) in &summary.error_kinds {
            println!("  error x{count}: {message}");
        }
    }
    let warmup_errors = warmup.error_count();
    if warmup_errors > 0 {
        println!("warm-up errors: {warmup_errors}");
        for (message, count) in &warmup.errors {
            println!("  error x{count}: {message}");
        }
    }
    Ok(())
}
