//! Tamper evidence and retention.

use serde_json::json;

use crate::{call, log};

#[tokio::test]
async fn an_edited_row_is_named() {
    let (place, log) = log(true).await;
    for n in 0..50 {
        log.record_committed(call(n, json!({ "n": n })))
            .await
            .unwrap();
    }
    assert_eq!(log.db().verify().await.unwrap().broken, None);
    place
        .tamper("UPDATE audit_events SET request = '{\"arguments\":{\"n\":999}}' WHERE id = 23")
        .await;
    let result = log.db().verify().await.unwrap();
    let broken = result.broken.unwrap();
    assert_eq!(broken.id, 23);
    assert!(broken.problem.contains("changed"));
    assert_eq!(result.checked, 22);
}

#[tokio::test]
async fn a_removed_row_is_noticed_at_the_next_one() {
    let (place, log) = log(true).await;
    for n in 0..10 {
        log.record_committed(call(n, json!({}))).await.unwrap();
    }
    place.tamper("DELETE FROM audit_events WHERE id = 5").await;
    assert_eq!(log.db().verify().await.unwrap().broken.unwrap().id, 6);
}

#[tokio::test]
async fn pruning_keeps_the_chain_verifiable_and_new_records_chain_on() {
    let (_dir, log) = log(true).await;
    for n in 0..100 {
        let mut r = call(n, json!({}));
        r.ts = if n < 60 {
            1_000
        } else {
            switchboard_audit::now_ms()
        };
        log.record_committed(r).await.unwrap();
    }
    let removed = log.db().prune(Some(2_000), None, 25).await.unwrap();
    assert_eq!(removed, 60);
    let v = log.db().verify().await.unwrap();
    assert_eq!((v.checked, v.broken), (40, None));
    log.record_committed(call(1, json!({}))).await.unwrap();
    assert_eq!(log.db().verify().await.unwrap().checked, 41);
    // Pruned rows are gone from the search index too.
    let hits = log
        .db()
        .query(&switchboard_audit::Filter {
            search: Some("number 5".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(hits.is_empty(), "{hits:?}");
}

#[tokio::test]
async fn pruning_by_size_stops_under_the_limit() {
    let (_dir, log) = log(true).await;
    let filler = "y".repeat(4000);
    for n in 0..300 {
        log.record_committed(call(n, json!({ "filler": filler })))
            .await
            .unwrap();
    }
    let before = log.db().live_bytes().await.unwrap();
    let limit = before / 2;
    let removed = log.db().prune(None, Some(limit), 50).await.unwrap();
    assert!(removed > 0);
    assert!(log.db().live_bytes().await.unwrap() <= limit);
    assert_eq!(log.db().verify().await.unwrap().broken, None);
}

#[tokio::test]
async fn the_protocol_version_is_kept_and_chained() {
    let (place, log) = log(true).await;
    for n in 0..6 {
        let mut r = call(n, json!({}));
        // Records of older gateways have no version; they keep their hashes.
        if n % 2 == 0 {
            r.protocol_version = Some("2026-07-28".into());
        }
        log.record_committed(r).await.unwrap();
    }
    let stored = log
        .db()
        .query(&switchboard_audit::Filter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut versions: Vec<_> = stored
        .iter()
        .map(|e| (e.id, e.protocol_version.clone()))
        .collect();
    versions.sort();
    assert_eq!(versions.len(), 6, "{versions:?}");
    assert_eq!(versions[0], (1, Some("2026-07-28".into())));
    assert_eq!(versions[1], (2, None));
    assert_eq!(log.db().verify().await.unwrap().broken, None);
    place
        .tamper("UPDATE audit_events SET protocol_version = '2025-11-25' WHERE id = 3")
        .await;
    assert_eq!(log.db().verify().await.unwrap().broken.unwrap().id, 3);
}

/// Two instances on one PostgreSQL database write one chain: every record is
/// kept once and `verify` walks all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_writers_on_postgres_keep_one_verifiable_chain() {
    let place = crate::Place::new().await;
    if place.database == switchboard_store::Database::Sqlite {
        eprintln!("SWITCHBOARD_TEST_POSTGRES is not set: skipped (make test sets it)");
        return;
    }
    let settings = || switchboard_audit::AuditSettings {
        strict: true,
        retention_days: None,
        max_bytes: None,
    };
    let redactor = || std::sync::Arc::new(switchboard_audit::Redactor::builtin());
    let a = switchboard_audit::AuditLog::start(place.open().await, redactor(), settings())
        .await
        .unwrap();
    let b = switchboard_audit::AuditLog::start(place.open().await, redactor(), settings())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..200 {
        let log = if n % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            log.record_committed(call(n, json!({ "n": n }))).await
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap().unwrap());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 200, "every record has an id of its own");
    let v = a.db().verify().await.unwrap();
    assert_eq!((v.checked, v.broken), (200, None));
    // A removed record is caught whichever instance wrote it.
    place.tamper("DELETE FROM audit_events WHERE id = 77").await;
    assert_eq!(b.db().verify().await.unwrap().broken.unwrap().id, 78);
}
