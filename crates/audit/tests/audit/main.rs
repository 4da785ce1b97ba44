//! Audit log tests on real SQLite files.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed step should fail the test"
)]

mod chain;
mod pipeline;
mod redaction;

use std::sync::Arc;

use switchboard_audit::{AuditDb, AuditLog, AuditRecord, AuditSettings, Direction, Redactor};

/// A running log in a fresh directory.
pub async fn log(strict: bool) -> (tempfile::TempDir, Arc<AuditLog>) {
    let dir = tempfile::tempdir().unwrap();
    let db = AuditDb::open(dir.path()).await.unwrap();
    let settings = AuditSettings {
        strict,
        retention_days: None,
        max_bytes: None,
    };
    let log = AuditLog::start(db, Arc::new(Redactor::builtin()), settings)
        .await
        .unwrap();
    (dir, log)
}

/// A tools/call record.
pub fn call(n: usize, args: serde_json::Value) -> AuditRecord {
    let mut r = AuditRecord::new(Direction::ClientToServer, "tools/call");
    r.client = Some("tester".into());
    r.server = Some(
        if n.is_multiple_of(2) {
            "github"
        } else {
            "files"
        }
        .into(),
    );
    r.name = Some(format!("tool{}", n % 3));
    r.request = Some(serde_json::json!({ "name": format!("tool{}", n % 3), "arguments": args }));
    r.response = Some(
        serde_json::json!({ "content": [{ "type": "text", "text": format!("result number {n}") }] }),
    );
    r.latency_us = Some(100 + n as i64);
    r
}
