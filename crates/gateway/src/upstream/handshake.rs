//! Opening a connection: which protocol era the server speaks.
//!
//! The gateway asks `server/discover` first (2026-07-28) and falls back to
//! `initialize` (2025-11-25) on the same connection when the server answers
//! like a server of the session era. Because every request has its own id on
//! the connection, a late answer to the probe cannot be taken for the answer
//! to `initialize`.

use std::{sync::Arc, time::Duration};

use rmcp::model::{
    DiscoverResult, Implementation, InitializeResult, ProtocolVersion, ServerCapabilities,
};
use serde_json::{Map, Value, json};

use super::conn::{Conn, Era, gateway_capabilities, gateway_info};
use crate::{mcp_headers::LIFECYCLE, wire::Message};

/// Protocol version the gateway offers servers first (`server/discover`).
pub const UPSTREAM_PROTOCOL_VERSION: ProtocolVersion = ProtocolVersion::V_2026_07_28;

/// Protocol version the gateway offers in `initialize`, for servers that do
/// not speak 2026-07-28.
pub const UPSTREAM_LEGACY_VERSION: ProtocolVersion = ProtocolVersion::V_2025_11_25;

/// How long the probe may take before the gateway tries `initialize`.
const PROBE_LIMIT: Duration = Duration::from_secs(10);

/// How the gateway opens a connection to a server, learned from the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// Not known yet: probe with `server/discover`, fall back to `initialize`.
    Auto,
    /// The server spoke 2026-07-28 last time.
    Discover,
    /// The server answered `initialize` last time.
    Initialize,
}

/// What the server said about itself.
#[derive(Debug, Clone)]
pub(crate) struct ServerInfo {
    /// The protocol version spoken with it.
    pub protocol_version: ProtocolVersion,
    /// What it offers.
    pub capabilities: ServerCapabilities,
    /// Its name and version, when it gave them.
    pub server_info: Option<Implementation>,
    /// Its instructions for models, when it has any.
    pub instructions: Option<String>,
}

impl ServerInfo {
    /// Whether the server speaks 2026-07-28 or later.
    pub fn stateless(&self) -> bool {
        !self.protocol_version.has_initialize()
    }
}

enum Probe {
    Modern(Box<ServerInfo>),
    /// The server answered like a server of the session era.
    Legacy(String),
}

/// Agrees on an era with the server on `conn`.
pub(crate) async fn handshake(
    conn: &Arc<Conn>,
    lifecycle: Lifecycle,
) -> Result<ServerInfo, String> {
    if lifecycle != Lifecycle::Initialize {
        match discover(conn).await? {
            Probe::Modern(info) => {
                let info = *info;
                conn.set_era(Era {
                    version: info.protocol_version.to_string(),
                    stateless: true,
                });
                return Ok(info);
            }
            Probe::Legacy(why) if lifecycle == Lifecycle::Auto => {
                tracing::debug!(
                    server = conn.server(),
                    why,
                    "server/discover refused; trying initialize"
                );
            }
            Probe::Legacy(why) => return Err(format!("server/discover failed: {why}")),
        }
    }
    initialize(conn).await
}

fn probe_params() -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert(
        LIFECYCLE.protocol_version.into(),
        Value::String(UPSTREAM_PROTOCOL_VERSION.to_string()),
    );
    meta.insert(LIFECYCLE.client_capabilities.into(), gateway_capabilities());
    meta.insert(LIFECYCLE.client_info.into(), gateway_info());
    let mut params = Map::new();
    params.insert("_meta".into(), Value::Object(meta));
    params
}

async fn discover(conn: &Arc<Conn>) -> Result<Probe, String> {
    let answer =
        match tokio::time::timeout(PROBE_LIMIT, conn.request("server/discover", probe_params()))
            .await
        {
            Err(_) => return Ok(Probe::Legacy("no answer to server/discover in time".into())),
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(answer)) => answer,
        };
    if let Some(error) = answer.rpc_error() {
        return match error.code {
            // The server speaks 2026-07-28 but refused the probe itself.
            -32020 | -32021 => Err(format!("server/discover refused: {}", error.message)),
            _ => Ok(Probe::Legacy(error.message)),
        };
    }
    let Some(result) = answer.result_as::<DiscoverResult>() else {
        return Ok(Probe::Legacy("unreadable server/discover result".into()));
    };
    if !result
        .supported_versions
        .contains(&UPSTREAM_PROTOCOL_VERSION)
    {
        return Ok(Probe::Legacy(format!(
            "the server supports only {:?}",
            result.supported_versions
        )));
    }
    Ok(Probe::Modern(Box::new(ServerInfo {
        protocol_version: UPSTREAM_PROTOCOL_VERSION,
        server_info: result.server_info(),
        capabilities: result.capabilities,
        instructions: result.instructions,
    })))
}

fn initialize_params() -> Map<String, Value> {
    let params = json!({
        "protocolVersion": UPSTREAM_LEGACY_VERSION.to_string(),
        "capabilities": gateway_capabilities(),
        "clientInfo": gateway_info(),
    });
    match params {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Sends `initialize`; its answer, unless it is an error.
async fn send_initialize(conn: &Arc<Conn>) -> Result<Message, String> {
    let answer = conn
        .request("initialize", initialize_params())
        .await
        .map_err(|e| e.to_string())?;
    match answer.rpc_error() {
        Some(error) => Err(format!("initialize failed: {}", error.message)),
        None => Ok(answer),
    }
}

/// Tells the server the session is open (in the era agreed on).
async fn initialized(conn: &Arc<Conn>) -> Result<(), String> {
    conn.post(&Message::notification("notifications/initialized", None))
        .await
        .map_err(|e| e.to_string())
}

async fn initialize(conn: &Arc<Conn>) -> Result<ServerInfo, String> {
    let result: InitializeResult = send_initialize(conn)
        .await?
        .result_as()
        .ok_or_else(|| "initialize failed: unreadable result".to_owned())?;
    conn.set_era(Era {
        version: result.protocol_version.to_string(),
        stateless: !result.protocol_version.has_initialize(),
    });
    initialized(conn).await?;
    Ok(ServerInfo {
        protocol_version: result.protocol_version,
        capabilities: result.capabilities,
        server_info: Some(result.server_info),
        instructions: result.instructions,
    })
}

/// Opens a new session with a server whose session expired.
pub(super) async fn reinitialize(conn: &Arc<Conn>) -> Result<(), String> {
    if let Some(link) = conn.http_link() {
        link.forget_session();
    }
    send_initialize(conn).await?;
    initialized(conn).await
}
