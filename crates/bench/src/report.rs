//! The report: one structure, printed as a text table and written as JSON and Markdown.

use std::{path::Path, time::Duration};

use serde::Serialize;

use crate::{
    AuditMode, RunArgs,
    run::{AuditPlan, Binaries, CellResult, Hop, Matrix, PathResult},
    scale::{ScaleResult, Startup},
};

/// Targets: added p50 at concurrency 1 over direct, throughput at 64 sessions
/// as a share of nginx's, gateway CPU per call over nginx's, RSS.
const ADDED_P50_LIMIT_MS: f64 = 0.100;
const THROUGHPUT_SHARE: f64 = 0.8;
const CPU_FACTOR: f64 = 2.0;
const RSS_LIMIT_MB: f64 = 50.0;
const CACHED_LIST_LIMIT_MS: f64 = 10.0;
const SERVE_READY_LIMIT_MS: f64 = 300.0;
/// nginx's added latency below this share of the direct p50 is noise: no ratio over it.
const NOISE_SHARE: f64 = 0.1;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gb: f64,
    pub kernel: String,
    pub os: String,
    pub nginx: String,
    /// Load average when the run started (other work on the machine skews results).
    pub loadavg_at_start: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    Pass,
    Fail,
    NotMeasured,
}

impl Status {
    fn tag(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::NotMeasured => "n/a ",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub target: String,
    pub measured: String,
    pub status: Status,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub date_utc: String,
    pub command: String,
    pub revision: String,
    pub machine: Machine,
    pub wall_seconds: f64,
    pub audit: AuditPlan,
    /// One section per client protocol and server era.
    pub matrices: Vec<Matrix>,
    pub scale: Option<ScaleResult>,
    pub targets: Vec<TargetCheck>,
}

impl Report {
    pub fn new(
        args: &RunArgs,
        bins: &Binaries,
        matrices: Vec<Matrix>,
        scale: Option<ScaleResult>,
        audit: AuditPlan,
        wall: Duration,
    ) -> Self {
        let mut targets: Vec<TargetCheck> = matrices.iter().flat_map(targets).collect();
        targets.extend(scale_targets(scale.as_ref()));
        Self {
            date_utc: today_utc(),
            command: args.command_note.clone(),
            revision: revision(),
            machine: machine(&bins.nginx),
            wall_seconds: wall.as_secs_f64(),
            audit,
            matrices,
            scale,
            targets,
        }
    }
}

fn find(m: &Matrix, payload: bool, concurrency: usize) -> Option<&CellResult> {
    m.cells
        .iter()
        .find(|c| (c.payload_bytes > 0) == payload && c.concurrency == concurrency)
}

fn mode_suffix(audit: Option<AuditMode>) -> String {
    audit.map_or_else(String::new, |m| format!(" [audit {}]", m.name()))
}

const ROUTES: [(Hop, &str); 3] = [
    (Hop::GatewayHttp, "C http"),
    (Hop::GatewayStdio, "D stdio"),
    (Hop::GatewayAll, "E /mcp"),
];

/// One check over the gateway's routes: passes when every measured route does.
fn check(
    target: String,
    figures: Vec<(&str, Option<(String, bool)>)>,
    reference: String,
) -> TargetCheck {
    let measured: Vec<String> = figures
        .iter()
        .filter_map(|(route, f)| f.as_ref().map(|(text, _)| format!("{route} {text}")))
        .collect();
    if measured.is_empty() {
        return not_measured(&target);
    }
    let pass = figures
        .iter()
        .all(|(_, f)| f.as_ref().is_some_and(|(_, ok)| *ok));
    TargetCheck {
        target,
        measured: format!("{}; {reference}", measured.join(", ")),
        status: if pass { Status::Pass } else { Status::Fail },
    }
}

fn targets(m: &Matrix) -> Vec<TargetCheck> {
    let mut out = Vec::new();
    let c1 = find(m, false, 1);
    let c64 = find(m, false, 64);
    let section = m.pair.label();
    for g in &m.gateways {
        let mode = g.audit;
        let suffix = format!(
            " [{section}{}]",
            mode.map_or_else(String::new, |a| format!(", audit {}", a.name()))
        );
        fn on(cell: Option<&CellResult>, hop: Hop, mode: Option<AuditMode>) -> Option<&PathResult> {
            cell.and_then(|c| c.path(hop, mode))
        }
        out.push(check(
            format!(
                "added p50 at concurrency 1 <= {:.0} us over direct{suffix}",
                ADDED_P50_LIMIT_MS * 1000.0
            ),
            ROUTES
                .iter()
                .map(|&(hop, route)| {
                    let f = on(c1, hop, mode).and_then(|p| p.added_p50_ms).map(|added| {
                        (
                            format!("{:+.0} us", added * 1000.0),
                            added <= ADDED_P50_LIMIT_MS,
                        )
                    });
                    (route, f)
                })
                .collect(),
            on(c1, Hop::Nginx, mode)
                .and_then(|b| b.added_p50_ms)
                .map_or_else(String::new, |b| format!("nginx {:+.0} us", b * 1000.0)),
        ));
        let nginx64 = on(c64, Hop::Nginx, mode).map(|b| b.summary.throughput);
        out.push(check(
            format!("throughput at 64 sessions >= 80% of nginx's{suffix}"),
            ROUTES
                .iter()
                .map(|&(hop, route)| {
                    let f = match (on(c64, hop, mode), nginx64) {
                        (Some(p), Some(b)) if b > 0.0 => {
                            let share = p.summary.throughput / b;
                            Some((format!("{:.0}%", 100.0 * share), share >= THROUGHPUT_SHARE))
                        }
                        _ => None,
                    };
                    (route, f)
                })
                .collect(),
            nginx64.map_or_else(String::new, |b| format!("nginx {b:.0} calls/s")),
        ));
        let cpu = |p: &PathResult| p.hop_cpu_s_per_1000;
        let nginx_cpu = on(c64, Hop::Nginx, mode).and_then(cpu);
        out.push(check(
            format!("gateway CPU per call <= 2x nginx's (64 sessions){suffix}"),
            ROUTES
                .iter()
                .map(|&(hop, route)| {
                    let f = match (on(c64, hop, mode).and_then(cpu), nginx_cpu) {
                        (Some(x), Some(b)) if b > 0.0 => {
                            Some((format!("{:.1}x", x / b), x <= CPU_FACTOR * b))
                        }
                        _ => None,
                    };
                    (route, f)
                })
                .collect(),
            nginx_cpu.map_or_else(String::new, |b| format!("nginx {b:.3} CPU s per 1k calls")),
        ));
        out.push(TargetCheck {
            target: format!("gateway RSS peak <= 50 MB, 100 KB results included{suffix}"),
            measured: format!(
                "peak {:.1} MB (idle {:.1} MB)",
                g.peak_rss_mb, g.idle_rss_mb
            ),
            status: if g.peak_rss_mb <= RSS_LIMIT_MB {
                Status::Pass
            } else {
                Status::Fail
            },
        });
    }
    out
}

fn scale_targets(scale: Option<&ScaleResult>) -> Vec<TargetCheck> {
    let mut out = Vec::new();
    match scale {
        Some(s) => {
            let tools = s.cached_raw.tools;
            out.push(TargetCheck {
                target: format!("tools/list over {tools} tools from cache <= 10 ms"),
                measured: format!(
                    "{:.1} ms p50 to the last byte (raw HTTP); {:.1} ms through rmcp's client incl. parsing",
                    s.cached_raw.p50_ms, s.cached_rmcp.p50_ms
                ),
                status: if s.cached_raw.p50_ms <= CACHED_LIST_LIMIT_MS {
                    Status::Pass
                } else {
                    Status::Fail
                },
            });
            out.push(TargetCheck {
                target: format!(
                    "`serve` ready <= 300 ms with {} servers configured",
                    s.servers
                ),
                measured: format!(
                    "{:.0} ms to the MCP endpoint (median of {} starts); all servers ready after {:.0} ms \
                     (restart) / {:.0} ms (first start)",
                    s.endpoint_ms,
                    s.startups.len(),
                    s.all_ready_ms,
                    s.startups.first().map_or(0.0, |x| x.all_ready_ms)
                ),
                status: if s.endpoint_ms <= SERVE_READY_LIMIT_MS {
                    Status::Pass
                } else {
                    Status::Fail
                },
            });
        }
        None => {
            out.push(not_measured(
                "tools/list over 5,000 tools from cache <= 10 ms",
            ));
            out.push(not_measured(
                "`serve` ready <= 300 ms with 100 servers configured",
            ));
        }
    }
    out
}

fn not_measured(target: &str) -> TargetCheck {
    TargetCheck {
        target: target.into(),
        measured: "not measured in this run".into(),
        status: Status::NotMeasured,
    }
}

/// Table rows: the headers, then one row per path and the C/B and D/B ratios per cell.
fn matrix_rows(m: &Matrix) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let headers = vec![
        "result",
        "conc",
        "path",
        "p50 ms",
        "p99 ms",
        "+p50 ms",
        "+p99 ms",
        "calls/s",
        "errors",
        "RSS peak MB",
        "CPU s/1k",
    ];
    let dash = || "-".to_owned();
    let mut rows = Vec::new();
    for cell in &m.cells {
        for p in &cell.paths {
            let errors = p.summary.errors + p.warmup_errors.values().sum::<u64>();
            rows.push(vec![
                cell.workload.clone(),
                cell.concurrency.to_string(),
                p.label.to_owned(),
                format!("{:.3}", p.summary.p50_ms),
                format!("{:.3}", p.summary.p99_ms),
                p.added_p50_ms.map_or_else(dash, |v| format!("{v:+.3}")),
                p.added_p99_ms.map_or_else(dash, |v| format!("{v:+.3}")),
                format!("{:.0}", p.summary.throughput),
                errors.to_string(),
                p.hop_peak_rss_mb.map_or_else(dash, |v| format!("{v:.1}")),
                p.hop_cpu_s_per_1000
                    .map_or_else(dash, |v| format!("{v:.3}")),
            ]);
        }
        // An added-latency ratio over an nginx figure lost in the noise says nothing.
        let a_p50 = cell
            .path(Hop::Direct, None)
            .map_or(0.0, |a| a.summary.p50_ms);
        let meaningful = |added: Option<f64>| added.filter(|&b| b > NOISE_SHARE * a_p50);
        if let Some(b) = cell.path(Hop::Nginx, None) {
            for x in cell.paths.iter().filter(|p| p.path.is_gateway()) {
                let ratio = |num: Option<f64>, den: Option<f64>| match (num, den) {
                    (Some(n), Some(d)) if d > 0.0 => format!("{:.1}x", n / d),
                    _ => dash(),
                };
                rows.push(vec![
                    cell.workload.clone(),
                    cell.concurrency.to_string(),
                    format!("{}/B", x.path.short()),
                    dash(),
                    dash(),
                    ratio(x.added_p50_ms, meaningful(b.added_p50_ms)),
                    ratio(x.added_p99_ms, meaningful(b.added_p99_ms)),
                    ratio(Some(x.summary.throughput), Some(b.summary.throughput)),
                    dash(),
                    ratio(x.hop_peak_rss_mb, b.hop_peak_rss_mb),
                    ratio(x.hop_cpu_s_per_1000, b.hop_cpu_s_per_1000),
                ]);
            }
        }
    }
    (headers, rows)
}

