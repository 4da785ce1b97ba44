//! The bind stage: who is asking, in which era, on which session.
//!
//! A session id binds a message only to a session the same caller (client
//! and endpoint) opened; any other id, guessed or seen in a log, is 404 like
//! an id that never existed. A 2026-07-28 request binds to itself: its
//! version and capabilities come in its `_meta`, its headers must agree with
//! its body (SEP-2243).
#![expect(deprecated, reason = "logging is still part of 2025-11-25")]

use std::sync::Arc;

use http::HeaderMap;
use rmcp::model::{ClientCapabilities, LoggingLevel, ProtocolVersion, RequestMetaObject};
use serde_json::{Map, Value};

use super::{Core, refusal::Refusal};
use crate::{
    mcp_headers::{self, LIFECYCLE, PROTOCOL_VERSION, SESSION_ID, is_stateless_version},
    names,
    route::{Caller, Route},
    session::{RequestGuard, Session, SessionKey},
    wire::{Kind, Message},
};

/// Protocol versions the gateway speaks with clients: the session era
/// through `initialize`, 2026-07-28 statelessly.
pub(crate) const SUPPORTED_VERSIONS: &[&str] = &[
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];

/// A 2026-07-28 request, bound to itself.
pub(crate) struct Stateless {
    pub version: String,
    pub capabilities: ClientCapabilities,
    /// The capabilities as the client sent them (relayed to servers).
    pub capabilities_json: Value,
    pub log_level: Option<LoggingLevel>,
    /// Counts the request while it runs; its key names it meanwhile.
    pub request: RequestGuard,
}

/// Who a message is from, beyond its caller.
pub(crate) enum Who {
    /// An `initialize`: the session it opens does not exist yet.
    Opening,
    /// A message on the caller's own session.
    Session(Arc<Session>),
    /// A 2026-07-28 request.
    Stateless(Box<Stateless>),
}

/// A message bound to its caller.
pub(crate) struct Bound {
    pub caller: Caller,
    pub who: Who,
}

impl Bound {
    /// Whether it speaks 2026-07-28 (no session).
    pub fn stateless(&self) -> bool {
        matches!(self.who, Who::Stateless(_))
    }

    /// The protocol version of the exchange.
    pub fn version(&self) -> &str {
        match &self.who {
            Who::Opening => "",
            Who::Session(s) => &s.version,
            Who::Stateless(s) => &s.version,
        }
    }

    /// The key the gateway knows the client's session (or request) by.
    pub fn key(&self) -> SessionKey {
        match &self.who {
            Who::Opening => 0,
            Who::Session(s) => s.key,
            Who::Stateless(s) => s.request.key,
        }
    }

    /// Whose taint a call carries: the session's, or for a client without
    /// sessions, the client's.
    pub fn flow_key(&self) -> crate::policy::FlowKey {
        match &self.who {
            Who::Session(s) => crate::policy::FlowKey::Session(s.key),
            _ => crate::policy::FlowKey::Client(self.caller.client.clone()),
        }
    }

    /// The MCP session id, when there is one.
    pub fn session_id(&self) -> Option<&str> {
        match &self.who {
            Who::Session(s) => Some(&s.id),
            _ => None,
        }
    }

    /// What the client declared.
    pub fn capabilities(&self) -> &ClientCapabilities {
        static NONE: std::sync::OnceLock<ClientCapabilities> = std::sync::OnceLock::new();
        match &self.who {
            Who::Session(s) => &s.capabilities,
            Who::Stateless(s) => &s.capabilities,
            Who::Opening => NONE.get_or_init(ClientCapabilities::default),
        }
    }

    /// What the client declared, as JSON (relayed to 2026-07-28 servers).
    pub fn capabilities_json(&self) -> Value {
        match &self.who {
            Who::Stateless(s) => s.capabilities_json.clone(),
            _ => serde_json::to_value(self.capabilities()).unwrap_or_default(),
        }
    }

