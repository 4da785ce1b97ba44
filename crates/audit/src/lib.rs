//! Switchboard's audit log: every MCP message that crosses the gateway,
//! redacted, capped, committed in batches to SQLite or PostgreSQL, chained by
//! keyed hashes anchored in the OS keyring so tampering shows, searchable
//! (FTS5 / tsvector), kept within its age and size limits, and streamed live.

/// Runs `$body` with `$pool` bound to the audit pool of whichever engine it
/// is; `$body` must produce the same type on both.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db.pool() {
            $crate::db::Pool::Sqlite($pool) => $body,
            $crate::db::Pool::Postgres($pool) => $body,
        }
    };
}

mod chain;
mod db;
mod log;
mod payload;
mod record;
mod redact;
mod report;
mod retention;
mod upkeep;
pub mod vault;

pub use chain::{Broken, GENESIS, Verification};
pub use db::{AUDIT_DB_FILE, AUDIT_SCHEMA, AuditDb, Filter};
pub use log::{AuditLog, AuditSettings, NotRecorded};
pub use payload::{DEFAULT_MAX_PAYLOAD, MIN_MAX_PAYLOAD, Truncated};
pub use record::{AuditEvent, AuditRecord, Decision, Direction, Status, now_ms};
pub use redact::{MASK, Redactor, RulesError};
pub use report::{ToolUsage, csv_header, csv_row, usage};
pub use retention::Space;
pub use vault::{KeyState, MemoryVault, Vault, VaultError};

use std::path::PathBuf;

/// Errors of the audit crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A database operation failed.
    #[error("audit database: {0}")]
    Database(#[from] sqlx::Error),
    /// The database could not be opened.
    #[error("cannot open audit database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: sqlx::Error,
    },
    /// The PostgreSQL database could not be reached or prepared.
    #[error(transparent)]
    Store(#[from] switchboard_store::Error),
    /// The schema could not be brought up to date.
    #[error("audit database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
