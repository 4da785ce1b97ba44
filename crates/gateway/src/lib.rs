//! Switchboard's MCP gateway: one local endpoint in front of every MCP server
//! the user has, forwarding everything both ways.
//!
//! The path of a call: HTTP guard ([`http`]) -> rmcp's streamable HTTP service
//! -> [`front::Front`] (one per client session) -> routing by name -> an
//! [`upstream::Upstream`] connection -> back, with progress, cancellation and
//! server->client requests routed through [`dispatch`].

mod bridge;
mod dispatch;
mod error;
pub mod front;
pub mod http;
pub mod hub;
pub mod names;
mod opening;
pub mod policy;
mod route;
mod runtime;
mod shell_path;
pub mod upstream;
mod wire;

pub use dispatch::Sessions;
pub use error::{Error, Result};
pub use runtime::{AUDIT_SETTINGS_KEY, Gateway, GatewayConfig, RuntimeInfo, collect_tools};
