//! Switchboard's MCP gateway: one local endpoint in front of every MCP server
//! the user has, forwarding everything both ways.
//!
//! The path of a message: the HTTP guard ([`http`]) admits it as a caller,
//! then the one [`pipeline`] binds it to that caller, classifies it, decides
//! on it, relays it to an [`upstream`] connection and records it; what the
//! server says back reaches the caller only.

mod bridge;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod hub;
mod listen;
mod mcp_headers;
pub mod names;
mod pipeline;
pub mod policy;
mod record;
mod route;
mod runtime;
mod session;
mod shell_path;
pub mod upstream;
mod vault;
mod wire;

pub use error::{Error, Result};
pub use pipeline::flow_report::{FlowReport, FlowTool};
pub use pipeline::offer::{ContextReport, ServerCost, ToolCost, reports as context_reports};
pub use pipeline::tools_cache::listed_tokens;
pub use route::{Caller, Route};
pub use runtime::{
    AUDIT_SETTINGS_KEY, Contexts, Gateway, GatewayConfig, RuntimeInfo, collect_tools,
};
pub use session::SessionsView as Sessions;
pub use vault::KeyringVault;
