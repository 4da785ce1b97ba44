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
    assert_eq!(log.verify().await.unwrap().broken, None);
    place
        .tamper("UPDATE audit_events SET request = '{\"arguments\":{\"n\":999}}' WHERE id = 23")
        .await;
    let result = log.verify().await.unwrap();
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
    assert_eq!(log.verify().await.unwrap().broken.unwrap().id, 6);
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
    let removed = log.prune(Some(2_000), None, 25).await.unwrap();
    assert_eq!(removed, 60);
    let v = log.verify().await.unwrap();
    assert_eq!((v.checked, v.broken), (40, None));
    log.record_committed(call(1, json!({}))).await.unwrap();
    assert_eq!(log.verify().await.unwrap().checked, 41);
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
    let removed = log.prune(None, Some(limit), 50).await.unwrap();
    assert!(removed > 0);
    assert!(log.db().live_bytes().await.unwrap() <= limit);
    assert_eq!(log.verify().await.unwrap().broken, None);
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
    assert_eq!(log.verify().await.unwrap().broken, None);
    place
        .tamper("UPDATE audit_events SET protocol_version = '2025-11-25' WHERE id = 3")
        .await;
    assert_eq!(log.verify().await.unwrap().broken.unwrap().id, 3);
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
    let settings = || switchboard_audit::AuditSettings::unbounded(true);
    let redactor = || std::sync::Arc::new(switchboard_audit::Redactor::builtin());
    let a = switchboard_audit::AuditLog::start(
        place.open().await,
        redactor(),
        settings(),
        Some(place.vault.clone()),
    )
    .await
    .unwrap();
    let b = switchboard_audit::AuditLog::start(
        place.open().await,
        redactor(),
        settings(),
        Some(place.vault.clone()),
    )
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
    let v = a.verify().await.unwrap();
    assert_eq!((v.checked, v.broken), (200, None));
    // A removed record is caught whichever instance wrote it.
    place.tamper("DELETE FROM audit_events WHERE id = 77").await;
    assert_eq!(b.verify().await.unwrap().broken.unwrap().id, 78);
}

/// Deleting the newest records leaves a chain that links up; the anchor kept
/// in the keyring names what is missing.
#[tokio::test]
async fn a_removed_tail_is_named_by_the_anchor() {
    let (place, log) = log(true).await;
    for n in 0..20 {
        log.record_committed(call(n, json!({}))).await.unwrap();
    }
    // Shutting down writes the newest head to the keyring.
    log.shutdown().await;
    let v = log.verify().await.unwrap();
    assert_eq!((v.checked, v.broken, v.anchor), (20, None, Some(20)));
    place.tamper("DELETE FROM audit_events WHERE id > 17").await;
    let v = log.verify().await.unwrap();
    let broken = v.broken.unwrap();
    assert_eq!((v.checked, broken.id), (17, 20));
    assert!(
        broken.problem.contains("the log ends at record 17"),
        "{}",
        broken.problem
    );
}

