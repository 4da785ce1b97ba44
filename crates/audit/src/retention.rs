//! Retention: the oldest records go when they are older than the setting or
//! the log is over its size, a chunk at a time so calls are never stalled.
//! The chain stays verifiable from an anchor: the last removed record's hash,
//! sealed with the chain's key so that deleting the oldest records and
//! writing an anchor by hand shows.

use sqlx::Row as _;

use crate::chain::{CHAIN_LOCK, retention_mac};
use crate::db::Pool;
use crate::vault::ChainKey;
use crate::{AuditDb, Result};

/// The space the audit log takes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Space {
    /// Bytes on disk: the SQLite file with its write-ahead log, or the
    /// PostgreSQL tables with their indexes.
    pub bytes: u64,
    /// Records kept.
    pub records: u64,
    /// When the oldest kept record was written (unix ms).
    pub oldest_ts: Option<i64>,
}

impl AuditDb {
    /// Deletes the oldest records, at most `chunk` at a time, while `older_than`
    /// holds or the database is over `max_bytes`. Returns how many went.
    pub(crate) async fn prune(
        &self,
        older_than: Option<i64>,
        max_bytes: Option<u64>,
        chunk: i64,
        key: Option<&ChainKey>,
    ) -> Result<u64> {
        // The rows to drop are counted up front (from the average row size)
        // and counted again only once they are gone: measuring PostgreSQL's
        // log means reading all of it, and a chunk of large records can hold
        // far more than the excess.
        let mut over_size = match max_bytes {
            Some(max) => Some(self.rows_over(max).await?),
            None => None,
        };
        let mut removed = 0u64;
        // Dropped by size since the rows over were last counted.
        let mut uncounted = 0u64;
        loop {
            let first: (Option<i64>, Option<i64>) = on_pool!(self, pool => sqlx::query_as(
                "SELECT MIN(id), MIN(ts) FROM audit_events",
            )
            .fetch_one(pool)
            .await)?;
            let (Some(first_id), Some(first_ts)) = first else {
                return Ok(removed);
            };
            let too_old = older_than.is_some_and(|cutoff| first_ts < cutoff);
            let too_big = match (&mut over_size, max_bytes) {
                (Some(rows), Some(max)) => {
                    if *rows == 0 && uncounted > 0 {
                        *rows = self.rows_over(max).await?;
                        uncounted = 0;
                    }
                    *rows > 0
                }
                _ => false,
            };
            if !too_old && !too_big {
                return Ok(removed);
            }
            let mut take = chunk;
            if let Some(rows) = over_size.filter(|_| !too_old) {
                take = take.min(i64::try_from(rows).unwrap_or(i64::MAX));
            }
            let mut upto = first_id + take - 1;
            if too_old
                && !too_big
                && let Some(cutoff) = older_than
            {
                // Stop at the first record that is young enough.
                let young: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(
                    "SELECT MAX(id) FROM (SELECT id FROM audit_events WHERE id <= $1 AND ts < $2 ORDER BY id) AS old",
                )
                .bind(upto)
                .bind(cutoff)
                .fetch_one(pool)
                .await)?;
                upto = young.unwrap_or(first_id);
            }
            let Some(done) = self.remove_through(upto, key).await? else {
                return Ok(removed);
            };
            removed += done;
            if let Some(rows) = &mut over_size
                && *rows > 0
            {
                *rows = rows.saturating_sub(done);
                uncounted += done;
            }
            // Let the writer in between chunks.
            tokio::task::yield_now().await;
        }
    }

    /// Removes every record up to `upto` and moves the anchor onto the last of
    /// them, in one transaction. None when there was none.
    async fn remove_through(&self, upto: i64, key: Option<&ChainKey>) -> Result<Option<u64>> {
        const LAST: &str =
            "SELECT id, hash FROM audit_events WHERE id <= $1 ORDER BY id DESC LIMIT 1";
        const ANCHOR: &str = "INSERT INTO audit_anchor (singleton, last_id, last_hash, mac) VALUES (1, $1, $2, $3) \
             ON CONFLICT (singleton) DO UPDATE SET last_id = excluded.last_id, last_hash = excluded.last_hash, mac = excluded.mac";
        // On PostgreSQL a writer reads the head (the last row, else the anchor)
        // under the chain's lock: it must never see the rows gone and the anchor
        // not yet moved. SQLite's contentless index needs its rows removed too.
        // On SQLite the transaction takes the write lock at once: one that
        // reads first fails, instead of waiting, when the writer commits
        // meanwhile.
        let (begin, lock, index) = match self.pool() {
            Pool::Sqlite(_) => (
                "BEGIN IMMEDIATE",
                None,
                Some(
                    "DELETE FROM audit_fts WHERE rowid IN (SELECT id FROM audit_events WHERE id <= $1)",
                ),
            ),
            Pool::Postgres(_) => ("BEGIN", Some("SELECT pg_advisory_xact_lock($1)"), None),
        };
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            if let Some(lock) = lock {
                sqlx::query(lock).bind(CHAIN_LOCK).execute(&mut *tx).await?;
            }
            let last: Option<(i64, String)> = sqlx::query_as(LAST)
                .bind(upto)
                .fetch_optional(&mut *tx)
                .await?;
            match last {
                None => {
                    tx.commit().await?;
                    None
                }
                Some((last_id, last_hash)) => {
                    if let Some(index) = index {
                        sqlx::query(index).bind(last_id).execute(&mut *tx).await?;
                    }
                    let done = sqlx::query("DELETE FROM audit_events WHERE id <= $1")
                        .bind(last_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    let mac = key.map(|key| retention_mac(key, last_id, &last_hash));
                    sqlx::query(ANCHOR)
                        .bind(last_id)
                        .bind(&last_hash)
                        .bind(mac)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Some(done)
                }
            }
        }))
    }

    /// How many of the oldest rows must go for the log to fit in `max_bytes`,
    /// from the size of a row on average.
    async fn rows_over(&self, max_bytes: u64) -> Result<u64> {
        let live = self.live_bytes().await?;
        if live <= max_bytes {
            return Ok(0);
        }
        let rows: i64 = on_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
            .fetch_one(pool)
            .await)?;
        let rows = u64::try_from(rows).unwrap_or(0);
        if rows == 0 {
            return Ok(0);
        }
        let per_row = (live / rows).max(1);
        Ok((live - max_bytes).div_ceil(per_row).min(rows))
    }

    /// Bytes the log's data takes: on SQLite the pages in use (free pages,
    /// which new records reuse, excluded; the write-ahead log is kept under
    /// [`AuditDb::reserve`]). On
    /// PostgreSQL, which reuses a deleted row's space only after vacuum, the
    /// bytes of the records themselves (a full read of the log).
    pub async fn live_bytes(&self) -> Result<u64> {
        let bytes: i64 = match self.pool() {
            Pool::Sqlite(pool) => {
                let row = sqlx::query("SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()), (SELECT page_size FROM pragma_page_size())")
                    .fetch_one(pool)
                    .await?;
                let pages: i64 = row.get(0);
                let size: i64 = row.get(1);
                pages.saturating_mul(size)
            }
            Pool::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT COALESCE(SUM(pg_column_size(e.*)), 0)::BIGINT FROM audit_events e",
                )
                .fetch_one(pool)
                .await?
            }
        };
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    /// Moves SQLite's write-ahead log into the database and cuts it to
    /// nothing, so readers that kept it from being reset cannot let it grow
    /// past [`AuditDb::reserve`]. Nothing to do on PostgreSQL.
    pub(crate) async fn checkpoint(&self) -> Result<()> {
        if let Pool::Sqlite(pool) = self.pool() {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// Space the log's files take besides [`AuditDb::live_bytes`]: SQLite's
    /// write-ahead log, cut back to this size after each checkpoint.
    pub fn reserve(&self) -> u64 {
        match self.pool() {
            Pool::Sqlite(_) => crate::db::WAL_LIMIT.unsigned_abs(),
            Pool::Postgres(_) => 0,
        }
    }

    /// The space the log takes, and what it holds.
    pub async fn space(&self) -> Result<Space> {
        let (records, oldest_ts): (i64, Option<i64>) = on_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*), MIN(ts) FROM audit_events",
        )
        .fetch_one(pool)
        .await)?;
        let bytes = match self.pool() {
            Pool::Sqlite(_) => ["", "-wal", "-shm"].iter().map(|s| self.file_size(s)).sum(),
            Pool::Postgres(pool) => {
                let bytes: i64 = sqlx::query_scalar(
                    "SELECT (pg_total_relation_size('audit_events') + pg_total_relation_size('audit_anchor'))::BIGINT",
                )
                .fetch_one(pool)
                .await?;
                u64::try_from(bytes).unwrap_or(0)
            }
        };
        Ok(Space {
            bytes,
            records: u64::try_from(records).unwrap_or(0),
            oldest_ts,
        })
    }

    /// The size of the SQLite file with `suffix` (`-wal`, `-shm`), 0 when absent.
    fn file_size(&self, suffix: &str) -> u64 {
        let Some(file) = self.file() else { return 0 };
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        std::fs::metadata(name).map_or(0, |m| m.len())
    }
}