fn render_text(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                // Text columns left, numbers right.
                if i < 3 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(headers.iter().map(|h| (*h).to_owned()).collect())];
    let mut last_cell: Option<(String, String)> = None;
    for row in rows {
        let cell = (row[0].clone(), row[1].clone());
        if last_cell.as_ref().is_some_and(|l| *l != cell) {
            out.push(String::new());
        }
        last_cell = Some(cell);
        out.push(line(row.clone()));
    }
    out.join("\n")
}

fn render_markdown(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", headers.join(" | "));
    out.push_str(&format!(
        "|{}\n",
        headers
            .iter()
            .enumerate()
            .map(|(i, _)| if i < 3 { " --- |" } else { " ---: |" })
            .collect::<String>()
    ));
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

fn method_lines(r: &Report) -> Vec<String> {
    let Some(m) = r.matrices.first() else {
        return Vec::new();
    };
    vec![
        format!(
            "Load: closed-loop tools/call on rmcp streamable-HTTP clients, 2025-11-25 (a session per \
             client) and 2026-07-28 (stateless requests), each against echo servers of both eras \
             (a 2025-11-25 server serves sessions only); {} interleaved rounds x {:.1} s per path \
             and cell after {:.1} s warm-up, the paths of one section interleaved; {}.",
            m.rounds,
            m.duration_s,
            m.warmup_s,
            if m.keep_alive {
                "HTTP keep-alive in the client"
            } else {
                "a new HTTP connection per request (rmcp's client default)"
            }
        ),
        "Paths: A client -> echo server; B client -> nginx proxy_pass (keep-alive upstream) -> echo \
         server; C client -> Switchboard /mcp/echo-http -> echo server over HTTP; D client -> \
         Switchboard /mcp/echo-stdio -> echo server over stdio; E client -> Switchboard /mcp \
         (every server's tools, `echo-http__echo`) -> echo server over HTTP. Every gateway path \
         is the one pipeline (bound, decided, recorded, relayed as bytes). A stateless client \
         cannot reach a session-only server directly: in that section A and B use a session \
         client, and C/D/E are the gateway bridging the eras."
            .into(),
        format!(
            "+p50/+p99: added latency vs A. RSS peak: highest resident memory while the cell ran in round 1 \
             (cells run from light to heavy; later rounds, in the JSON, also carry memory heavier cells \
             left behind); nginx: all {} of its processes summed, C/D/E: the gateway process. CPU s/1k: \
             CPU seconds per 1,000 calls of the hop alone (the echo servers are upstream, for D too). \
             Ratios X/B: added latency (- when nginx's is within noise), throughput, RSS, CPU.",
            m.nginx_workers + 1
        ),
        format!(
            "Errors: failed calls in the measured window plus the warm-up (details in the JSON); \
             per-phase RSS peaks {}.",
            if m.per_phase_peaks {
                "via VmHWM reset"
            } else {
                "unavailable (no clear_refs): RSS at the end of each phase"
            }
        ),
    ]
}

fn memory_lines(m: &Matrix) -> Vec<String> {
    m.gateways
        .iter()
        .map(|g| {
            format!(
                "Gateway{} RSS: idle {:.1} MB; with its C+D+E session pools open {:.1} MB; peak under load \
                 {:.1} MB; 2 s after the load {:.1} MB. Data dir after the run {:.0} MB; its stdio echo \
                 server peaked at {:.1} MB. Requests relayed as bytes: {}.",
                mode_suffix(g.audit),
                g.idle_rss_mb,
                g.with_sessions_rss_mb,
                g.peak_rss_mb,
                g.after_load_rss_mb,
                g.data_dir_mb,
                g.stdio_child_peak_rss_mb,
                g.direct_requests
            )
        })
        .collect()
}

fn scale_lines(s: &ScaleResult) -> Vec<String> {
    let mut out = vec![format!(
        "Scale: {} stdio echo servers x {} tools = {} tools on /mcp; `serve` started {} times.",
        s.servers,
        s.tools_per_server,
        s.servers * s.tools_per_server,
        s.startups.len()
    )];
    out.push(format!(
        "  serve -> MCP endpoint up: {:.0} ms (median of all starts; servers start in the background).",
        s.endpoint_ms
    ));
    let describe = |x: &Startup| {
        format!(
            "control API answering {:.0} ms; all {} servers ready {:.0} ms; first tools/list on /mcp \
             (sent the moment the endpoint is up, so it waits for the servers) {:.0} ms, {} tools",
            x.first_answer_ms, s.servers, x.all_ready_ms, x.cold_list_ms, x.cold_list_tools
        )
    };
    if let Some(first) = s.startups.first() {
        out.push(format!(
            "  first start (tool definitions seen for the first time): {}.",
            describe(first)
        ));
    }
    if s.startups.len() > 1 {
        out.push(format!(
            "  restarts (median of {}): control API answering {:.0} ms; all ready {:.0} ms; first tools/list {:.0} ms.",
            s.startups.len() - 1,
            s.first_answer_ms,
            s.all_ready_ms,
            s.cold_list_ms
        ));
    }
    out.push(format!(
        "  tools/list cached (every server ready): p50 {:.1} ms (min {:.1}, max {:.1}) to the last byte \
         over raw HTTP, {:.1} MB; p50 {:.1} ms through rmcp's client incl. parsing. {} tools.",
        s.cached_raw.p50_ms,
        s.cached_raw.min_ms,
        s.cached_raw.max_ms,
        s.cached_raw.bytes as f64 / (1024.0 * 1024.0),
        s.cached_rmcp.p50_ms,
        s.cached_raw.tools
    ));
    out.push(format!(
        "  gateway RSS with every server ready: {:.1} MB.",
        s.gateway_rss_mb
    ));
    out.push(format!("  policy decision: {}.", s.policy_note));
    out
}

fn header_lines(r: &Report) -> Vec<String> {
    let m = &r.machine;
    vec![
        format!(
            "Switchboard benchmark, {} (UTC), `{}`, revision {}",
            r.date_utc, r.command, r.revision
        ),
        format!(
            "Machine: {} ({} cores), {:.1} GB RAM, {}, Linux {}, nginx {}; load average at start {}.",
            m.cpu, m.cores, m.memory_gb, m.os, m.kernel, m.nginx, m.loadavg_at_start
        ),
    ]
}

fn audit_line(r: &Report) -> String {
    if r.audit.applied {
        let modes: Vec<&str> = r.audit.requested.iter().map(|m| m.name()).collect();
        format!(
            "Audit: C, D and E run with audit {} ({}); strict answers only once the call's record \
             is committed, relaxed queues it.",
            modes.join(" and "),
            r.audit.note
        )
    } else {
        format!("Audit strict/relaxed: {}.", r.audit.note)
    }
}

pub fn text(r: &Report) -> String {
    let mut out = header_lines(r);
    out.extend(method_lines(r));
    out.push(audit_line(r));
    for m in &r.matrices {
        let (headers, rows) = matrix_rows(m);
        out.push(String::new());
        out.push(format!("{}:", m.pair.label()));
        out.push(render_text(&headers, &rows));
        out.extend(memory_lines(m));
    }
    if let Some(s) = &r.scale {
        out.push(String::new());
        out.extend(scale_lines(s));
    }
    out.push(String::new());
    out.push("Targets:".into());
    for t in &r.targets {
        out.push(format!(
            "  [{}] {}: {}",
            t.status.tag(),
            t.target,
            t.measured
        ));
    }
    let drains: Vec<String> = r.matrices.iter().flat_map(drain_lines).collect();
    if !drains.is_empty() {
        out.push(String::new());
        out.push("Busy after the load (deferred work, counted in CPU s/1k):".into());
        out.extend(drains);
    }
    let errors: Vec<String> = r.matrices.iter().flat_map(error_lines).collect();
    if !errors.is_empty() {
        out.push(String::new());
        out.push("Errors:".into());
        out.extend(errors);
    }
    out.push(format!("\nWall time of the run: {:.0} s.", r.wall_seconds));
    out.join("\n")
}

/// Paths whose hop kept working after the load stopped (more than half a second in all).
fn drain_lines(m: &Matrix) -> Vec<String> {
    let mut out = Vec::new();
    for cell in &m.cells {
        for p in cell.paths.iter().filter(|p| p.drain_s > 0.5) {
            out.push(format!(
                "  [{}] {} c={} {}: {:.1} s over {} rounds",
                m.pair.label(),
                cell.workload,
                cell.concurrency,
                p.label,
                p.drain_s,
                p.rounds.len()
            ));
        }
    }
    out
}

fn error_lines(m: &Matrix) -> Vec<String> {
    let mut out = Vec::new();
    for cell in &m.cells {
        for p in &cell.paths {
            let phases = [
                ("measured", &p.summary.error_kinds),
                ("warm-up", &p.warmup_errors),
            ];
            for (when, kinds) in phases {
                for (message, count) in kinds {
                    out.push(format!(
                        "  [{}] {} c={} {} ({when}) x{count}: {message}",
                        m.pair.label(),
                        cell.workload,
                        cell.concurrency,
                        p.label
                    ));
                }
            }
        }
    }
    out
}

pub fn markdown(r: &Report) -> String {
    let mut out = vec![format!("## Latest run: {}", r.date_utc), String::new()];
    out.extend(header_lines(r).into_iter().map(|l| format!("{l}  ")));
    out.push(String::new());
    out.extend(method_lines(r));
    out.push(String::new());
    out.push(audit_line(r));
    for m in &r.matrices {
        let (headers, rows) = matrix_rows(m);
        out.push(String::new());
        out.push(format!("### {}", m.pair.label()));
        out.push(String::new());
        out.push(render_markdown(&headers, &rows));
        out.extend(memory_lines(m).into_iter().map(|l| format!("- {l}")));
    }
    if let Some(s) = &r.scale {
        out.push(String::new());
        let mut lines = scale_lines(s).into_iter();
        out.extend(lines.next());
        out.push(String::new());
        out.extend(lines.map(|l| format!("- {}", l.trim_start())));
    }
    out.push(String::new());
    out.push("| target | measured | status |".into());
    out.push("| --- | --- | --- |".into());
    for t in &r.targets {
        out.push(format!(
            "| {} | {} | {} |",
            t.target,
            t.measured,
            t.status.tag().trim()
        ));
    }
    let drains: Vec<String> = r.matrices.iter().flat_map(drain_lines).collect();
    if !drains.is_empty() {
        out.push(String::new());
        out.push("Busy after the load (deferred work, counted in CPU s/1k):".into());
        out.push(String::new());
        out.extend(drains.into_iter().map(|l| format!("- {}", l.trim_start())));
    }
    let errors: Vec<String> = r.matrices.iter().flat_map(error_lines).collect();
    out.push(String::new());
    if errors.is_empty() {
        out.push("Errors: none.".into());
    } else {
        out.push("Errors:".into());
        out.push(String::new());
        out.extend(errors.into_iter().map(|l| format!("- {}", l.trim_start())));
    }
    out.push(String::new());
    out.push(format!("Wall time of the run: {:.0} s.", r.wall_seconds));
    out.push(String::new());
    out.join("\n")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn machine(nginx: &Path) -> Machine {
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let memory_kb: f64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| "unknown OS".into());
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        memory_gb: memory_kb / (1024.0 * 1024.0),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        os,
        nginx: crate::nginx::version(nginx),
        loadavg_at_start: read("/proc/loadavg")
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// The checked-out commit (short), marked when the tree has changes.
fn revision() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(rev) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{rev} (with local changes)")
            } else {
                rev
            }
        }
        None => "unknown".into(),
    }
}

/// Today's date (UTC) as YYYY-MM-DD.
fn today_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
    }
}
