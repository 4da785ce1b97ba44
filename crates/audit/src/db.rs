//! The audit database: `<data dir>/audit.db`, separate from the configuration
//! so its write volume never disturbs config change detection; or, for a team,
//! the `switchboard_audit` schema of a PostgreSQL database shared by every
//! instance.

use std::{path::Path, time::Duration};

use sqlx::{
    QueryBuilder,
    postgres::PgPool,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};
use switchboard_store::Database;

use crate::{AuditEvent, Error, Result};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// File name of the audit database inside the data dir.
pub const AUDIT_DB_FILE: &str = "audit.db";

/// The PostgreSQL schema of the audit log.
pub const AUDIT_SCHEMA: &str = "switchboard_audit";

/// Handle to the audit database.
#[derive(Debug, Clone)]
pub struct AuditDb {
    pool: Pool,
    /// Where the log lives (the file, or the server and database): what
    /// names its key and anchor in the keyring.
    place: std::sync::Arc<str>,
    /// The SQLite file, for the space it takes.
    file: Option<std::path::PathBuf>,
}

/// The connections of either engine; [`on_pool!`] runs the same code on both.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The columns of [`AuditEvent`], for `SELECT`s built from literals.
macro_rules! columns {
    () => {
        "id, ts, client, session, server, direction, method, name, request, request_size, \
         response, response_size, status, error_code, error_message, latency_us, decision, \
         rule, protocol_version, prev_hash, hash"
    };
}
pub(crate) use columns;

impl AuditDb {
    /// Opens (creating if needed) the audit database in `data_dir`.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        Self::open_at(data_dir, &Database::Sqlite).await
    }

    /// Opens the audit log in `database` (SQLite: a file in `data_dir`).
    pub async fn open_at(data_dir: &Path, database: &Database) -> Result<Self> {
        Ok(match database {
            Database::Sqlite => {
                let (pool, file) = open_sqlite(data_dir).await?;
                Self {
                    pool: Pool::Sqlite(pool),
                    place: file.display().to_string().into(),
                    file: Some(file),
                }
            }
            Database::Postgres(url) => {
                let pool = switchboard_store::postgres::connect(url, AUDIT_SCHEMA).await?;
                PG_MIGRATOR.run(&pool).await?;
                let place = match url.expose().parse::<sqlx::postgres::PgConnectOptions>() {
                    Ok(o) => format!(
                        "postgres://{}:{}/{}",
                        o.get_host(),
                        o.get_port(),
                        o.get_database().unwrap_or_default()
                    ),
                    Err(_) => url.to_string(),
                };
                Self {
                    pool: Pool::Postgres(pool),
                    place: place.into(),
                    file: None,
                }
            }
        })
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// This log's entries in `vault`.
    pub(crate) fn seal(
        &self,
        vault: Option<std::sync::Arc<dyn crate::Vault>>,
    ) -> crate::vault::Seal {
        crate::vault::Seal::new(vault, &self.place)
    }

    /// The SQLite file of the log (None on PostgreSQL).
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Which engine holds the log: `sqlite` or `postgres`.
    pub fn engine(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// One record with its full request and response.
    pub async fn get(&self, id: i64) -> Result<Option<AuditEvent>> {
        let sql = concat!("SELECT ", columns!(), " FROM audit_events WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?)
    }

    /// Records matching `filter`, newest first.
    pub async fn query(&self, filter: &Filter) -> Result<Vec<AuditEvent>> {
        let search = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty());
        let limit = i64::from(filter.limit.clamp(1, 10_000));
        Ok(match &self.pool {
            Pool::Sqlite(pool) => {
                let mut q = match search.map(fts_query).filter(|q| !q.is_empty()) {
                    // Driven by the index in descending rowid order, so the scan stops
                    // at the first page of matches that pass the other filters
                    // instead of materialising every match of a common word. CROSS
                    // JOIN pins that order: left to itself the planner starts from
                    // the filter's index and sorts every match (seconds at 1M rows).
                    Some(fts) => {
                        let mut q = QueryBuilder::<sqlx::Sqlite>::new(concat!(
                            "SELECT ",
                            columns!(),
                            " FROM audit_fts CROSS JOIN audit_events e ON e.id = audit_fts.rowid \
                             WHERE audit_fts MATCH "
                        ));
                        q.push_bind(fts);
                        if let Some(before) = filter.before_id {
                            q.push(" AND audit_fts.rowid < ");
                            q.push_bind(before);
                        }
                        filter.push_conditions(&mut q);
                        q.push(" ORDER BY audit_fts.rowid DESC LIMIT ");
                        q
                    }
                    None => {
                        let mut q = QueryBuilder::<sqlx::Sqlite>::new(concat!(
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
                q.build_query_as().fetch_all(pool).await?
            }
            Pool::Postgres(pool) => {
                let mut q = QueryBuilder::<sqlx::Postgres>::new(concat!(
                    "SELECT ",
                    columns!(),
                    " FROM audit_events e WHERE 1 = 1"
                ));
                if let Some(text) = search {
                    // plainto_tsquery takes plain words (every one must appear), so
                    // user text is never query syntax.
                    q.push(" AND e.search @@ plainto_tsquery('simple', ");
                    q.push_bind(text.to_owned());
                    q.push(")");
                }
                filter.push_conditions(&mut q);
                q.push(" ORDER BY e.id DESC LIMIT ");
                q.push_bind(limit);
                q.build_query_as().fetch_all(pool).await?
            }
        })
    }

    /// Records after `after_id`, oldest first (for following the log).
    pub async fn since(&self, after_id: i64, limit: u32) -> Result<Vec<AuditEvent>> {
        let sql = concat!(
            "SELECT ",
            columns!(),
            " FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(sql)
            .bind(after_id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?)
    }

    /// The newest record's id (0 when empty).
    pub async fn last_id(&self) -> Result<i64> {
        let sql = "SELECT COALESCE(MAX(id), 0) FROM audit_events";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?)
    }
}

/// Size of the write-ahead log at which it is checkpointed, and cut back to
/// after, so the space the log takes stays near what its records need.
pub(crate) const WAL_LIMIT: i64 = 1024 * 1024;

async fn open_sqlite(data_dir: &Path) -> Result<(SqlitePool, std::path::PathBuf)> {
    std::fs::create_dir_all(data_dir).map_err(|source| Error::Io {
        path: data_dir.to_owned(),
        source,
    })?;
    let data_dir = std::fs::canonicalize(data_dir).map_err(|source| Error::Io {
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
        .synchronous(SqliteSynchronous::Normal)
        .pragma("journal_size_limit", WAL_LIMIT.to_string())
        .pragma("wal_autocheckpoint", (WAL_LIMIT / 4096).to_string());
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(|source| Error::Open {
            path: path.clone(),
            source,
        })?;
    MIGRATOR.run(&pool).await?;
    Ok((pool, path))
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
    fn push_conditions<DB>(&self, q: &mut QueryBuilder<DB>)
    where
        DB: sqlx::Database,
        String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        let eq = |q: &mut QueryBuilder<DB>, column: &str, value: &Option<String>| {
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
