//! The audit database: `<data dir>/audit.db`, separate from the configuration
//! so its write volume never disturbs config change detection.

use std::{path::Path, time::Duration};

use sha2::{Digest as _, Sha256};
use sqlx::{
    QueryBuilder, Row as _, Sqlite, SqliteConnection,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};

use crate::{AuditEvent, Error, Result};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// File name of the audit database inside the data dir.
pub const AUDIT_DB_FILE: &str = "audit.db";

/// The hash the first record chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Handle to the audit database.
#[derive(Debug, Clone)]
pub struct AuditDb {
    pool: SqlitePool,
}

/// The columns of [`AuditEvent`], for `SELECT`s built from literals.
macro_rules! columns {
    () => {
        "id, ts, client, session, server, direction, method, name, request, request_size, \
         response, response_size, status, error_code, error_message, latency_us, decision, \
         rule, protocol_version, prev_hash, hash"
    };
}

impl AuditDb {
    /// Opens (creating if needed) the audit database in `data_dir`.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| Error::Io {
            path: data_dir.to_owned(),
            source,
        })?;
        let path = data_dir.join(AUDIT_DB_FILE);
        // synchronous=NORMAL under WAL survives a killed process (the crash
        // the strict mode promises to survive); only power loss can drop the
        // last commits.
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5))
            .synchronous(SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| Error::Open {
                path: path.clone(),
                source,
            })?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// One record with its full request and response.
    pub async fn get(&self, id: i64) -> Result<Option<AuditEvent>> {
        let sql = concat!("SELECT ", columns!(), " FROM audit_events WHERE id = ?");
        Ok(sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Records matching `filter`, newest first.
    pub async fn query(&self, filter: &Filter) -> Result<Vec<AuditEvent>> {
        let fts = filter
            .search
            .as_deref()
            .map(fts_query)
            .filter(|q| !q.is_empty());
        let limit = i64::from(filter.limit.clamp(1, 10_000));
        let mut q = match &fts {
            // Driven by the index in descending rowid order, so the scan stops
            // at the first page of matches that pass the other filters
            // instead of materialising every match of a common word. CROSS
            // JOIN pins that order: left to itself the planner starts from
            // the filter's index and sorts every match (seconds at 1M rows).
            Some(fts) => {
                let mut q = QueryBuilder::<Sqlite>::new(concat!(
                    "SELECT ",
                    columns!(),
                    " FROM audit_fts CROSS JOIN audit_events e ON e.id = audit_fts.rowid \
                     WHERE audit_fts MATCH "
                ));
                q.push_bind(fts.clone());
                if let Some(before) = filter.before_id {
                    q.push(" AND audit_fts.rowid < ");
                    q.push_bind(before);
                }
                filter.push_conditions(&mut q);
                q.push(" ORDER BY audit_fts.rowid DESC LIMIT ");
                q
            }
            None => {
                let mut q = QueryBuilder::<Sqlite>::new(concat!(
                    "SELECT ",
                    columns!(),
                    " FROM audit_events e WHERE 1 = 1"
                ));
                filter.push_conditions(&mut q);
                q.push(" ORDER BY e.id DESC LIMIT ");
                q
            }
        };
        q.push_bind(limit);
        Ok(q.build_query_as().fetch_all(&self.pool).await?)
    }

    /// Records after `after_id`, oldest first (for following the log).
    pub async fn since(&self, after_id: i64, limit: u32) -> Result<Vec<AuditEvent>> {
        let sql = concat!(
            "SELECT ",
            columns!(),
            " FROM audit_events WHERE id > ? ORDER BY id LIMIT ?"
        );
        Ok(sqlx::query_as(sql)
            .bind(after_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?)
    }

    /// The newest record's id (0 when empty).
    pub async fn last_id(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM audit_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get(0))
    }

    /// Checks the hash chain from the anchor to the newest record.
    pub async fn verify(&self) -> Result<Verification> {
        let anchor = sqlx::query("SELECT last_id, last_hash FROM audit_anchor")
            .fetch_optional(&self.pool)
            .await?;
        let (mut prev_id, mut prev_hash) = match anchor {
            Some(row) => (row.get::<i64, _>(0), row.get::<String, _>(1)),
            None => (0, GENESIS.to_owned()),
        };
        let mut checked = 0u64;
        loop {
            let sql = concat!(
                "SELECT ",
                columns!(),
                " FROM audit_events WHERE id > ? ORDER BY id LIMIT 5000"
            );
            let rows: Vec<AuditEvent> = sqlx::query_as(sql)
                .bind(prev_id)
                .fetch_all(&self.pool)
                .await?;
            if rows.is_empty() {
                return Ok(Verification {
                    checked,
                    broken: None,
                });
            }
            for event in rows {
                let problem = if event.prev_hash != prev_hash {
                    Some(
                        "its link to the previous record does not match (a record was removed, added or changed before it)",
                    )
                } else if chain_hash(&prev_hash, &event) != event.hash {
                    Some("its content does not match its hash (the record was changed)")
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Ok(Verification {
                        checked,
                        broken: Some(Broken {
                            id: event.id,
                            problem: problem.into(),
                        }),
                    });
                }
                checked += 1;
                prev_id = event.id;
                prev_hash = event.hash;
            }
        }
    }

    /// Deletes the oldest records, at most `chunk` at a time, while `older_than`
    /// holds or the database is over `max_bytes`. Returns how many went.
    pub async fn prune(
        &self,
        older_than: Option<i64>,
        max_bytes: Option<u64>,
        chunk: i64,
    ) -> Result<u64> {
        let mut removed = 0u64;
        loop {
            let first = sqlx::query("SELECT MIN(id), MIN(ts) FROM audit_events")
                .fetch_one(&self.pool)
                .await?;
            let (Some(first_id), Some(first_ts)) = (
                first.get::<Option<i64>, _>(0),
                first.get::<Option<i64>, _>(1),
            ) else {
                return Ok(removed);
            };
            let too_old = older_than.is_some_and(|cutoff| first_ts < cutoff);
            let too_big = match max_bytes {
                Some(max) => self.live_bytes().await? > max,
                None => false,
            };
            if !too_old && !too_big {
                return Ok(removed);
            }
            let mut upto = first_id + chunk - 1;
            if too_old
                && !too_big
                && let Some(cutoff) = older_than
            {
                // Stop at the first record that is young enough.
                let row = sqlx::query("SELECT MAX(id) FROM (SELECT id FROM audit_events WHERE id <= ? AND ts < ? ORDER BY id)")
                    .bind(upto)
                    .bind(cutoff)
                    .fetch_one(&self.pool)
                    .await?;
                upto = row.get::<Option<i64>, _>(0).unwrap_or(first_id);
            }
            let mut tx = self.pool.begin().await?;
            let last = sqlx::query(
                "SELECT id, hash FROM audit_events WHERE id <= ? ORDER BY id DESC LIMIT 1",
            )
            .bind(upto)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(last) = last else {
                tx.commit().await?;
                return Ok(removed);
            };
            let (last_id, last_hash): (i64, String) = (last.get(0), last.get(1));
            sqlx::query(
                "DELETE FROM audit_fts WHERE rowid IN (SELECT id FROM audit_events WHERE id <= ?)",
            )
            .bind(last_id)
            .execute(&mut *tx)
            .await?;
            let done = sqlx::query("DELETE FROM audit_events WHERE id <= ?")
                .bind(last_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO audit_anchor (singleton, last_id, last_hash) VALUES (1, ?, ?) \
                         ON CONFLICT (singleton) DO UPDATE SET last_id = excluded.last_id, last_hash = excluded.last_hash")
                .bind(last_id)
                .bind(&last_hash)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            removed += done.rows_affected();
            // Let the writer in between chunks.
            tokio::task::yield_now().await;
        }
    }

    /// Bytes of the database that hold data (free pages excluded).
    pub async fn live_bytes(&self) -> Result<u64> {
        let row = sqlx::query("SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()), (SELECT page_size FROM pragma_page_size())")
            .fetch_one(&self.pool)
            .await?;
        let pages: i64 = row.get(0);
        let size: i64 = row.get(1);
        Ok(u64::try_from(pages.saturating_mul(size)).unwrap_or(0))
    }
}

/// Result of [`AuditDb::verify`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    /// Records that checked out.
    pub checked: u64,
    /// The first record that does not.
    pub broken: Option<Broken>,
}

/// A record that breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Broken {
    /// Its id.
    pub id: i64,
    /// What is wrong.
    pub problem: String,
}

