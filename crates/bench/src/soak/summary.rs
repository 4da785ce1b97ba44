//! The soak's figures: per minute, at the end, the checks, and the audit
//! records counted per client.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    Sample, SoakArgs,
    clients::{ClientFigures, Window},
    faults::{FaultEvent, by_kind},
};
use crate::{
    BoxError,
    gateway::Gateway,
    machine::{Machine, machine, revision, today_utc},
    stats::{Samples, Summary, median},
};

/// Warm-up: the first 5 minutes, or the first 20% of a shorter run.
const WARMUP_MINUTES: f64 = 5.0;
const WARMUP_SHARE: f64 = 0.2;
/// The target for RSS growth after warm-up.
const RSS_SLOPE_LIMIT_MB_H: f64 = 5.0;
/// Shorter runs report the RSS slope but do not judge it.
const RSS_JUDGED_FROM_MINUTES: f64 = 20.0;
/// The p99 of a minute is stable within this factor of the median minute's.
const P99_SPREAD_LIMIT: f64 = 2.0;
/// Audit records read per control API call.
const PAGE: usize = 5000;

pub(crate) const MINUTE_HEADER: &str = "| min | RSS MB | fds | processes | CPU % | answered | ok | p50 ms | p99 ms | failed | data MB | faults |\n\
     |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

/// One minute of the run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Minute {
    pub minute: usize,
    /// The gateway at the minute's end.
    pub rss_mb: f64,
    pub fds: usize,
    pub children: usize,
    pub data_mb: f64,
    /// The gateway's CPU over the minute, % of one core.
    pub cpu_pct: f64,
    /// Calls answered in the minute (a result or a JSON-RPC error).
    pub answered: u64,
    /// Of those, answered with the expected result (the latencies).
    pub ok: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Calls that failed, answered or not, by any cause.
    pub failed: u64,
    pub faults: u64,
}

impl Minute {
    pub fn new(minute: usize, window: &Window, at_end: Sample, cpu_pct: f64, faults: u64) -> Self {
        let summary = window.samples.summary();
        Self {
            minute,
            rss_mb: at_end.rss_mb,
            fds: at_end.fds,
            children: at_end.children,
            data_mb: at_end.data_mb,
            cpu_pct,
            answered: window.answered,
            ok: summary.calls,
            p50_ms: summary.p50_ms,
            p99_ms: summary.p99_ms,
            failed: summary.errors,
            faults,
        }
    }

    pub fn line(&self) -> String {
        format!(
            "| {} | {:.1} | {} | {} | {:.0} | {} | {} | {:.2} | {:.2} | {} | {:.1} | {} |",
            self.minute,
            self.rss_mb,
            self.fds,
            self.children,
            self.cpu_pct,
            self.answered,
            self.ok,
            self.p50_ms,
            self.p99_ms,
            self.failed,
            self.data_mb,
            self.faults
        )
    }
}

/// The `tools/call` records of one client.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Records {
    pub total: u64,
    pub by_status: BTreeMap<String, u64>,
}

/// Counts the audit records of `tools/call` per client, through the control API.
pub(crate) async fn audit_counts(gateway: &Gateway) -> Result<BTreeMap<String, Records>, BoxError> {
    #[derive(Deserialize)]
    struct Row {
        id: i64,
        client: Option<String>,
        status: String,
    }
    let mut counts: BTreeMap<String, Records> = BTreeMap::new();
    let mut before: Option<i64> = None;
    loop {
        let page = gateway
            .rpc(
                "audit_query",
                json!({ "method": "tools/call", "limit": PAGE, "before_id": before }),
            )
            .await?;
        let rows: Vec<Row> = serde_json::from_value(page)?;
        for row in &rows {
            let client = row.client.clone().unwrap_or_else(|| "(no client)".into());
            let entry = counts.entry(client).or_default();
            entry.total += 1;
            *entry.by_status.entry(row.status.clone()).or_default() += 1;
        }
        match rows.last() {
            Some(last) if rows.len() == PAGE => before = Some(last.id),
            _ => return Ok(counts),
        }
    }
}

