//! The hash chain: every record carries the hash of the one before it, so a
//! changed, inserted or removed record shows; keyed, and anchored outside the
//! database (see [`crate::vault`]). One writer per process appends;
//! on PostgreSQL several instances append to one chain, each batch under the
//! chain's lock.

use sha2::{Digest as _, Sha256};
use sqlx::{PgConnection, SqliteConnection};

use std::sync::Arc;

use crate::db::{Pool, columns};
use crate::vault::{ChainKey, KeyState, Seal, Vault, VaultError};
use crate::{AuditDb, AuditEvent, Result};

/// The hash the first record chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Taken (per transaction) by every PostgreSQL writer and by pruning, so one
/// batch at a time reads the chain's head and extends it.
pub(crate) const CHAIN_LOCK: i64 = 0x0053_4241_5544_4954;

/// Result of [`AuditDb::verify`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    /// Records that checked out.
    pub checked: u64,
    /// The first record that does not.
    pub broken: Option<Broken>,
    /// Whether the chain could be checked with its key.
    pub key: KeyState,
    /// The newest record id kept in the keyring, which the log must reach.
    pub anchor: Option<i64>,
}

/// A record that breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Broken {
    /// Its id.
    pub id: i64,
    /// What is wrong.
    pub problem: String,
}

impl AuditDb {
    /// Whether `vault` holds this log's key (without making one).
    pub async fn key_state(&self, vault: Option<Arc<dyn Vault>>) -> KeyState {
        let seal = self.seal(vault);
        let key = seal.key().await;
        key_state(&seal, &key)
    }

    /// Checks the hash chain from the retention anchor to the newest record,
    /// with the key and the newest hash kept in `vault` (see [`crate::vault`]).
    pub async fn verify(&self, vault: Option<Arc<dyn Vault>>) -> Result<Verification> {
        let seal = self.seal(vault);
        let read = seal.key().await;
        let key_state = key_state(&seal, &read);
        let key = read.ok().flatten();
        let newest = seal.anchor().await.ok().flatten();
        let mut result = Verification {
            checked: 0,
            broken: None,
            key: key_state,
            anchor: newest.as_ref().map(|a| a.id),
        };
        let anchor_sql = "SELECT last_id, last_hash, mac FROM audit_anchor";
        let start: Option<(i64, String, Option<String>)> = on_pool!(self, pool => sqlx::query_as(anchor_sql)
            .fetch_optional(pool)
            .await)?;
        if let (Some(key), Some((id, hash, mac))) = (&key, &start)
            && *id >= key.since
            && mac.as_deref() != Some(retention_mac(key, *id, hash).as_str())
        {
            result.broken = Some(Broken {
                id: *id,
                problem: "the retention anchor was not written by this log's pruning (the records up to it were removed)".into(),
            });
            return Ok(result);
        }
        let (mut prev_id, mut prev_hash) = start
            .map(|(id, hash, _)| (id, hash))
            .unwrap_or((0, GENESIS.to_owned()));
        loop {
            let sql = concat!(
                "SELECT ",
                columns!(),
                " FROM audit_events WHERE id > $1 ORDER BY id LIMIT 5000"
            );
            let rows: Vec<AuditEvent> = on_pool!(self, pool => sqlx::query_as(sql)
                .bind(prev_id)
                .fetch_all(pool)
                .await)?;
            if rows.is_empty() {
                break;
            }
            for event in rows {
                let problem = if event.prev_hash != prev_hash {
                    Some(
                        "its link to the previous record does not match (a record was removed, added or changed before it)",
                    )
                } else if chain_hash(&prev_hash, &event, key.as_ref()) != event.hash {
                    Some(
                        "its content does not match its hash (the record was changed, or the chain was rebuilt without its key)",
                    )
                } else if newest
                    .as_ref()
                    .is_some_and(|a| a.id == event.id && a.hash != event.hash)
                {
                    Some(
                        "it does not match the newest hash kept in the keyring (the chain was rebuilt)",
                    )
                } else {
                    None
                };
                if let Some(problem) = problem {
                    result.broken = Some(Broken {
                        id: event.id,
                        problem: problem.into(),
                    });
                    return Ok(result);
                }
                result.checked += 1;
                prev_id = event.id;
                prev_hash = event.hash;
            }
        }
        if let Some(anchor) = newest.filter(|a| a.id > prev_id) {
            result.broken = Some(Broken {
                id: anchor.id,
                problem: format!(
                    "the log ends at record {prev_id}, but record {} was committed (its hash is kept in the keyring): the newest records were removed",
                    anchor.id
                ),
            });
        }
        Ok(result)
    }
}

