//! The writer: group commit, strict acknowledgements, live stream, search.

use serde_json::json;
use switchboard_audit::{DEFAULT_MAX_PAYLOAD, Filter, Status};

use crate::{call, log};

#[tokio::test]
async fn every_record_is_committed_once_in_order() {
    let (_dir, log) = log(true).await;
    let mut handles = Vec::new();
    for n in 0..200 {
        let log = log.clone();
        handles.push(tokio::spawn(async move {
            log.record_committed(call(n, json!({"n": n}))).await
        }));
    }
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.unwrap().unwrap());
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=200).collect::<Vec<i64>>());
    assert_eq!(log.db().last_id().await.unwrap(), 200);
    assert_eq!(log.verify().await.unwrap().checked, 200);
}

#[tokio::test]
async fn relaxed_records_are_committed_by_shutdown() {
    let (place, log) = log(false).await;
    for n in 0..500 {
        log.record(call(n, json!({}))).await.unwrap();
    }
    log.shutdown().await;
    let db = place.open().await;
    assert_eq!(db.last_id().await.unwrap(), 500);
}

#[tokio::test]
async fn live_subscribers_get_committed_batches() {
    let (_dir, log) = log(true).await;
    let mut live = log.subscribe();
    for n in 0..10 {
        log.record(call(n, json!({}))).await.unwrap();
    }
    let mut seen = 0;
    while seen < 10 {
        let batch = tokio::time::timeout(std::time::Duration::from_secs(5), live.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(batch.iter().all(|e| e.id > 0 && !e.hash.is_empty()));
        seen += batch.len();
    }
    assert_eq!(seen, 10);
}

#[tokio::test]
async fn secrets_never_reach_the_file_or_the_stream() {
    let (place, log) = log(true).await;
    log.redactor()
        .set_known_secrets(["configured-secret-value".to_owned()]);
    let mut live = log.subscribe();
    let mut record = call(
        1,
        json!({ "api_key": "plain-api-key-1234", "query": "uses configured-secret-value" }),
    );
    record.error_message = Some("upstream said Bearer abcdefghijklmnopqrstuvwxyz".into());
    record.status = Status::Error;
    log.record(record).await.unwrap();
    let batch = live.recv().await.unwrap();
    let shown = serde_json::to_string(&*batch).unwrap();
    log.shutdown().await;
    for secret in [
        "plain-api-key-1234",
        "configured-secret-value",
        "abcdefghijklmnopqrstuvwxyz",
    ] {
        assert!(!shown.contains(secret), "{secret} in the live stream");
        let stored = place.stored_text().await;
        assert!(
            !stored.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in the database"
        );
    }
}

/// A 100 KB result is kept as its first bytes, its length and its digest
/// within the cap (16 KB by default); search finds what was kept; a new cap
/// applies to the next record.
#[tokio::test]
async fn large_payloads_are_capped_with_their_size_and_digest() {
    let (_dir, log) = log(true).await;
    log.apply(switchboard_audit::AuditSettings::default());
    let cap = DEFAULT_MAX_PAYLOAD as usize;
    let words: Vec<String> = (0..12_000).map(|n| format!("word{n}")).collect();
    let text = words.join(" ");
    let result = json!({ "content": [{ "type": "text", "text": text }] });
    let full = result.to_string();
    assert!(full.len() > 100_000);
    let mut record = call(1, json!({}));
    record.response = Some(result);
    let id = log.record_committed(record).await.unwrap();
    let event = log.db().get(id).await.unwrap().unwrap();
    let stored = event.response.unwrap();
    assert!(stored.len() <= cap, "{} stored", stored.len());
    let v: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(v["truncated"], true);
    assert_eq!(event.response_size as usize, full.len());
    assert_eq!(v["size"], full.len());
    use sha2::Digest as _;
    assert_eq!(
        v["sha256"],
        hex::encode(sha2::Sha256::digest(full.as_bytes()))
    );
    assert!(full.starts_with(v["preview"].as_str().unwrap()));
    let found = |word: &'static str| {
        let log = log.clone();
        async move {
            log.db()
                .query(&Filter {
                    search: Some(word.into()),
                    ..Default::default()
                })
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(found("word10").await, 1, "kept words are found");
    assert_eq!(
        found("word11999").await,
        0,
        "words past the cap were not kept"
    );
    assert_eq!(log.verify().await.unwrap().broken, None);

    log.apply(switchboard_audit::AuditSettings {
        max_payload_bytes: 2048,
        ..log.settings()
    });
    let mut record = call(2, json!({}));
    record.response = Some(json!({ "content": [{ "type": "text", "text": text }] }));
    let id = log.record_committed(record).await.unwrap();
    let stored = log.db().get(id).await.unwrap().unwrap().response.unwrap();
    assert!(stored.len() <= 2048, "{} stored", stored.len());
}

#[tokio::test]
async fn filters_search_and_keyset_paging() {
    let (_dir, log) = log(true).await;
    for n in 0..60 {
        let args = if n == 17 {
            json!({ "query": "needle-in-haystack" })
        } else {
            json!({ "query": "hay" })
        };
        log.record_committed(call(n, args)).await.unwrap();
    }
    let db = log.db();
    let hit = db
        .query(&Filter {
            search: Some("needle-in-haystack".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(hit.len(), 1);
    assert_eq!(hit[0].id, 18);
    // Text from results is indexed too.
    let hit = db
        .query(&Filter {
            search: Some("number 42".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(hit.iter().map(|e| e.id).collect::<Vec<_>>(), [43]);
    // User text is never FTS syntax.
    assert!(
        db.query(&Filter {
            search: Some("\"unbalanced AND (".into()),
            ..Default::default()
        })
        .await
        .is_ok()
    );

    let github = db
        .query(&Filter {
            server: Some("github".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(github.len(), 30);
    assert!(github.windows(2).all(|w| w[0].id > w[1].id), "newest first");

    let mut seen = Vec::new();
    let mut filter = Filter {
        name: Some("tool1".into()),
        limit: 7,
        ..Default::default()
    };
    loop {
        let page = db.query(&filter).await.unwrap();
        let Some(last) = page.last() else { break };
        filter.before_id = Some(last.id);
        seen.extend(page.iter().map(|e| e.id));
    }
    assert_eq!(seen.len(), 20);
    assert!(seen.windows(2).all(|w| w[0] > w[1]));
}

#[tokio::test]
async fn usage_figures_per_server_and_tool() {
    let (_dir, log) = log(true).await;
    for n in 0..30 {
        let mut r = call(n, json!({}));
        if n.is_multiple_of(10) {
            r.status = Status::Error;
        }
        log.record_committed(r).await.unwrap();
    }
    let usage = switchboard_audit::usage(log.db(), 0).await.unwrap();
    let total = usage
        .iter()
        .find(|u| u.server == "github" && u.name.is_none())
        .unwrap();
    assert_eq!(total.calls, 15);
    assert_eq!(total.errors, 3);
    assert!(total.p50_us.unwrap() <= total.p95_us.unwrap());
}
