//! `switchboard-bench database`: what the audit database costs a call. One
//! echo server over HTTP, reached directly and through two gateways (strict
//! audit: every answer waits for its record's commit), one on SQLite and one
//! on PostgreSQL, in one interleaved run; calls per second and latency side
//! by side, with the latency each gateway adds over the direct path.

use std::{path::Path, time::Duration};

use serde::Serialize;
use switchboard_store::{Database, postgres};

use crate::{
    BoxError,
    gateway::DataDir,
    load::{self, Protocol, Session, Stop, Target, Workload},
    procs,
    run::progress,
    stats::{Samples, Summary},
};

/// Options of `switchboard-bench database`.
#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// The PostgreSQL server to measure on (a database of its own is made there);
    /// default: SWITCHBOARD_TEST_POSTGRES, which `make bench` sets.
    #[arg(long, env = "SWITCHBOARD_TEST_POSTGRES", hide_env_values = true)]
    pub postgres: String,
    /// Interleaved rounds.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Measured seconds per path, concurrency and round.
    #[arg(long, default_value_t = 2.0)]
    pub duration: f64,
    /// Concurrent sessions to measure at.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 16])]
    pub concurrency: Vec<usize>,
    /// Where to write database.json and database.md.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Serialize)]
struct Row {
    path: &'static str,
    concurrency: usize,
    summary: Summary,
    added_p50_ms: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Report {
    rounds: usize,
    seconds_per_cell: f64,
    rows: Vec<Row>,
}

const PATHS: [&str; 3] = ["direct", "gateway on SQLite", "gateway on PostgreSQL"];

pub async fn run(args: DatabaseArgs) -> Result<(), BoxError> {
    let server = match Database::parse(&args.postgres)? {
        Database::Postgres(url) => url,
        Database::Sqlite => return Err("--postgres needs a postgres:// URL".into()),
    };
    let switchboard = procs::sibling_binary("switchboard")
        .ok_or("`switchboard` not found next to switchboard-bench")?;
    let echo = procs::sibling_binary("echo-server")
        .ok_or("`echo-server` not found next to switchboard-bench")?;
    let tmp = tempfile::Builder::new()
        .prefix("switchboard-bench-db-")
        .tempdir()?;
    let (echo_proc, echo_url) =
        crate::run::start_echo(&echo, Protocol::Session, &tmp.path().join("echo.log")).await?;

    let database = postgres::scratch_database(&server, "bench").await?;
    progress(&format!("PostgreSQL database {database}"));
    let mut gateways = Vec::new();
    for (name, on) in [
        ("sqlite", None),
        ("postgres", Some(database.expose().to_owned())),
    ] {
        let mut data = DataDir::new(&switchboard, tmp.path().join(name))?;
        if let Some(url) = &on {
            data = data.on_database(url);
        }
        data.add_http_server("echo", &echo_url).await?;
        let token = data.add_client("bench").await?;
        let gateway = data
            .serve(
                &tmp.path().join(format!("{name}.log")),
                Duration::from_secs(30),
            )
            .await?;
        gateway.all_ready(1, Duration::from_secs(30)).await?;
        gateways.push((gateway, token));
    }
    let target = |url: String, token: Option<String>| Target {
        url,
        token,
        keep_alive: true,
        protocol: Protocol::Session,
        tool_prefix: String::new(),
    };
    let mut targets = vec![target(echo_url.clone(), None)];
    for (gateway, token) in &gateways {
        targets.push(target(
            format!("{}/echo", gateway.mcp_url),
            Some(token.clone()),
        ));
    }
    let most = args.concurrency.iter().copied().max().unwrap_or(1);
    let mut sessions = Vec::new();
    for target in &targets {
        sessions.push(Session::connect_many(target, most).await?);
    }
    let window = Duration::from_secs_f64(args.duration);
    let mut rows = Vec::new();
    for &concurrency in &args.concurrency {
        let mut merged: Vec<Samples> = (0..PATHS.len()).map(|_| Samples::default()).collect();
        for round in 0..args.rounds.max(1) {
            for step in 0..PATHS.len() {
                // Rotated order: no path always runs first or last.
                let path = (step + round) % PATHS.len();
                let _ = load::run_phase(
                    &sessions[path],
                    concurrency,
                    Workload::Echo,
                    Stop::After(Duration::from_millis(300)),
                )
                .await;
                let samples = load::run_phase(
                    &sessions[path],
                    concurrency,
                    Workload::Echo,
                    Stop::After(window),
                )
                .await;
                merged[path].merge(samples, false);
            }
        }
        let summaries: Vec<Summary> = merged.iter().map(Samples::summary).collect();
        let direct = summaries[0].p50_ms;
        for (path, summary) in summaries.into_iter().enumerate() {
            rows.push(Row {
                path: PATHS[path],
                concurrency,
                added_p50_ms: (path > 0).then_some(summary.p50_ms - direct),
                summary,
            });
        }
        progress(&format!("concurrency {concurrency} done"));
    }
    for list in sessions {
        load::close_all(list).await;
    }
    for (gateway, _) in gateways {
        gateway.stop().await;
    }
    echo_proc.stop(Duration::from_secs(5)).await;

    let report = Report {
        rounds: args.rounds,
        seconds_per_cell: args.duration,
        rows,
    };
    let text = markdown(&report);
    println!("{text}");
    if let Some(out) = &args.out {
        write(out, &report, &text)?;
    }
    Ok(())
}

fn write(out: &Path, report: &Report, text: &str) -> Result<(), BoxError> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("database.md"), text)?;
    std::fs::write(
        out.join("database.json"),
        serde_json::to_string_pretty(report)?,
    )?;
    Ok(())
}

fn markdown(report: &Report) -> String {
    let mut text = format!(
        "### The audit database: SQLite next to PostgreSQL\n\n\
         `tools/call echo` over streamable HTTP, strict audit (each answer waits for its \
         record's commit), {} interleaved rounds of {:.1} s per cell.\n\n\
         | path | sessions | calls/s | p50 ms | p99 ms | added p50 ms | errors |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
        report.rounds, report.seconds_per_cell
    );
    for row in &report.rows {
        let s = &row.summary;
        text.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} |\n",
            row.path,
            row.concurrency,
            s.throughput,
            s.p50_ms,
            s.p99_ms,
            row.added_p50_ms
                .map_or("".to_owned(), |a| format!("{a:+.2}")),
            s.errors
        ));
    }
    text
}