/// Someone who can write the database changes a record and re-chains every
/// record after it, with the algorithm but without the key.
#[tokio::test]
async fn a_chain_rebuilt_without_the_key_is_caught() {
    let (place, log) = log(true).await;
    for n in 0..12 {
        log.record_committed(call(n, json!({ "n": n })))
            .await
            .unwrap();
    }
    log.shutdown().await;
    let mut rows = log.db().since(0, 100).await.unwrap();
    rows[4].request = Some(r#"{"arguments":{"n":999}}"#.into());
    let mut prev = rows[3].hash.clone();
    let mut sql = String::new();
    for row in &mut rows[4..] {
        row.prev_hash = prev.clone();
        row.hash = unkeyed_hash(&prev, row);
        prev = row.hash.clone();
        sql.push_str(&format!(
            "UPDATE audit_events SET request = '{}', prev_hash = '{}', hash = '{}' WHERE id = {};",
            row.request.clone().unwrap_or_default().replace('\'', "''"),
            row.prev_hash,
            row.hash,
            row.id
        ));
    }
    for statement in sql.split_terminator(';') {
        place.tamper(statement).await;
    }
    let broken = log.verify().await.unwrap().broken.unwrap();
    assert_eq!(broken.id, 5);
    assert!(
        broken.problem.contains("without its key"),
        "{}",
        broken.problem
    );
}

/// The oldest records deleted and the retention anchor written by hand, as
/// if retention had pruned them.
#[tokio::test]
async fn a_retention_anchor_written_by_hand_is_caught() {
    let (place, log) = log(true).await;
    for n in 0..10 {
        log.record_committed(call(n, json!({}))).await.unwrap();
    }
    let fourth = log.db().get(4).await.unwrap().unwrap().hash;
    place.tamper("DELETE FROM audit_events WHERE id <= 4").await;
    place
        .tamper(&format!(
            "INSERT INTO audit_anchor (singleton, last_id, last_hash) VALUES (1, 4, '{fourth}')"
        ))
        .await;
    let broken = log.verify().await.unwrap().broken.unwrap();
    assert_eq!(broken.id, 4);
    assert!(
        broken.problem.contains("retention anchor"),
        "{}",
        broken.problem
    );
    // Real pruning seals its anchor: the log verifies after it.
    place.tamper("DELETE FROM audit_anchor").await;
    assert!(log.verify().await.unwrap().broken.is_some());
}

/// A log written without a key (an older version, or no keyring) is keyed
/// from the next record on when a keyring is there; both parts verify.
#[tokio::test]
async fn an_unkeyed_log_is_keyed_from_the_next_record_on() {
    let place = crate::Place::new().await;
    let settings = switchboard_audit::AuditSettings::unbounded(true);
    let redactor = || std::sync::Arc::new(switchboard_audit::Redactor::builtin());
    let plain =
        switchboard_audit::AuditLog::start(place.open().await, redactor(), settings.clone(), None)
            .await
            .unwrap();
    for n in 0..5 {
        plain.record_committed(call(n, json!({}))).await.unwrap();
    }
    assert!(matches!(
        plain.key_state(),
        switchboard_audit::KeyState::Unkeyed(_)
    ));
    plain.shutdown().await;
    let keyed = switchboard_audit::AuditLog::start(
        place.open().await,
        redactor(),
        settings,
        Some(place.vault.clone()),
    )
    .await
    .unwrap();
    assert_eq!(keyed.key_state(), &switchboard_audit::KeyState::Keyed(6));
    for n in 0..5 {
        keyed.record_committed(call(n, json!({}))).await.unwrap();
    }
    let v = keyed.verify().await.unwrap();
    assert_eq!((v.checked, v.broken), (10, None));
    // Without the key the keyed records cannot be told from forged ones.
    let v = keyed.db().verify(None).await.unwrap();
    assert_eq!(v.broken.unwrap().id, 6);
}

/// With a low size limit, retention keeps the log's files under it while
/// records keep being written; the chain verifies across the pruning.
#[tokio::test]
async fn retention_keeps_the_log_under_its_size_while_records_go_on() {
    let (place, log) = log(true).await;
    let limit = 12 * 1024 * 1024;
    log.apply(switchboard_audit::AuditSettings {
        max_bytes: Some(limit),
        ..log.settings()
    });
    let filler: String = (0..3000).map(|n| format!("w{n} ")).collect();
    let mut peak = 0;
    for n in 0..2500 {
        log.record_committed(call(n, json!({ "filler": filler })))
            .await
            .unwrap();
        if n % 250 == 0 {
            peak = peak.max(log.db().space().await.unwrap().bytes);
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let space = log.db().space().await.unwrap();
    peak = peak.max(space.bytes);
    if place.database == switchboard_store::Database::Sqlite {
        // PostgreSQL reuses deleted rows' space only after vacuum.
        assert!(peak <= limit, "{peak} bytes on disk, limit {limit}");
    }
    assert!(log.db().live_bytes().await.unwrap() <= limit);
    assert!(space.records > 100 && space.records < 2500, "{space:?}");
    let newest = log.db().last_id().await.unwrap();
    assert_eq!(newest, 2500, "every record was written");
    assert_eq!(log.verify().await.unwrap().broken, None);
}

/// The chain hash as the published algorithm computes it without a key.
fn unkeyed_hash(prev: &str, e: &switchboard_audit::AuditEvent) -> String {
    use sha2::Digest as _;
    let mut canonical = json!([
        e.id,
        e.ts,
        e.client,
        e.session,
        e.server,
        e.direction,
        e.method,
        e.name,
        e.request,
        e.request_size,
        e.response,
        e.response_size,
        e.status,
        e.error_code,
        e.error_message,
        e.latency_us,
        e.decision,
        e.rule
    ]);
    if let (Some(version), Some(fields)) = (&e.protocol_version, canonical.as_array_mut()) {
        fields.push(json!({ "protocol_version": version }));
    }
    let mut hasher = sha2::Sha256::new();
    hasher.update(prev.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.to_string().as_bytes());
    hex::encode(hasher.finalize())
}