/// A client's calls next to its records.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ClientAudit {
    #[serde(flatten)]
    pub calls: ClientFigures,
    pub records: Records,
}

/// Everything the report is made of.
pub(crate) struct Inputs<'a> {
    pub args: &'a SoakArgs,
    pub seed: u64,
    pub rows: Vec<Minute>,
    pub samples: Vec<Sample>,
    pub errors: BTreeMap<String, u64>,
    pub events: Vec<FaultEvent>,
    pub idle_before: Sample,
    pub idle_after: Sample,
    pub settled_s: f64,
    pub fds_before: BTreeMap<String, usize>,
    pub fds_after: BTreeMap<String, usize>,
    pub by_server: BTreeMap<&'static str, Samples>,
    pub clients: Vec<ClientFigures>,
    pub records: BTreeMap<String, Records>,
    pub leftover_processes: usize,
    pub load_at_start: String,
    pub load_at_end: String,
}

/// Sums over every client.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Totals {
    pub answered: u64,
    pub ok: u64,
    pub in_doubt: u64,
    pub refused_after_revoke: u64,
    pub answered_after_revoke: u64,
    pub records: u64,
    /// Answered calls without a record (a client's answered minus its records, when positive).
    pub missing_records: u64,
    /// Records beyond a client's answered and in-doubt calls.
    pub unexplained_records: u64,
    /// Records of clients the soak did not run.
    pub foreign_records: u64,
}

/// One check of the run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Check {
    pub name: String,
    pub target: String,
    pub measured: String,
    pub pass: bool,
    /// A failed hard check fails the run (exit status); the others are reported.
    pub hard: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub date: String,
    pub revision: String,
    pub machine: Machine,
    pub load_at_start: String,
    pub load_at_end: String,
    pub seed: u64,
    pub minutes: f64,
    pub clients_at_once: usize,
    pub think_ms: u64,
    pub fault_every_s: f64,
    pub warmup_minutes: f64,
    pub per_minute: Vec<Minute>,
    pub samples: Vec<Sample>,
    pub idle_before: Sample,
    pub idle_after: Sample,
    /// Seconds from the end of the load to `idle_after`.
    pub settled_s: f64,
    /// The gateway's descriptors by kind, idle before and after the load.
    pub fds_before: BTreeMap<String, usize>,
    pub fds_after: BTreeMap<String, usize>,
    /// The whole run per server called: latency of the calls answered as
    /// expected, and failures.
    pub by_server: BTreeMap<&'static str, Summary>,
    pub rss_after_warmup_mb: f64,
    pub rss_end_mb: f64,
    pub rss_max_mb: f64,
    /// Least-squares slope of the RSS samples after warm-up.
    pub rss_slope_mb_per_hour: f64,
    pub fds_after_warmup: (usize, usize),
    pub p99_after_warmup_ms: (f64, f64, f64),
    pub totals: Totals,
    pub clients: Vec<ClientAudit>,
    pub failures: BTreeMap<String, u64>,
    pub faults: Vec<FaultEvent>,
    pub fault_kinds: BTreeMap<String, (u64, u64)>,
    pub leftover_processes: usize,
    pub checks: Vec<Check>,
}

fn is_db_file(kind: &str) -> bool {
    [".db", ".db-wal", ".db-shm"]
        .iter()
        .any(|end| kind.ends_with(end))
}

/// Descriptors of database files: a SQLite connection pool opens more
/// connections (each its database and WAL) under load, up to its limit, and
/// keeps them while idle.
fn db_fds(kinds: &BTreeMap<String, usize>) -> usize {
    kinds
        .iter()
        .filter(|(k, _)| is_db_file(k))
        .map(|(_, n)| n)
        .sum()
}

/// Every other descriptor.
fn other_fds(kinds: &BTreeMap<String, usize>) -> usize {
    kinds
        .iter()
        .filter(|(k, _)| !is_db_file(k))
        .map(|(_, n)| n)
        .sum()
}

/// Least-squares slope of y over x (0 with fewer than two distinct x).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx > 0.0 { sxy / sxx } else { 0.0 }
}

