//! The targets each run is checked against, and how each one stands.

use serde::Serialize;

use crate::{
    AuditMode,
    run::{CellResult, Hop, Matrix, PathResult},
    scale::ScaleResult,
};

/// Targets: added p50 at concurrency 1 over direct, throughput at 64 sessions
/// as a share of nginx's, gateway CPU per call over nginx's, RSS.
const ADDED_P50_LIMIT_MS: f64 = 0.100;
const THROUGHPUT_SHARE: f64 = 0.8;
const CPU_FACTOR: f64 = 2.0;
const RSS_LIMIT_MB: f64 = 50.0;
const CACHED_LIST_LIMIT_MS: f64 = 10.0;
const SERVE_READY_LIMIT_MS: f64 = 300.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    Pass,
    Fail,
    NotMeasured,
}

impl Status {
    pub(crate) fn tag(self) -> &'static str {
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

fn find(m: &Matrix, payload: bool, concurrency: usize) -> Option<&CellResult> {
    m.cells
        .iter()
        .find(|c| (c.payload_bytes > 0) == payload && c.concurrency == concurrency)
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

pub(crate) fn targets(m: &Matrix) -> Vec<TargetCheck> {
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

pub(crate) fn scale_targets(scale: Option<&ScaleResult>) -> Vec<TargetCheck> {
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
