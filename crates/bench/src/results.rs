//! The figures a run keeps: per phase, per path and cell, per gateway, and
//! the matrix of one section.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{
    AuditMode,
    load::Workload,
    meter::Usage,
    run::{Hop, Pair, PathId},
    stats::{Samples, Summary},
};

/// One measured phase.
pub(crate) struct Phase {
    pub samples: Samples,
    pub warmup_errors: BTreeMap<String, u64>,
    pub usage: Usage,
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
    pub path: PathId,
    pub label: String,
    /// All rounds' samples merged.
    pub summary: Summary,
    pub added_p50_ms: Option<f64>,
    pub added_p99_ms: Option<f64>,
    pub hop_cpu_s_per_1000: Option<f64>,
    /// Peak RSS of the hop in the first round: cells run from light to heavy, so
    /// this is not inflated by memory a heavier cell left behind.
    pub hop_peak_rss_mb: Option<f64>,
    /// Peak RSS of the hop over every round.
    pub hop_peak_rss_mb_all_rounds: Option<f64>,
    pub upstream_cpu_s_per_1000: f64,
    pub client_cpu_s_per_1000: f64,
    /// Seconds the hop stayed busy after the load, all rounds together.
    pub drain_s: f64,
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
    pub fn path(&self, hop: Hop, audit: Option<AuditMode>) -> Option<&PathResult> {
        self.paths
            .iter()
            .find(|p| p.path.hop == hop && (p.path.audit == audit || !p.path.is_gateway()))
    }
}

/// Memory of one gateway process outside the measured phases.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayMemory {
    pub audit: Option<AuditMode>,
    /// RSS once both servers are ready, before any client session.
    pub idle_rss_mb: f64,
    /// RSS with the C and D session pools open, before load.
    pub with_sessions_rss_mb: f64,
    /// RSS two seconds after the load ended and the sessions closed.
    pub after_load_rss_mb: f64,
    /// Highest RSS over the whole run.
    pub peak_rss_mb: f64,
    /// Peak RSS of its stdio echo server (D's upstream), for reference.
    pub stdio_child_peak_rss_mb: f64,
    /// Size of its data directory (store + audit log) after the run.
    pub data_dir_mb: f64,
    /// Requests it served on its direct path (C's tools/call, relayed as bytes).
    pub direct_requests: u64,
}

/// What the matrix measured.
#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub paths: Vec<PathId>,
    pub cells: Vec<CellResult>,
    pub gateways: Vec<GatewayMemory>,
    /// Whether per-phase peaks could be measured (VmHWM reset through clear_refs).
    pub per_phase_peaks: bool,
    pub rounds: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub keep_alive: bool,
    pub pair: Pair,
    pub nginx_workers: usize,
}

pub(crate) fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

pub(crate) fn cell_result(
    workload: Workload,
    concurrency: usize,
    ids: &[PathId],
    per_path: Vec<Vec<Phase>>,
) -> CellResult {
    let mut paths: Vec<PathResult> = Vec::new();
    for (id, phases) in ids.iter().zip(per_path) {
        let mut merged = Samples::default();
        let mut warmup_errors: BTreeMap<String, u64> = BTreeMap::new();
        let mut usage = Usage::default();
        let mut rounds = Vec::new();
        let first_peak = phases.first().map_or(0, |p| p.usage.hop_peak_rss);
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
            usage.drain_s += phase.usage.drain_s;
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
        let has_hop = id.hop != Hop::Direct;
        paths.push(PathResult {
            path: *id,
            label: id.label(),
            added_p50_ms: None,
            added_p99_ms: None,
            hop_cpu_s_per_1000: has_hop.then(|| per_1000(usage.hop_cpu_s)),
            hop_peak_rss_mb: has_hop.then(|| mb(first_peak)),
            hop_peak_rss_mb_all_rounds: has_hop.then(|| mb(usage.hop_peak_rss)),
            upstream_cpu_s_per_1000: per_1000(usage.upstream_cpu_s),
            client_cpu_s_per_1000: per_1000(usage.client_cpu_s),
            drain_s: usage.drain_s,
            warmup_errors,
            rounds,
            summary,
        });
    }
    let direct = paths
        .iter()
        .find(|p| p.path.hop == Hop::Direct)
        .map(|a| (a.summary.p50_ms, a.summary.p99_ms));
    if let Some((a50, a99)) = direct {
        for p in paths.iter_mut().filter(|p| p.path.hop != Hop::Direct) {
            p.added_p50_ms = Some(p.summary.p50_ms - a50);
            p.added_p99_ms = Some(p.summary.p99_ms - a99);
        }
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