impl Report {
    pub fn new(i: Inputs<'_>) -> Self {
        let minutes = i.args.minutes;
        let warmup = WARMUP_MINUTES.min(minutes * WARMUP_SHARE);
        let after: Vec<&Sample> = i
            .samples
            .iter()
            .filter(|s| s.t_s >= warmup * 60.0)
            .collect();
        let rss_slope = slope(
            &after
                .iter()
                .map(|s| (s.t_s / 3600.0, s.rss_mb))
                .collect::<Vec<_>>(),
        );
        let fds = after.iter().map(|s| s.fds);
        let fds_after_warmup = (fds.clone().min().unwrap_or(0), fds.max().unwrap_or(0));
        // Minutes that began after the warm-up.
        let mut p99: Vec<f64> = i
            .rows
            .iter()
            .filter(|m| (m.minute - 1) as f64 >= warmup && m.ok > 0)
            .map(|m| m.p99_ms)
            .collect();
        let p99_min = p99.iter().copied().fold(f64::INFINITY, f64::min);
        let p99_max = p99.iter().copied().fold(0.0, f64::max);
        let p99_median = median(&mut p99);
        let p99_after_warmup_ms = (
            if p99_min.is_finite() { p99_min } else { 0.0 },
            p99_median,
            p99_max,
        );

        let mut totals = Totals::default();
        let mut clients = Vec::new();
        for calls in i.clients {
            let records = i.records.get(&calls.name).cloned().unwrap_or_default();
            totals.answered += calls.answered;
            totals.ok += calls.ok;
            totals.in_doubt += calls.in_doubt;
            totals.refused_after_revoke += calls.refused;
            totals.answered_after_revoke += calls.answered_after_revoke;
            totals.records += records.total;
            totals.missing_records += calls.answered.saturating_sub(records.total);
            totals.unexplained_records += records
                .total
                .saturating_sub(calls.answered + calls.in_doubt);
            clients.push(ClientAudit { calls, records });
        }
        totals.foreign_records = i
            .records
            .iter()
            .filter(|(name, _)| !clients.iter().any(|c| &c.calls.name == *name))
            .map(|(_, r)| r.total)
            .sum();

        let fault_kinds = by_kind(&i.events);
        let failed_faults: Vec<String> = i
            .events
            .iter()
            .filter(|e| !e.ok)
            .map(|e| format!("{} at {:.0} s: {}", e.kind, e.at_s, e.detail))
            .collect();
        let zombies = i
            .samples
            .iter()
            .chain([&i.idle_after])
            .map(|s| s.zombies)
            .max()
            .unwrap_or(0);
        let revoked = clients.iter().filter(|c| c.calls.revoked).count();
        let (before, after_idle) = (i.idle_before, i.idle_after);
        let rss_after_warmup_mb = after.first().map_or(0.0, |s| s.rss_mb);
        let checks = vec![
            Check {
                name: "every answered call recorded".into(),
                target: "records >= answered, per client".into(),
                measured: format!(
                    "{} answered, {} records of tools/call, {} without a record",
                    totals.answered, totals.records, totals.missing_records
                ),
                pass: totals.missing_records == 0,
                hard: true,
            },
            Check {
                name: "no record without a call".into(),
                target: "records <= answered + in doubt, per client".into(),
                measured: format!(
                    "{} in doubt (sent, no answer), {} records unexplained, {} of other clients",
                    totals.in_doubt, totals.unexplained_records, totals.foreign_records
                ),
                pass: totals.unexplained_records == 0 && totals.foreign_records == 0,
                hard: true,
            },
            Check {
                name: "no leaked processes".into(),
                target: "same processes below the gateway idle before and after; none outlive it; \
                         none left unreaped"
                    .into(),
                measured: format!(
                    "{} before, {} after; {} left after shutdown; most unreaped children at once {}",
                    before.children, after_idle.children, i.leftover_processes, zombies
                ),
                pass: before.children == after_idle.children
                    && i.leftover_processes == 0
                    && zombies == 0,
                hard: true,
            },
            Check {
                name: "no leaked descriptors".into(),
                target: "open fds idle after <= idle before, database files aside \
                         (connection pools, bounded)"
                    .into(),
                measured: format!(
                    "{} before, {} after {:.0} s idle ({}-{} under load after warm-up); \
                     database files {} -> {}",
                    before.fds,
                    after_idle.fds,
                    i.settled_s,
                    fds_after_warmup.0,
                    fds_after_warmup.1,
                    db_fds(&i.fds_before),
                    db_fds(&i.fds_after),
                ),
                pass: other_fds(&i.fds_after) <= other_fds(&i.fds_before),
                hard: true,
            },
            Check {
                name: "revoked tokens refused".into(),
                target: "no call answered once a revocation was confirmed".into(),
                measured: format!(
                    "{revoked} clients revoked, {} calls refused with 401, {} answered after",
                    totals.refused_after_revoke, totals.answered_after_revoke
                ),
                pass: totals.answered_after_revoke == 0,
                hard: true,
            },
            Check {
                name: "servers recover from every fault".into(),
                target: "ready again within 45 s; removed servers' processes end".into(),
                measured: if failed_faults.is_empty() {
                    format!("{} faults, all recovered", i.events.len())
                } else {
                    failed_faults.join("; ")
                },
                pass: failed_faults.is_empty(),
                hard: true,
            },
            Check {
                name: "RSS growth after warm-up".into(),
                target: format!("< {RSS_SLOPE_LIMIT_MB_H} MB/hour"),
                measured: format!(
                    "{rss_slope:+.2} MB/hour ({rss_after_warmup_mb:.1} MB after warm-up, {:.1} MB at the end){}",
                    after.last().map_or(0.0, |s| s.rss_mb),
                    if minutes < RSS_JUDGED_FROM_MINUTES {
                        "; too short a run to judge"
                    } else {
                        ""
                    }
                ),
                pass: rss_slope < RSS_SLOPE_LIMIT_MB_H,
                hard: minutes >= RSS_JUDGED_FROM_MINUTES,
            },
            Check {
                name: "p99 stable minute to minute".into(),
                target: format!("every minute's p99 <= {P99_SPREAD_LIMIT}x the median minute's"),
                measured: format!(
                    "{:.2} / {:.2} / {:.2} ms (min / median / max over {} minutes)",
                    p99_after_warmup_ms.0,
                    p99_after_warmup_ms.1,
                    p99_after_warmup_ms.2,
                    i.rows
                        .iter()
                        .filter(|m| (m.minute - 1) as f64 >= warmup)
                        .count()
                ),
                pass: p99_max <= P99_SPREAD_LIMIT * p99_median,
                hard: false,
            },
        ];
        Self {
            date: today_utc(),
            revision: revision(),
            machine: machine(None),
            load_at_start: i.load_at_start,
            load_at_end: i.load_at_end,
            seed: i.seed,
            minutes,
            clients_at_once: i.args.clients,
            think_ms: i.args.think_ms,
            fault_every_s: i.args.fault_every,
            warmup_minutes: warmup,
            rss_max_mb: i.samples.iter().map(|s| s.rss_mb).fold(0.0, f64::max),
            rss_end_mb: i.samples.last().map_or(0.0, |s| s.rss_mb),
            per_minute: i.rows,
            samples: i.samples,
            idle_before: before,
            idle_after: after_idle,
            settled_s: i.settled_s,
            fds_before: i.fds_before,
            fds_after: i.fds_after,
            by_server: i.by_server.iter().map(|(k, v)| (*k, v.summary())).collect(),
            rss_after_warmup_mb,
            rss_slope_mb_per_hour: rss_slope,
            fds_after_warmup,
            p99_after_warmup_ms,
            totals,
            clients,
            failures: i.errors,
            faults: i.events,
            fault_kinds,
            leftover_processes: i.leftover_processes,
            checks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares() {
        let line: Vec<(f64, f64)> = (0..10).map(|x| (x as f64, 3.0 * x as f64 + 1.0)).collect();
        assert!((slope(&line) - 3.0).abs() < 1e-9);
        assert_eq!(slope(&[(1.0, 2.0)]), 0.0);
        assert_eq!(slope(&[(1.0, 2.0), (1.0, 5.0)]), 0.0);
    }
}
