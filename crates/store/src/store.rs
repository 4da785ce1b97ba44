use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::PgPool;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use tokio::sync::Mutex;

use crate::postgres::{self, Changes};
use crate::{Database, Error, Result};

const DB_FILE_NAME: &str = "switchboard.db";
const POOL_SIZE: u32 = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Handle to the Switchboard database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    data_dir: PathBuf,
    database: Database,
}

/// The connections of either engine. Every repository runs the same SQL on
/// both (numbered `$N` parameters, which SQLite takes too) through [`on_pool!`].
pub(crate) enum Pool {
    Sqlite {
        pool: SqlitePool,
        // `PRAGMA data_version` is per connection, so it must always be asked on the same one.
        version_conn: Mutex<SqliteConnection>,
        path: PathBuf,
    },
    Postgres {
        pool: PgPool,
        changes: Changes,
    },
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("database", &self.inner.database)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) `data_dir/switchboard.db` and brings its schema up to date.
    ///
    /// Creates `data_dir` (mode 0700 on unix) if it is missing. Connections use WAL
    /// journaling, foreign keys, a 5 s busy timeout and `synchronous=NORMAL`.
    pub async fn open(data_dir: &Path) -> Result<Store> {
        Self::open_at(data_dir, &Database::Sqlite).await
    }

    /// Opens the configuration in `database`; `data_dir` keeps what is not in
    /// the database (the running gateway's address, the OAuth record) and, for
    /// SQLite, the database file itself.
    pub async fn open_at(data_dir: &Path, database: &Database) -> Result<Store> {
        create_private_dir(data_dir).await?;
        let pool = match database {
            Database::Sqlite => open_sqlite(data_dir).await?,
            Database::Postgres(url) => {
                let pool = postgres::connect(url, postgres::STORE_SCHEMA).await?;
                postgres::migrate(&pool, &PG_MIGRATOR).await?;
                tracing::debug!(database = %url, "opened store");
                Pool::Postgres {
                    changes: Changes::new(pool.clone()),
                    pool,
                }
            }
        };
        Ok(Store {
            inner: Arc::new(Inner {
                pool,
                data_dir: data_dir.to_path_buf(),
                database: database.clone(),
            }),
        })
    }

    /// Path of the database file (None on PostgreSQL).
    pub fn path(&self) -> Option<&Path> {
        match &self.inner.pool {
            Pool::Sqlite { path, .. } => Some(path),
            Pool::Postgres { .. } => None,
        }
    }

    /// Where the configuration is kept.
    pub fn database(&self) -> &Database {
        &self.inner.database
    }

    /// Directory holding what is kept beside the database.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The OS application-data directory for Switchboard, if the OS has one.
    pub fn default_data_dir() -> Option<PathBuf> {
        dirs::data_dir().map(|dir| dir.join("switchboard"))
    }

    /// A number that changes whenever another connection (or process) commits to the database.
    ///
    /// Compare successive values to notice edits made elsewhere, e.g. by the CLI while the
    /// gateway runs. Writes through this store also change it, since they use other connections.
    /// On PostgreSQL it counts the changes announced by every instance (LISTEN/NOTIFY).
    pub async fn data_version(&self) -> Result<i64> {
        match &self.inner.pool {
            Pool::Sqlite { version_conn, .. } => {
                let mut conn = version_conn.lock().await;
                let version = sqlx::query_scalar("PRAGMA data_version")
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(version)
            }
            Pool::Postgres { changes, .. } => Ok(changes.version().await),
        }
    }

    /// Waits until the database may have changed since `seen` (a value of
    /// [`Store::data_version`]) and returns the new version. SQLite is asked
    /// every `poll`; PostgreSQL says so itself, at once.
    pub async fn next_change(&self, seen: i64, poll: Duration) -> Result<i64> {
        match &self.inner.pool {
            Pool::Sqlite { .. } => loop {
                tokio::time::sleep(poll).await;
                let version = self.data_version().await?;
                if version != seen {
                    return Ok(version);
                }
            },
            Pool::Postgres { changes, .. } => Ok(changes.after(seen).await),
        }
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }
}

static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

async fn open_sqlite(data_dir: &Path) -> Result<Pool> {
    let path = data_dir.join(DB_FILE_NAME);
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .synchronous(SqliteSynchronous::Normal);
    let open_err = |source| Error::Open {
        path: path.clone(),
        source,
    };
    let pool = connect_pool(options).await.map_err(open_err)?;
    migrate(&pool).await?;
    // Taken out of the pool so that it is never shared with writers.
    let version_conn = pool.acquire().await?.detach();
    tracing::debug!(path = %path.display(), "opened store");
    Ok(Pool::Sqlite {
        pool,
        version_conn: Mutex::new(version_conn),
        path,
    })
}

/// Opens the pool, retrying while another process is busy creating the same database.
async fn connect_pool(options: SqliteConnectOptions) -> sqlx::Result<SqlitePool> {
    // Turning a brand-new file into a WAL database needs an exclusive lock, and SQLite reports
    // contention for it as SQLITE_BUSY straight away rather than waiting out the busy timeout.
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        let result = SqlitePoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect_with(options.clone())
            .await;
        match result {
            Err(err) if is_busy(&err) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

fn is_busy(err: &sqlx::Error) -> bool {
    const SQLITE_BUSY: i64 = 5;
    const SQLITE_LOCKED: i64 = 6;
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    // SQLite reports extended codes; the primary code is the low byte.
    db.code()
        .and_then(|code| code.parse::<i64>().ok())
        .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED))
}

/// Runs pending migrations while holding the database's write lock.
async fn migrate(pool: &SqlitePool) -> Result<()> {
    // SQLite migrations take no lock of their own; without BEGIN IMMEDIATE two processes
    // opening a fresh database together could both try to apply the same migration.
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    // `run_direct` is what `Migrator::run` calls; using it directly keeps this future `Send`.
    MIGRATOR.run_direct(None, &mut *tx, false).await?;
    tx.commit().await?;
    Ok(())
}

async fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).await.map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    async fn pragma(conn: &mut SqliteConnection, name: &str) -> String {
        let sql = format!("SELECT CAST((SELECT * FROM pragma_{name}) AS TEXT)");
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(conn)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn connections_use_the_configured_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let Pool::Sqlite {
            pool, version_conn, ..
        } = store.pool()
        else {
            unreachable!("a file store")
        };
        let mut pooled = pool.acquire().await.unwrap();
        let mut version_conn = version_conn.lock().await;
        for conn in [&mut *pooled, &mut *version_conn] {
            assert_eq!(pragma(conn, "journal_mode").await, "wal");
            assert_eq!(pragma(conn, "foreign_keys").await, "1");
            assert_eq!(pragma(conn, "busy_timeout").await, "5000");
            // 1 is NORMAL.
            assert_eq!(pragma(conn, "synchronous").await, "1");
        }
    }
}
