//! Audit log tests on real SQLite files, and on a real PostgreSQL server
//! when `SWITCHBOARD_TEST_POSTGRES` names one (`make test` starts one).
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed step should fail the test"
)]

mod chain;
mod pipeline;
mod redaction;

use std::sync::Arc;

use sqlx::{ConnectOptions as _, Connection as _};
use switchboard_audit::{
    AuditDb, AuditLog, AuditRecord, AuditSettings, Direction, MemoryVault, Redactor, Vault,
};
use switchboard_store::Database;

/// Where a test's log lives: a fresh directory, and a fresh database on the
/// test PostgreSQL server when there is one.
pub struct Place {
    pub dir: tempfile::TempDir,
    pub database: Database,
    /// The machine's keyring, as far as the log can tell.
    pub vault: Arc<dyn Vault>,
}

impl Place {
    pub async fn new() -> Place {
        let dir = tempfile::tempdir().unwrap();
        let database = match std::env::var("SWITCHBOARD_TEST_POSTGRES") {
            Ok(url) => match Database::parse(&url).unwrap() {
                Database::Postgres(server) => Database::Postgres(
                    switchboard_store::postgres::scratch_database(&server, "audit_test")
                        .await
                        .unwrap(),
                ),
                Database::Sqlite => Database::Sqlite,
            },
            Err(_) => Database::Sqlite,
        };
        Place {
            dir,
            database,
            vault: Arc::new(MemoryVault::default()),
        }
    }

    pub async fn open(&self) -> AuditDb {
        AuditDb::open_at(self.dir.path(), &self.database)
            .await
            .unwrap()
    }

    /// Runs `sql` on the audit tables behind the gateway's back, as someone
    /// with write access to the database would.
    pub async fn tamper(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.database {
            Database::Sqlite => {
                let path = self.dir.path().join("audit.db");
                let mut conn =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
            }
            Database::Postgres(url) => {
                let options: sqlx::postgres::PgConnectOptions = url.expose().parse().unwrap();
                let mut conn = options
                    .options([("search_path", switchboard_audit::AUDIT_SCHEMA)])
                    .connect()
                    .await
                    .unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
            }
        }
    }

    /// Everything stored, as text: the files of the data directory, and the
    /// rows of the PostgreSQL log.
    pub async fn stored_text(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            all.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        if let Database::Postgres(url) = &self.database {
            let options: sqlx::postgres::PgConnectOptions = url.expose().parse().unwrap();
            let mut conn = options.connect().await.unwrap();
            let rows: Vec<String> =
                sqlx::query_scalar("SELECT e::text FROM switchboard_audit.audit_events e")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            for row in rows {
                all.extend(row.into_bytes());
            }
        }
        all
    }
}

/// A running log in a fresh place.
pub async fn log(strict: bool) -> (Place, Arc<AuditLog>) {
    let place = Place::new().await;
    let db = place.open().await;
    let log = AuditLog::start(
        db,
        Arc::new(Redactor::builtin()),
        AuditSettings::unbounded(strict),
        Some(place.vault.clone()),
    )
    .await
    .unwrap();
    (place, log)
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
