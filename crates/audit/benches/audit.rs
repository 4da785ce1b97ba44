//! Audit pipeline figures: writer throughput, strict-mode commit latency, and
//! search time over a million records. Prints a table; asserts nothing.
//!
//! `cargo bench -p switchboard-audit` (set AUDIT_BENCH_RECORDS to change the
//! size of the search corpus; default 1,000,000).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark: any failure should stop it"
)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::json;
use switchboard_audit::{
    AuditDb, AuditLog, AuditRecord, AuditSettings, Direction, Filter, Redactor,
};

const TOOLS: [&str; 8] = [
    "search_issues",
    "create_issue",
    "read_file",
    "write_file",
    "query",
    "fetch",
    "list_dir",
    "echo",
];
const SERVERS: [&str; 4] = ["github", "files", "postgres", "web"];
const WORDS: [&str; 12] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima",
];

fn record(n: u64) -> AuditRecord {
    let mut r = AuditRecord::new(Direction::ClientToServer, "tools/call");
    r.client = Some(format!("client-{}", n % 5));
    r.server = Some(SERVERS[(n % 4) as usize].into());
    r.name = Some(TOOLS[(n % 8) as usize].into());
    let w = |k: u64| WORDS[((n / k) % 12) as usize];
    // One word in ten thousand records is rare, so searches for it are selective.
    let rare = if n % 10_000 == 7 {
        format!(" needle{}", n / 10_000)
    } else {
        String::new()
    };
    r.request = Some(
        json!({ "name": r.name, "arguments": { "query": format!("{} {} {}{rare}", w(1), w(7), w(131)), "limit": n % 100 } }),
    );
    r.response = Some(
        json!({ "content": [{ "type": "text", "text": format!("found {} results for {} in {}", n % 37, w(3), w(11)) }] }),
    );
    r.latency_us = Some(200 + (n % 5000) as i64);
    r
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn start(dir: &std::path::Path, strict: bool) -> Arc<AuditLog> {
    let db = AuditDb::open(dir).await.unwrap();
    let settings = AuditSettings {
        max_payload_bytes: switchboard_audit::DEFAULT_MAX_PAYLOAD,
        ..AuditSettings::unbounded(strict)
    };
    let vault: Arc<dyn switchboard_audit::Vault> =
        Arc::new(switchboard_audit::MemoryVault::default());
    AuditLog::start(db, Arc::new(Redactor::builtin()), settings, Some(vault))
        .await
        .unwrap()
}

async fn fill(log: &Arc<AuditLog>, from: u64, count: u64, producers: u64) -> Duration {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..producers {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = from + p;
            while n < from + count {
                log.record(record(n)).await.unwrap();
                n += producers;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Relaxed records are queued: wait until the last one is committed.
    while log.db().last_id().await.unwrap() < i64::try_from(from + count).unwrap() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

async fn strict_latency(
    log: &Arc<AuditLog>,
    concurrency: usize,
    per_task: usize,
) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(per_task);
            for i in 0..per_task {
                let t = Instant::now();
                log.record_committed(record((c * per_task + i) as u64))
                    .await
                    .unwrap();
                samples.push(t.elapsed());
            }
            samples
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    (all, started.elapsed())
}

async fn time_query(db: &AuditDb, filter: &Filter, runs: usize) -> (Duration, usize) {
    let mut samples = Vec::new();
    let mut hits = 0;
    for _ in 0..runs {
        let t = Instant::now();
        hits = db.query(filter).await.unwrap().len();
        samples.push(t.elapsed());
    }
    samples.sort_unstable();
    (percentile(&samples, 0.5), hits)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let corpus: u64 = std::env::var("AUDIT_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    println!("## Audit pipeline\n");

    // Writer throughput, relaxed (queued) submission.
    let dir = tempfile::tempdir().unwrap();
    let log = start(dir.path(), false).await;
    let n = 100_000;
    let took = fill(&log, 0, n, 8).await;
    println!("| figure | value |\n| --- | --- |");
    println!(
        "| writer throughput (relaxed, 8 producers) | {:.0} records/s |",
        n as f64 / took.as_secs_f64()
    );

    // Strict: every producer waits for its commit (group commit batches them).
    log.apply(AuditSettings {
        strict: true,
        ..log.settings()
    });
    for concurrency in [1usize, 64] {
        let per_task = if concurrency == 1 { 2000 } else { 200 };
        let (samples, took) = strict_latency(&log, concurrency, per_task).await;
        println!(
            "| strict commit wait, {concurrency} concurrent | p50 {:.3} ms, p99 {:.3} ms, {:.0} records/s |",
            percentile(&samples, 0.5).as_secs_f64() * 1e3,
            percentile(&samples, 0.99).as_secs_f64() * 1e3,
            samples.len() as f64 / took.as_secs_f64()
        );
    }
    log.shutdown().await;
    drop(dir);

    // Search over a large log.
    let dir = tempfile::tempdir().unwrap();
    let log = start(dir.path(), false).await;
    let took = fill(&log, 0, corpus, 8).await;
    let bytes = log.db().live_bytes().await.unwrap();
    println!(
        "| corpus: {corpus} records written | {:.1} s ({:.0} records/s), {:.0} MB |",
        took.as_secs_f64(),
        corpus as f64 / took.as_secs_f64(),
        bytes as f64 / 1e6
    );
    let db = log.db().clone();
    let page = |f: Filter| Filter { limit: 50, ..f };
    let cases = [
        ("newest 50, no filter", page(Filter::default())),
        (
            "server + tool filter",
            page(Filter {
                server: Some("github".into()),
                name: Some("search_issues".into()),
                ..Default::default()
            }),
        ),
        (
            "client + time range",
            page(Filter {
                client: Some("client-3".into()),
                since: Some(0),
                ..Default::default()
            }),
        ),
        (
            "full text, rare word",
            page(Filter {
                search: Some("needle42".into()),
                ..Default::default()
            }),
        ),
        (
            "full text, common word + server",
            page(Filter {
                search: Some("charlie".into()),
                server: Some("files".into()),
                ..Default::default()
            }),
        ),
        (
            "full text, two words",
            page(Filter {
                search: Some("bravo delta".into()),
                ..Default::default()
            }),
        ),
        (
            "keyset page deep in the log",
            page(Filter {
                before_id: Some(i64::try_from(corpus / 3).unwrap()),
                server: Some("web".into()),
                ..Default::default()
            }),
        ),
    ];
    for (label, filter) in cases {
        let (median, hits) = time_query(&db, &filter, 9).await;
        println!(
            "| search over {corpus}: {label} | {:.2} ms ({hits} rows) |",
            median.as_secs_f64() * 1e3
        );
    }
    let t = Instant::now();
    let verified = log.verify().await.unwrap();
    println!(
        "| verify chain of {} records | {:.1} s |",
        verified.checked,
        t.elapsed().as_secs_f64()
    );
    log.shutdown().await;
}
