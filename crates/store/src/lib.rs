//! SQLite storage for Switchboard: the configured MCP servers, the clients allowed to
//! connect to the gateway, and settings.
//!
//! Several processes (a running gateway, CLI invocations, the desktop app) open the same
//! database file at once; WAL journaling and a busy timeout make that safe, and
//! [`Store::data_version`] lets a long-running process notice edits made by the others.

mod clients;
mod error;
mod names;
mod policy;
mod servers;
mod settings;
mod store;

pub use clients::{ClientContext, ClientRecord, ContextUpdate};
pub use error::{Error, Result};
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