/// What one read of the key says of the chain.
fn key_state(seal: &Seal, read: &Result<Option<ChainKey>, VaultError>) -> KeyState {
    match read {
        Ok(Some(key)) => KeyState::Keyed(key.since),
        Ok(None) if seal.has_vault() => {
            KeyState::Unkeyed("this machine's keyring holds no key for this log".into())
        }
        Ok(None) => KeyState::Unkeyed("no keyring is configured".into()),
        Err(e) => KeyState::Unkeyed(e.0.clone()),
    }
}

/// The hash of `event` chained to `prev`, over the previous hash and a
/// fixed-order JSON array of every stored field but the hashes themselves:
/// HMAC-SHA256 with the log's key from the id it keys on, plain SHA-256
/// before it (and for a log without a key).
pub(crate) fn chain_hash(prev: &str, e: &AuditEvent, key: Option<&ChainKey>) -> String {
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
    let canonical = canonical.to_string();
    if let Some(key) = key.filter(|k| e.id >= k.since) {
        return key.mac(&[prev.as_bytes(), canonical.as_bytes()]);
    }
    let mut hasher = Sha256::new();
    hasher.update(prev.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

/// What proves that the retention anchor (`id`, `hash`) was written by
/// pruning that had the key, not by someone who deleted the oldest records.
pub(crate) fn retention_mac(key: &ChainKey, id: i64, hash: &str) -> String {
    key.mac(&[
        b"retention anchor",
        id.to_string().as_bytes(),
        hash.as_bytes(),
    ])
}

/// The last committed row's id and hash: where the next row chains on.
pub(crate) type ChainHead = (i64, String);

/// The writer: its connection, and the key it chains with.
pub(crate) struct Writer {
    engine: Engine,
    key: Option<ChainKey>,
}

/// The writer's own connection, and where the chain stands for it.
enum Engine {
    /// SQLite has one writer (this process's): the head is kept in memory.
    Sqlite {
        conn: SqliteConnection,
        head: ChainHead,
    },
    /// On PostgreSQL other instances extend the chain too: every batch reads
    /// the head again under the chain's lock. Each batch takes a connection
    /// from the pool, so a connection the server dropped is replaced.
    Postgres { pool: sqlx::PgPool },
}

impl Writer {
    /// Takes a connection of `db`'s for the writer, and the log's key from
    /// `seal` (made now, keying the records from the next one on, when the
    /// log has none yet). Without a key the chain is plain SHA-256; why is
    /// returned.
    pub(crate) async fn connect(db: &AuditDb, seal: &Seal) -> Result<(Writer, KeyState)> {
        let (engine, key) = match db.pool() {
            Pool::Sqlite(pool) => {
                let mut conn = pool.acquire().await?.detach();
                let head = sqlite_head(&mut conn).await?;
                let key = seal.key_or_create(head.0 + 1).await;
                (Engine::Sqlite { conn, head }, key)
            }
            Pool::Postgres(pool) => {
                // Under the chain's lock, so instances starting together on one
                // machine make one key, and no record is written meanwhile.
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(CHAIN_LOCK)
                    .execute(&mut *tx)
                    .await?;
                let head = postgres_head(&mut tx).await?;
                let key = seal.key_or_create(head.0 + 1).await;
                tx.commit().await?;
                (Engine::Postgres { pool: pool.clone() }, key)
            }
        };
        let (key, state) = match key {
            Ok(key) => {
                let since = key.since;
                (Some(key), KeyState::Keyed(since))
            }
            Err(e) => (None, KeyState::Unkeyed(e.0)),
        };
        Ok((Writer { engine, key }, state))
    }

    /// The key, for pruning.
    pub(crate) fn key(&self) -> Option<&ChainKey> {
        self.key.as_ref()
    }

    /// Chains `events` (ids and hashes not yet set) on the head and commits
    /// them in one transaction. Fills in ids and hashes and returns the new
    /// head. The head moves only when the commit succeeds, so a failed batch
    /// can be retried as it is.
    pub(crate) async fn append(&mut self, events: &mut [AuditEvent]) -> Result<ChainHead> {
        let key = self.key.as_ref();
        match &mut self.engine {
            Engine::Sqlite { conn, head } => {
                let next = link(head.clone(), events, key);
                if events.len() <= ROWS_PER_INSERT {
                    // One statement is a transaction of its own (its trigger's writes
                    // included): one round trip to the database thread instead of three.
                    insert_sqlite(conn, events).await?;
                } else {
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    for chunk in events.chunks(ROWS_PER_INSERT) {
                        insert_sqlite(&mut tx, chunk).await?;
                    }
                    tx.commit().await?;
                }
                *head = next.clone();
                Ok(next)
            }
            Engine::Postgres { pool } => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(CHAIN_LOCK)
                    .execute(&mut *tx)
                    .await?;
                let head = postgres_head(&mut tx).await?;
                let next = link(head, events, key);
                for chunk in events.chunks(ROWS_PER_INSERT) {
                    insert_postgres(&mut tx, chunk).await?;
                }
                tx.commit().await?;
                Ok(next)
            }
        }
    }
}

/// Gives `events` their ids and hashes after `head`; returns the new head.
fn link(head: ChainHead, events: &mut [AuditEvent], key: Option<&ChainKey>) -> ChainHead {
    let (mut id, mut prev) = head;
    for e in events.iter_mut() {
        id += 1;
        e.id = id;
        e.prev_hash = prev;
        e.hash = chain_hash(&e.prev_hash, e, key);
        prev = e.hash.clone();
    }
    (id, prev)
}

const HEAD_SQL: &str = "SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1";
const ANCHOR_SQL: &str = "SELECT last_id, last_hash FROM audit_anchor";

/// Rows per INSERT statement: 21 bound values each stays under SQLite's
/// limit of 32,766 variables (and PostgreSQL's of 65,535).
const ROWS_PER_INSERT: usize = 1000;

const INSERT: &str = "INSERT INTO audit_events (id, ts, client, session, server, direction, method, name, \
     request, request_size, response, response_size, status, error_code, error_message, \
     latency_us, decision, rule, protocol_version, prev_hash, hash) ";

/// Pushes the values of `chunk` onto an INSERT of either engine.
macro_rules! push_rows {
    ($insert:expr, $chunk:expr) => {
        $insert.push_values($chunk, |mut row, e| {
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
        })
    };
}

/// The head and the INSERT of one engine's connection (the same SQL on both).
macro_rules! engine {
    ($head:ident, $insert:ident, $db:ty, $conn:ty) => {
        async fn $head(conn: &mut $conn) -> Result<ChainHead> {
            if let Some(head) = sqlx::query_as(HEAD_SQL).fetch_optional(&mut *conn).await? {
                return Ok(head);
            }
            let anchor = sqlx::query_as(ANCHOR_SQL)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(anchor.unwrap_or((0, GENESIS.to_owned())))
        }

        /// One multi-row INSERT of `chunk` (at most [`ROWS_PER_INSERT`] rows). A
        /// batch of one row, the usual one, is kept as a prepared statement.
        async fn $insert(conn: &mut $conn, chunk: &[AuditEvent]) -> Result<()> {
            let mut insert = sqlx::QueryBuilder::<$db>::new(INSERT);
            push_rows!(insert, chunk);
            insert
                .build()
                .persistent(chunk.len() == 1)
                .execute(conn)
                .await?;
            Ok(())
        }
    };
}

engine!(sqlite_head, insert_sqlite, sqlx::Sqlite, SqliteConnection);
engine!(postgres_head, insert_postgres, sqlx::Postgres, PgConnection);
