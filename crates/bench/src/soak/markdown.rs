//! The soak's report as Markdown, for the terminal and BENCHMARKS.md.

use super::summary::{MINUTE_HEADER, Report};

/// The whole report.
pub(crate) fn text(r: &Report) -> String {
    let m = &r.machine;
    let mut out = format!(
        "### Soak run\n\nSwitchboard soak, {} (UTC), `switchboard-bench soak --minutes {} --clients {}`, \
         revision {}, seed {}  \nMachine: {} ({} cores), {:.1} GB RAM, {}, Linux {}; load average \
         at start {}, at the end {}.  \nLoad: {} clients at once, {} ms mean pause between calls, a \
         fault every {:.0} s on average; warm-up {:.1} minutes.\n\n{MINUTE_HEADER}\n",
        r.date,
        r.minutes,
        r.clients_at_once,
        r.revision,
        r.seed,
        m.cpu,
        m.cores,
        m.memory_gb,
        m.os,
        m.kernel,
        r.load_at_start,
        r.load_at_end,
        r.clients_at_once,
        r.think_ms,
        r.fault_every_s,
        r.warmup_minutes
    );
    for row in &r.per_minute {
        out.push_str(&row.line());
        out.push('\n');
    }
    out.push_str(&format!(
        "\nIdle before the load: {:.1} MB RSS, {} fds, {} processes below the gateway; idle {:.0} s \
         after it: {:.1} MB, {} fds, {} processes. Data folder at the end: {:.1} MB.\n",
        r.idle_before.rss_mb,
        r.idle_before.fds,
        r.idle_before.children,
        r.settled_s,
        r.idle_after.rss_mb,
        r.idle_after.fds,
        r.idle_after.children,
        r.idle_after.data_mb
    ));
    let changed: Vec<String> = r
        .fds_before
        .keys()
        .chain(r.fds_after.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter_map(|kind| {
            let (was, is) = (
                r.fds_before.get(kind).copied().unwrap_or(0),
                r.fds_after.get(kind).copied().unwrap_or(0),
            );
            (was != is).then(|| format!("{kind}: {was} -> {is}"))
        })
        .collect();
    if !changed.is_empty() {
        out.push_str(&format!(
            "Descriptors that changed: {}.\n",
            changed.join(", ")
        ));
    }
    out.push_str("\n| server | calls answered as expected | p50 ms | p99 ms | max ms | failed |\n|---|---:|---:|---:|---:|---:|\n");
    for (server, s) in &r.by_server {
        out.push_str(&format!(
            "| {server} | {} | {:.2} | {:.2} | {:.1} | {} |\n",
            s.calls, s.p50_ms, s.p99_ms, s.max_ms, s.errors
        ));
    }
    let faults: Vec<String> = r
        .fault_kinds
        .iter()
        .map(|(kind, (n, failed))| {
            if *failed > 0 {
                format!("{kind} x{n} ({failed} failed)")
            } else {
                format!("{kind} x{n}")
            }
        })
        .collect();
    out.push_str(&format!(
        "\nFaults: {}.\n",
        if faults.is_empty() {
            "none".into()
        } else {
            faults.join(", ")
        }
    ));
    if !r.failures.is_empty() {
        out.push_str("\nFailed calls by kind:\n\n");
        for (kind, n) in &r.failures {
            out.push_str(&format!("- {n} x {kind}\n"));
        }
    }
    out.push_str("\n| check | target | measured | result |\n|---|---|---|---|\n");
    for c in &r.checks {
        let result = match (c.pass, c.hard) {
            (true, _) => "PASS",
            (false, true) => "FAIL",
            (false, false) => "MISSED",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {result} |\n",
            c.name, c.target, c.measured
        ));
    }
    out
}