    /// The log level the client hears from (None: every level).
    pub fn log_level(&self) -> Option<LoggingLevel> {
        match &self.who {
            Who::Session(s) => s.log_level(),
            Who::Stateless(s) => s.log_level,
            Who::Opening => None,
        }
    }

    /// The session, when the client has one.
    pub fn session(&self) -> Option<&Arc<Session>> {
        match &self.who {
            Who::Session(s) => Some(s),
            _ => None,
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Refusal> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|v| Some(v.trim()))
            .map_err(|_| Refusal::UnknownVersionHeader("(not text)".into())),
    }
}

/// The `/mcp/{server}` a caller names must be an enabled, approved server.
pub(super) fn check_route(core: &Core, route: &Route) -> Result<(), Refusal> {
    if let Route::Server(name) = route {
        if core.hub.is_blocked(name) {
            return Err(Refusal::ServerBlocked {
                server: name.clone(),
                reason: crate::hub::blocked_reason(name),
            });
        }
        if core.hub.get(name).is_none() {
            return Err(Refusal::UnknownServer(name.clone()));
        }
    }
    Ok(())
}

/// Binds `message` to its caller. A refusal says whether it is one of the
/// stateless era (whose errors carry HTTP statuses).
pub(super) async fn bind(
    core: &Core,
    caller: Caller,
    headers: &HeaderMap,
    message: &Message,
) -> Result<Arc<Bound>, (Refusal, bool)> {
    check_route(core, &caller.route).map_err(|r| (r, false))?;
    let version_header = header(headers, PROTOCOL_VERSION).map_err(|r| (r, false))?;
    // Only `_meta` and an `initialize`'s version are read here; the rest
    // of the params is skipped, not built (the classify stage reads them).
    let envelope = message
        .params
        .as_ref()
        .map_or_else(Envelope::default, |p| Envelope::read(p.get()));
    let meta_version = envelope
        .meta
        .as_ref()
        .and_then(Value::as_object)
        .and_then(|m| m.get(LIFECYCLE.protocol_version))
        .and_then(Value::as_str);
    let kind = message.kind();
    let is_request = kind == Some(Kind::Request);
    let session_id = header(headers, SESSION_ID).map_err(|r| (r, false))?;
    let stateless = meta_version.is_some()
        || version_header.is_some_and(is_stateless_version)
        || (is_request && message.method() == "server/discover" && session_id.is_none());
    if let Some(version) = version_header
        && meta_version.is_none()
        && !SUPPORTED_VERSIONS.contains(&version)
    {
        return Err((Refusal::UnknownVersionHeader(version.to_owned()), stateless));
    }
    if !stateless {
        if is_request && message.method() == "initialize" {
            let body = envelope.protocol_version.as_ref().and_then(Value::as_str);
            if let (Some(header), Some(body)) = (version_header, body)
                && header != body
            {
                return Err((
                    Refusal::InitializeHeader {
                        header: header.to_owned(),
                        body: body.to_owned(),
                    },
                    false,
                ));
            }
            return Ok(Arc::new(Bound {
                caller,
                who: Who::Opening,
            }));
        }
        let Some(id) = session_id else {
            return Err((Refusal::SessionRequired, false));
        };
        let Some(session) = core.sessions.find(id, &caller) else {
            return Err((Refusal::UnknownSession, false));
        };
        session.touch();
        return Ok(Arc::new(Bound {
            caller,
            who: Who::Session(session),
        }));
    }
    // A stateless request's headers are checked against its params.
    let params: Option<Map<String, Value>> = message
        .params
        .as_ref()
        .and_then(|p| serde_json::from_str(p.get()).ok());
    stateless_binding(
        core,
        caller,
        headers,
        message,
        params.as_ref(),
        version_header,
    )
    .map_err(|r| (r, true))
}

/// What binding reads of a message's params (any JSON, judged where used).
#[derive(Default, serde::Deserialize)]
pub(crate) struct Envelope {
    #[serde(rename = "_meta", default)]
    pub meta: Option<Value>,
    #[serde(rename = "protocolVersion", default)]
    pub protocol_version: Option<Value>,
}

