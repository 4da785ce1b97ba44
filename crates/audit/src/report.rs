//! Figures and exports computed from the log.

use std::collections::BTreeMap;

use crate::{AuditDb, AuditEvent, Result};

/// Usage of one tool (or, with `name` None, one whole server).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ToolUsage {
    /// Server.
    pub server: String,
    /// Tool; None for the server's total.
    pub name: Option<String>,
    /// Calls.
    pub calls: u64,
    /// Calls that ended in an error (or were denied).
    pub errors: u64,
    /// Median latency, microseconds.
    pub p50_us: Option<i64>,
    /// 95th percentile latency, microseconds.
    pub p95_us: Option<i64>,
    /// Last call, unix ms.
    pub last_used: i64,
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted.get(rank.min(sorted.len() - 1)).copied()
}

/// Tool-call figures per server and per tool since `since` (unix ms).
pub async fn usage(db: &AuditDb, since: i64) -> Result<Vec<ToolUsage>> {
    type Row = (String, Option<String>, String, Option<i64>, i64);
    let rows: Vec<Row> = on_pool!(db, pool => sqlx::query_as(
        "SELECT server, name, status, latency_us, ts FROM audit_events \
         WHERE method = 'tools/call' AND ts >= $1 AND server IS NOT NULL",
    )
    .bind(since)
    .fetch_all(pool)
    .await)?;
    #[derive(Default)]
    struct Acc {
        calls: u64,
        errors: u64,
        latencies: Vec<i64>,
        last: i64,
    }
    let mut per: BTreeMap<(String, Option<String>), Acc> = BTreeMap::new();
    for (server, name, status, latency, ts) in rows {
        let failed = status != "ok";
        for key in [(server.clone(), name.clone()), (server.clone(), None)] {
            let acc = per.entry(key).or_default();
            acc.calls += 1;
            acc.errors += u64::from(failed);
            acc.latencies.extend(latency);
            acc.last = acc.last.max(ts);
        }
    }
    Ok(per
        .into_iter()
        .map(|((server, name), mut acc)| {
            acc.latencies.sort_unstable();
            ToolUsage {
                server,
                name,
                calls: acc.calls,
                errors: acc.errors,
                p50_us: percentile(&acc.latencies, 0.50),
                p95_us: percentile(&acc.latencies, 0.95),
                last_used: acc.last,
            }
        })
        .collect())
}

/// The CSV header matching [`csv_row`].
pub fn csv_header() -> &'static str {
    "id,ts,client,session,server,direction,method,name,status,error_code,error_message,latency_us,decision,rule,request,response,hash"
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// One record as a CSV line (no newline).
pub fn csv_row(e: &AuditEvent) -> String {
    let opt = |v: &Option<String>| csv_field(v.as_deref().unwrap_or(""));
    let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    [
        e.id.to_string(),
        e.ts.to_string(),
        opt(&e.client),
        opt(&e.session),
        opt(&e.server),
        csv_field(&e.direction),
        csv_field(&e.method),
        opt(&e.name),
        csv_field(&e.status),
        num(e.error_code),
        opt(&e.error_message),
        num(e.latency_us),
        csv_field(&e.decision),
        opt(&e.rule),
        opt(&e.request),
        opt(&e.response),
        csv_field(&e.hash),
    ]
    .join(",")
}