/// Which records a query returns.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Filter {
    /// From this time, unix ms.
    pub since: Option<i64>,
    /// Until this time, unix ms.
    pub until: Option<i64>,
    /// Client name.
    pub client: Option<String>,
    /// Server name.
    pub server: Option<String>,
    /// Tool, prompt or resource name.
    pub name: Option<String>,
    /// JSON-RPC method.
    pub method: Option<String>,
    /// `ok`, `error`, `cancelled`, `denied`.
    pub status: Option<String>,
    /// Decision text, or its kind (`asked` matches every answer).
    pub decision: Option<String>,
    /// Full-text search over names, arguments and results.
    pub search: Option<String>,
    /// Keyset paging: only records older than this id.
    pub before_id: Option<i64>,
    /// At most this many (1..=10000; 0 means 100).
    pub limit: u32,
}

impl Filter {
    fn push_conditions(&self, q: &mut QueryBuilder<Sqlite>) {
        let eq = |q: &mut QueryBuilder<Sqlite>, column: &str, value: &Option<String>| {
            if let Some(v) = value {
                q.push(format!(" AND e.{column} = "));
                q.push_bind(v.clone());
            }
        };
        eq(q, "client", &self.client);
        eq(q, "server", &self.server);
        eq(q, "name", &self.name);
        eq(q, "method", &self.method);
        eq(q, "status", &self.status);
        if let Some(decision) = &self.decision {
            if decision.contains(':') {
                q.push(" AND e.decision = ");
                q.push_bind(decision.clone());
            } else {
                q.push(" AND (e.decision = ");
                q.push_bind(decision.clone());
                q.push(" OR e.decision LIKE ");
                q.push_bind(format!("{decision}:%"));
                q.push(")");
            }
        }
        if let Some(since) = self.since {
            q.push(" AND e.ts >= ");
            q.push_bind(since);
        }
        if let Some(until) = self.until {
            q.push(" AND e.ts <= ");
            q.push_bind(until);
        }
        if let Some(before) = self.before_id {
            q.push(" AND e.id < ");
            q.push_bind(before);
        }
    }

