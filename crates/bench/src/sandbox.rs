//! `switchboard-bench sandbox`: what the sandbox adds to a stdio server's
//! start. The echo fixture is started directly and through the launcher
//! (`switchboard __sandbox-exec`, the grants the gateway would give it),
//! interleaved; each start is timed from spawn to its answer to `initialize`.

use std::{
    collections::BTreeMap,
    io::{BufRead as _, BufReader, Write as _},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use serde::Serialize;

use crate::{BoxError, procs, run::progress, stats::percentile};

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#;

/// The figures of one way of starting.
#[derive(Debug, Serialize)]
struct Figures {
    p50_ms: f64,
    p95_ms: f64,
    min_ms: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    runs: usize,
    direct: Figures,
    sandboxed: Figures,
    added_p50_ms: f64,
    grants: usize,
    network: bool,
}

/// Runs `runs` interleaved starts of each kind and prints the table.
pub fn run(runs: usize, out: Option<&Path>) -> Result<(), BoxError> {
    let switchboard = procs::sibling_binary("switchboard")
        .ok_or("`switchboard` not found next to switchboard-bench")?;
    let echo = procs::sibling_binary("echo-server")
        .ok_or("`echo-server` not found next to switchboard-bench")?;
    let temp = tempfile::tempdir()?;
    let args = vec!["--stdio".to_owned()];
    let env = BTreeMap::new();
    let path = std::env::var("PATH").unwrap_or_default();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let temp_dir = temp.path().join("echo");
    let plan = switchboard_sandbox::plan(
        &switchboard_sandbox::Launch {
            program: &echo,
            args: &args,
            env: &env,
            cwd: None,
            base_dir: temp.path(),
            home: home.as_deref(),
            path: &path,
            temp_dir: &temp_dir,
        },
        &switchboard_sandbox::SandboxConfig::default(),
    );
    plan.prepare()?;
    let enforcement = switchboard_sandbox::Enforcement::new(&plan, &echo, &args);
    let (launcher, launcher_args) =
        switchboard_sandbox::launcher_command(&switchboard, &enforcement);
    let minimal = switchboard_sandbox::minimal_env(&path, home.as_deref(), None, &temp_dir, &env);
    progress(&format!(
        "sandbox: {runs} starts each of echo-server, direct and through the launcher ({} grants, network {})",
        plan.grants.len(),
        if plan.network { "on" } else { "off" }
    ));
    let (mut direct, mut sandboxed) = (Vec::new(), Vec::new());
    for i in 0..runs + 2 {
        let mut plain = Command::new(&echo);
        plain.args(&args);
        let mut boxed = Command::new(&launcher);
        boxed.args(&launcher_args).env_clear().envs(&minimal);
        let (a, b) = if i % 2 == 0 {
            (start(plain)?, start(boxed)?)
        } else {
            let b = start(boxed)?;
            (start(plain)?, b)
        };
        // The first two rounds warm the page cache.
        if i >= 2 {
            direct.push(a);
            sandboxed.push(b);
        }
    }
    let direct = figures(&mut direct);
    let sandboxed = figures(&mut sandboxed);
    let report = Report {
        runs,
        added_p50_ms: sandboxed.p50_ms - direct.p50_ms,
        direct,
        sandboxed,
        grants: plan.grants.len(),
        network: plan.network,
    };
    println!("\nStart of a stdio server (spawn to its initialize answer), {runs} starts each:");
    println!("| start | p50 | p95 | min |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, f) in [("direct", &report.direct), ("sandboxed", &report.sandboxed)] {
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:.2} ms |",
            f.p50_ms, f.p95_ms, f.min_ms
        );
    }
    println!(
        "The sandbox adds {:.2} ms at p50 (target: at most 20 ms).",
        report.added_p50_ms
    );
    if let Some(out) = out {
        std::fs::create_dir_all(out)?;
        std::fs::write(
            out.join("sandbox.json"),
            serde_json::to_string_pretty(&report)?,
        )?;
    }
    Ok(())
}

/// Nanoseconds from spawn to the first line the server writes.
fn start(mut command: Command) -> Result<u64, BoxError> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    writeln!(stdin, "{INITIALIZE}")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let elapsed = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    if !line.contains("\"result\"") {
        return Err(format!("echo-server did not answer initialize: {line:?}").into());
    }
    Ok(elapsed)
}

fn figures(samples: &mut [u64]) -> Figures {
    samples.sort_unstable();
    let ms = |ns: u64| ns as f64 / 1e6;
    Figures {
        p50_ms: ms(percentile(samples, 0.5)),
        p95_ms: ms(percentile(samples, 0.95)),
        min_ms: ms(samples.first().copied().unwrap_or(0)),
    }
}