impl Envelope {
    /// Read from params that are an object; anything else has neither.
    pub fn read(text: &str) -> Self {
        if !text.trim_start().starts_with('{') {
            return Self::default();
        }
        serde_json::from_str(text).unwrap_or_else(|_| {
            // Repeated keys: read as a whole object, the last one wins.
            serde_json::from_str::<Map<String, Value>>(text)
                .map(|mut object| Self {
                    meta: object.remove("_meta"),
                    protocol_version: object.remove("protocolVersion"),
                })
                .unwrap_or_default()
        })
    }
}

fn stateless_binding(
    core: &Core,
    caller: Caller,
    headers: &HeaderMap,
    message: &Message,
    params: Option<&Map<String, Value>>,
    version_header: Option<&str>,
) -> Result<Arc<Bound>, Refusal> {
    let method = message.method();
    match message.kind() {
        Some(Kind::Request) => {}
        Some(Kind::Notification) => {
            mcp_headers::check(headers, method, params, None).map_err(Refusal::Header)?;
            let version = version_header.unwrap_or(mcp_headers::STATELESS_VERSION);
            return Ok(Arc::new(Bound {
                caller,
                who: Who::Stateless(Box::new(Stateless {
                    version: version.to_owned(),
                    capabilities: ClientCapabilities::default(),
                    capabilities_json: Value::Object(Map::new()),
                    log_level: None,
                    request: core.sessions.request(version),
                })),
            }));
        }
        _ => {
            return Err(Refusal::InvalidRequest(
                "a stateless endpoint takes no JSON-RPC responses".into(),
            ));
        }
    }
    let meta_value = params
        .and_then(|p| p.get("_meta"))
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let meta: RequestMetaObject = serde_json::from_value(meta_value.clone()).unwrap_or_default();
    let missing = meta.missing_required_keys(&ProtocolVersion::V_2026_07_28);
    if !missing.is_empty() {
        return Err(Refusal::MissingMeta(missing.join(", ")));
    }
    let meta_version = meta
        .protocol_version()
        .map(|v| v.to_string())
        .unwrap_or_default();
    match version_header {
        None => {
            return Err(Refusal::Header(
                "request _meta protocolVersion requires MCP-Protocol-Version header".into(),
            ));
        }
        Some(header) if header != meta_version => {
            return Err(Refusal::Header(format!(
                "MCP-Protocol-Version header ({header}) does not match request _meta protocolVersion ({meta_version})"
            )));
        }
        Some(_) => {}
    }
    let schema = tool_schema(core, &caller.route, method, params);
    mcp_headers::check(headers, method, params, schema.as_deref()).map_err(Refusal::Header)?;
    if !is_stateless_version(&meta_version) || !SUPPORTED_VERSIONS.contains(&meta_version.as_str())
    {
        return Err(Refusal::UnsupportedVersion {
            requested: meta_version,
            supported: SUPPORTED_VERSIONS.iter().map(|v| (*v).to_owned()).collect(),
        });
    }
    let capabilities = meta.client_capabilities().unwrap_or_default();
    let capabilities_json = meta_value
        .get(LIFECYCLE.client_capabilities)
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    Ok(Arc::new(Bound {
        caller,
        who: Who::Stateless(Box::new(Stateless {
            request: core.sessions.request(&meta_version),
            version: meta_version,
            capabilities,
            capabilities_json,
            log_level: meta.log_level(),
        })),
    }))
}

/// The input schema of the tool a `tools/call` names, when the gateway knows
/// it (its `x-mcp-header` properties travel as headers).
fn tool_schema(
    core: &Core,
    route: &Route,
    method: &str,
    params: Option<&Map<String, Value>>,
) -> Option<Arc<Map<String, Value>>> {
    if method != "tools/call" {
        return None;
    }
    let name = params?.get("name")?.as_str()?;
    let (server, tool) = match route {
        Route::Server(server) => (server.as_str(), name),
        Route::All => names::split_qualified(name)?,
    };
    core.hub
        .get(server)?
        .tools()
        .iter()
        .find(|t| t.name == tool)
        .map(|t| t.input_schema.clone())
}
