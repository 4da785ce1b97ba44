//! Retention: the oldest records go when they are older than the setting or
//! the log is over its size, a chunk at a time so calls are never stalled.
//! The chain stays verifiable from an anchor: the last removed record's hash.

use sqlx::Row as _;

use crate::chain::CHAIN_LOCK;
use crate::db::Pool;
use crate::{AuditDb, Result};

impl AuditDb {
    /// Deletes the oldest records, at most `chunk` at a time, while `older_than`
    /// holds or the database is over `max_bytes`. Returns how many went.
    pub async fn prune(
        &self,
        older_than: Option<i64>,
        max_bytes: Option<u64>,
        chunk: i64,
    ) -> Result<u64> {
        // Measuring PostgreSQL's log means reading all of it, so the rows to
        // drop are counted up front and counted again only once they are gone.
        let mut over_size = match (&self.pool(), max_bytes) {
            (Pool::Postgres(_), Some(max)) => Some(self.rows_over(max).await?),
            _ => None,
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
                (Some(_), None) => false,
                (None, Some(max)) => self.live_bytes().await? > max,
                (None, None) => false,
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
            let Some(done) = self.remove_through(upto).await? else {
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
    async fn remove_through(&self, upto: i64) -> Result<Option<u64>> {
        const LAST: &str =
            "SELECT id, hash FROM audit_events WHERE id <= $1 ORDER BY id DESC LIMIT 1";
        const ANCHOR: &str = "INSERT INTO audit_anchor (singleton, last_id, last_hash) VALUES (1, $1, $2) \
             ON CONFLICT (singleton) DO UPDATE SET last_id = excluded.last_id, last_hash = excluded.last_hash";
        // On PostgreSQL a writer reads the head (the last row, else the anchor)
        // under the chain's lock: it must never see the rows gone and the anchor
        // not yet moved. SQLite's contentless index needs its rows removed too.
        let (lock, index) = match self.pool() {
            Pool::Sqlite(_) => (
                None,
                Some(
                    "DELETE FROM audit_fts WHERE rowid IN (SELECT id FROM audit_events WHERE id <= $1)",
                ),
            ),
            Pool::Postgres(_) => (Some("SELECT pg_advisory_xact_lock($1)"), None),
        };
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
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
                    sqlx::query(ANCHOR)
                        .bind(last_id)
                        .bind(&last_hash)
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

    /// Bytes of the database that hold data (free pages excluded). On
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
}