    /// The effective page size.
    pub fn page(&self) -> u32 {
        if self.limit == 0 {
            100
        } else {
            self.limit.min(10_000)
        }
    }
}

/// Turns free text into an FTS5 query: every word must appear (quoted, so
/// user text can never be FTS syntax).
fn fts_query(text: &str) -> String {
    text.split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The hash of `event` chained to `prev`: SHA-256 over the previous hash and a
/// fixed-order JSON array of every stored field but the hashes themselves.
pub(crate) fn chain_hash(prev: &str, e: &AuditEvent) -> String {
    let mut canonical = serde_json::json!([
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
    // Fields added later join the array only when set, so records written
    // before them keep their hashes.
    if let (Some(version), Some(fields)) = (&e.protocol_version, canonical.as_array_mut()) {
        fields.push(serde_json::json!({ "protocol_version": version }));
    }
    let mut hasher = Sha256::new();
    hasher.update(prev.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// Appends `events` (ids and hashes not yet set) in one transaction, chaining
/// each to the newest stored record. Fills in ids and hashes.
/// The last committed row's id and hash: where the next row chains on.
pub(crate) type ChainHead = (i64, String);

/// Reads the chain head from the database (the last row, else the anchor left
/// by pruning, else the genesis).
pub(crate) async fn chain_head(conn: &mut SqliteConnection) -> Result<ChainHead> {
    let last = sqlx::query("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(row) = last {
        return Ok((row.get::<i64, _>(0), row.get::<String, _>(1)));
    }
    let anchor = sqlx::query("SELECT last_id, last_hash FROM audit_anchor")
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match anchor {
        Some(row) => (row.get::<i64, _>(0), row.get::<String, _>(1)),
        None => (0, GENESIS.to_owned()),
    })
}

/// Rows per INSERT statement: 21 bound values each stays under SQLite's
/// limit of 32,766 variables.
const ROWS_PER_INSERT: usize = 1000;

/// Chains `events` on `head` and commits them in one transaction (the
/// full-text index follows by trigger). `head` moves only when the commit
/// succeeds, so a failed batch can be retried as it is.
pub(crate) async fn append(
    conn: &mut SqliteConnection,
    head: &mut ChainHead,
    events: &mut [AuditEvent],
) -> Result<()> {
    let (mut id, mut prev) = head.clone();
    for e in events.iter_mut() {
        id += 1;
        e.id = id;
        e.prev_hash = prev;
        e.hash = chain_hash(&e.prev_hash, e);
        prev = e.hash.clone();
    }
    if events.len() <= ROWS_PER_INSERT {
        // One statement is a transaction of its own (its trigger's writes
        // included): one round trip to the database thread instead of three.
        insert(conn, events).await?;
    } else {
        let mut tx = sqlx::Connection::begin(conn).await?;
        for chunk in events.chunks(ROWS_PER_INSERT) {
            insert(&mut tx, chunk).await?;
        }
        tx.commit().await?;
    }
    *head = (id, prev);
    Ok(())
}

/// One multi-row INSERT of `chunk` (at most [`ROWS_PER_INSERT`] rows). A
/// batch of one row, the usual one, is kept as a prepared statement.
async fn insert(conn: &mut SqliteConnection, chunk: &[AuditEvent]) -> Result<()> {
    let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
        "INSERT INTO audit_events (id, ts, client, session, server, direction, method, name, \
         request, request_size, response, response_size, status, error_code, error_message, \
         latency_us, decision, rule, protocol_version, prev_hash, hash) ",
    );
    insert.push_values(chunk, |mut row, e| {
        row.push_bind(e.id)
            .push_bind(e.ts)
            .push_bind(&e.client)
            .push_bind(&e.session)
            .push_bind(&e.server)
            .push_bind(&e.direction)
            .push_bind(&e.method)
            .push_bind(&e.name)
            .push_bind(&e.request)
            .push_bind(e.request_size)
            .push_bind(&e.response)
            .push_bind(e.response_size)
            .push_bind(&e.status)
            .push_bind(e.error_code)
            .push_bind(&e.error_message)
            .push_bind(e.latency_us)
            .push_bind(&e.decision)
            .push_bind(&e.rule)
            .push_bind(&e.protocol_version)
            .push_bind(&e.prev_hash)
            .push_bind(&e.hash);
    });
    insert
        .build()
        .persistent(chunk.len() == 1)
        .execute(conn)
        .await?;
    Ok(())
}
