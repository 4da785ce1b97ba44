//! The report: one structure, printed as a text table and written as JSON and Markdown.

use std::time::Duration;

use serde::Serialize;

use crate::{
    AuditMode, RunArgs,
    machine::{Machine, machine, revision, today_utc},
    run::{AuditPlan, Binaries, Hop, Matrix},
    scale::{ScaleResult, Startup},
    targets::{TargetCheck, scale_targets, targets},
};

/// nginx's added latency below this share of the direct p50 is noise: no ratio over it.
const NOISE_SHARE: f64 = 0.1;

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
            machine: machine(Some(&bins.nginx)),
            wall_seconds: wall.as_secs_f64(),
            audit,
            matrices,
            scale,
            targets,
        }
    }
}

fn mode_suffix(audit: Option<AuditMode>) -> String {
    audit.map_or_else(String::new, |m| format!(" [audit {}]", m.name()))
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
