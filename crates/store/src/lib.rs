//! Storage for Switchboard: the configured MCP servers, the clients allowed to
//! connect to the gateway, and settings, in SQLite (the default) or PostgreSQL.
//!
//! Several processes (a running gateway, CLI invocations, the desktop app, other
//! instances on one PostgreSQL) open the same database at once; WAL journaling and a
//! busy timeout make that safe on SQLite, and [`Store::data_version`] lets a
//! long-running process notice edits made by the others (on PostgreSQL, as they are
//! announced).

/// Runs `$body` with `$pool` bound to the store's pool of whichever engine it
/// is; both arms compile the same code, so `$body` must produce the same type
/// on either (map query results to counts or rows inside it).
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store.pool() {
            $crate::store::Pool::Sqlite { pool: $pool, .. } => $body,
            $crate::store::Pool::Postgres { pool: $pool, .. } => $body,
        }
    };
}

mod clients;
mod database;
mod error;
mod limits;
mod names;
mod policy;
pub mod postgres;
mod servers;
mod settings;
mod store;

pub use clients::{ClientContext, ClientRecord, ContextUpdate};
pub use database::{DATABASE_URL_ENV, Database, PostgresUrl};
pub use error::{Error, Result};
pub use limits::{RateBucket, RateTaken};
pub use names::{validate_client_name, validate_server_name};
pub use policy::{
    ApprovalRecord, NewApproval, Permission, PermissionEntry, Profile, Scope, ToolPin,
};
pub use servers::{ServerRecord, TransportConfig};
pub use store::Store;
pub use switchboard_sandbox::{NetworkGrant, SandboxConfig};

/// Current time as unix milliseconds.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
