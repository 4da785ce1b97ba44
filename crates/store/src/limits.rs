//! Rate-limit buckets in the database, for instances that share one.

use crate::{Result, Store, now_ms};

/// One bucket a call takes from: its key and its size (calls per minute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateBucket {
    /// Which budget (`client:NAME`, `server:NAME`, ...).
    pub key: String,
    /// Calls per minute, also the most it holds.
    pub per_minute: u32,
}

/// What [`Store::take_rate`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateTaken {
    /// A token was taken from every bucket.
    Taken,
    /// Bucket `index` was empty (nothing was taken); one token is there in `wait` seconds.
    Empty {
        /// Index into the buckets asked for.
        index: usize,
        /// Seconds until it holds one token.
        wait: f64,
    },
}

const TAKE: &str = "INSERT INTO rate_buckets (key, tokens, at_ms, per_minute) VALUES ($1, $2, $3, $4) \
    ON CONFLICT (key) DO UPDATE SET \
    tokens = CASE \
        WHEN rate_buckets.per_minute <> excluded.per_minute THEN excluded.tokens \
        WHEN rate_buckets.tokens + (excluded.at_ms - rate_buckets.at_ms) * rate_buckets.per_minute / 60000.0 \
             > rate_buckets.per_minute THEN rate_buckets.per_minute - 1.0 \
        ELSE rate_buckets.tokens + (excluded.at_ms - rate_buckets.at_ms) * rate_buckets.per_minute / 60000.0 - 1.0 \
    END, \
    at_ms = excluded.at_ms, per_minute = excluded.per_minute \
    RETURNING tokens";

const REFUND: &str = "UPDATE rate_buckets SET tokens = CASE WHEN tokens + 1.0 > per_minute \
    THEN per_minute ELSE tokens + 1.0 END WHERE key = $1";

impl Store {
    /// Whether other instances serve calls from this database, so rate limits
    /// must be kept in it ([`Store::take_rate`]) rather than in memory.
    pub fn shares_rate_limits(&self) -> bool {
        matches!(self.pool(), crate::store::Pool::Postgres { .. })
    }

    /// Takes one token from every bucket in one transaction (a bucket refills
    /// at `per_minute` a minute, up to `per_minute`), or from none when one is
    /// empty.
    pub async fn take_rate(&self, buckets: &[RateBucket]) -> Result<RateTaken> {
        let now = now_ms();
        let taken = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut empty = None;
            for (index, bucket) in buckets.iter().enumerate() {
                let per_minute = i64::from(bucket.per_minute);
                let left: f64 = sqlx::query_scalar(TAKE)
                    .bind(&bucket.key)
                    .bind(f64::from(bucket.per_minute) - 1.0)
                    .bind(now)
                    .bind(per_minute)
                    .fetch_one(&mut *tx)
                    .await?;
                if left < 0.0 {
                    let wait = -left * 60.0 / f64::from(bucket.per_minute.max(1));
                    empty = Some(RateTaken::Empty { index, wait });
                    break;
                }
            }
            match empty {
                Some(empty) => {
                    tx.rollback().await?;
                    empty
                }
                None => {
                    tx.commit().await?;
                    RateTaken::Taken
                }
            }
        });
        Ok(taken)
    }

    /// Gives back a token taken by a call that never ran.
    pub async fn refund_rate(&self, buckets: &[RateBucket]) -> Result<()> {
        for bucket in buckets {
            on_pool!(self, pool => sqlx::query(REFUND)
                .bind(&bucket.key)
                .execute(pool)
                .await
                .map(|_| ()))?;
        }
        Ok(())
    }
}
