//! What PostgreSQL needs beyond the shared SQL: a schema of our own per
//! component, migrations under its lock, and the change feed (LISTEN/NOTIFY)
//! that lets several instances follow one configuration.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions as _, Connection as _};
use tokio::sync::{OnceCell, watch};

use crate::{Error, PostgresUrl, Result};

/// The schema holding the configuration.
pub const STORE_SCHEMA: &str = "switchboard";

/// The channel the configuration tables announce their changes on.
const CHANNEL: &str = "switchboard_changes";

const POOL_SIZE: u32 = 8;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Any key works as long as every instance uses the same one.
const SCHEMA_LOCK: i64 = 0x5357_4254_4348;

/// Connects to `url` with `schema` (created if missing) first on the search path.
pub async fn connect(url: &PostgresUrl, schema: &str) -> Result<PgPool> {
    let connect_err = |source| Error::Connect {
        database: url.to_string(),
        source,
    };
    let options: PgConnectOptions = url.expose().parse().map_err(connect_err)?;
    {
        // Two instances starting together on a fresh database would both try
        // to create the schema; the lock makes one wait for the other.
        let mut conn = options.connect().await.map_err(connect_err)?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(SCHEMA_LOCK)
            .execute(&mut conn)
            .await?;
        let created = sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
        )))
        .execute(&mut conn)
        .await;
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(SCHEMA_LOCK)
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
        created?;
    }
    let options = options.options([("search_path", schema)]);
    PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(connect_err)
}

/// Brings the schema up to date (sqlx holds an advisory lock meanwhile, so
/// instances starting together apply each migration once).
pub async fn migrate(pool: &PgPool, migrator: &Migrator) -> Result<()> {
    migrator.run(pool).await?;
    Ok(())
}

/// Counts the configuration changes announced on the database, by any
/// instance or by hand. The listener starts the first time it is asked.
pub(crate) struct Changes {
    pool: PgPool,
    version: OnceCell<watch::Receiver<i64>>,
}

impl Changes {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self {
            pool,
            version: OnceCell::new(),
        }
    }

    async fn receiver(&self) -> watch::Receiver<i64> {
        self.version
            .get_or_init(|| async {
                let (tx, rx) = watch::channel(0);
                tokio::spawn(listen(self.pool.clone(), tx));
                rx
            })
            .await
            .clone()
    }

    pub(crate) async fn version(&self) -> i64 {
        *self.receiver().await.borrow()
    }

    /// Waits for a version other than `seen`.
    pub(crate) async fn after(&self, seen: i64) -> i64 {
        let mut rx = self.receiver().await;
        let changed = rx.wait_for(|v| *v != seen).await.map(|v| *v);
        match changed {
            Ok(v) => v,
            // The listener only ends with the store; nothing more will change.
            Err(_) => std::future::pending().await,
        }
    }
}

/// Moves the version on at every notification, and once at every
/// (re)connection, since what was announced while it was away is lost.
async fn listen(pool: PgPool, version: watch::Sender<i64>) {
    let bump = || version.send_modify(|v| *v += 1);
    loop {
        let connected = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            result = connected => match result {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for configuration changes; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        () = version.closed() => return,
                    }
                }
            },
            () = version.closed() => return,
        };
        bump();
        loop {
            tokio::select! {
                received = listener.try_recv() => match received {
                    Ok(Some(_)) => bump(),
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the configuration change feed; reconnecting");
                        break;
                    }
                },
                () = version.closed() => return,
            }
        }
    }
}

/// Creates a new, empty database on the server of `server` (whose own
/// database is only used to connect) and returns its URL. For test suites
/// and benchmarks that need a database of their own per run.
pub async fn scratch_database(server: &PostgresUrl, prefix: &str) -> Result<PostgresUrl> {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let connect_err = |source| Error::Connect {
        database: server.to_string(),
        source,
    };
    let options: PgConnectOptions = server.expose().parse().map_err(connect_err)?;
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!("{prefix}_{}_{n}_{nanos}", std::process::id());
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::InvalidName(format!(
            "database name prefix {prefix:?}: use letters, digits and _"
        )));
    }
    let mut conn = options.connect().await.map_err(connect_err)?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await?;
    let _ = conn.close().await;
    let url = server.expose();
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base
        .find("://")
        .map(|at| at + 3)
        .and_then(|start| base[start..].find('/').map(|slash| start + slash))
        .unwrap_or(base.len());
    let mut scratch = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        scratch.push('?');
        scratch.push_str(query);
    }
    match crate::Database::parse(&scratch)? {
        crate::Database::Postgres(url) => Ok(url),
        crate::Database::Sqlite => Err(Error::UnsupportedDatabase(scratch)),
    }
}
