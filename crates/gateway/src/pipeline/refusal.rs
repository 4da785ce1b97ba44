//! Why a message was not relayed, and how each protocol says so: one
//! mapping from the pipeline's errors to JSON-RPC errors and HTTP statuses.

use http::StatusCode;
use serde_json::json;
use switchboard_audit::Decision;

use crate::{
    session::{Held, OverCap},
    upstream::{Unavailable, UpstreamError},
    wire::{RpcError, WireError},
};

/// JSON-RPC error code of a call refused by policy.
pub const POLICY_DENIED: i64 = -32010;
/// JSON-RPC error code of a call refused by a rate limit.
pub const RATE_LIMITED: i64 = -32029;
/// JSON-RPC error code of a request the client cancelled.
pub const CANCELLED: i64 = -32800;
/// JSON-RPC error code of a request that names no known session.
pub const UNKNOWN_SESSION: i64 = -32001;
/// 2026-07-28: headers that disagree with the message.
pub const HEADER_MISMATCH: i64 = -32020;
/// 2026-07-28: the request needs a capability the client did not declare.
pub const MISSING_CAPABILITY: i64 = -32021;
/// 2026-07-28: a protocol version the endpoint does not speak.
pub const UNSUPPORTED_VERSION: i64 = -32022;

/// Why the pipeline answered a message itself instead of relaying it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    /// The body is not one JSON-RPC message.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The client does not accept both JSON and SSE (or SSE for a GET).
    #[error("Not Acceptable: {0}")]
    NotAcceptable(&'static str),
    /// The body is not JSON.
    #[error("Unsupported Media Type: Content-Type must be application/json")]
    UnsupportedMediaType,
    /// HTTP method the endpoint does not serve.
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    /// A session-era message without a session.
    #[error("Bad Request: Mcp-Session-Id is required (send initialize first)")]
    SessionRequired,
    /// A session id that is unknown, ended, or another caller's.
    #[error("Not Found: unknown session")]
    UnknownSession,
    /// `/mcp/{server}` names no enabled server.
    #[error("no enabled server named \"{0}\"")]
    UnknownServer(String),
    /// A `SERVER__NAME` (or `SERVER+URI`) on `/mcp` whose server is not
    /// enabled.
    #[error("\"{name}\": no enabled server named \"{server}\"")]
    UnknownQualifier { name: String, server: String },
    /// `/mcp/{server}` names a server whose command awaits approval.
    #[error("server \"{server}\" is not running: {reason}")]
    ServerBlocked { server: String, reason: String },
    /// An `MCP-Protocol-Version` header the endpoint does not know.
    #[error("Bad Request: Unsupported MCP-Protocol-Version: {0}")]
    UnknownVersionHeader(String),
    /// An `initialize` whose version header disagrees with its params.
    #[error(
        "Invalid Request: MCP-Protocol-Version header ({header}) does not match initialize params.protocolVersion ({body})"
    )]
    InitializeHeader { header: String, body: String },
    /// SEP-2243 headers that disagree with the message.
    #[error("{0}")]
    Header(String),
    /// 2026-07-28 request `_meta` without its required keys.
    #[error("Invalid params: request _meta is missing or has malformed required fields: {0}")]
    MissingMeta(String),
    /// A protocol version the endpoint does not speak.
    #[error("Unsupported protocol version")]
    UnsupportedVersion {
        requested: String,
        supported: Vec<String>,
    },
    /// A JSON-RPC response where only requests are taken.
    #[error("Invalid Request: {0}")]
    InvalidRequest(String),
    /// A standard method whose params do not parse.
    #[error("Invalid params for {method}: {detail}")]
    InvalidParams { method: String, detail: String },
    /// A method the endpoint does not serve.
    #[error("method not found: {0}")]
    MethodNotFound(String),
    /// A name on `/mcp` that names no server (or a hidden one).
    #[error("unknown {what} \"{name}\": names on this endpoint are {form}")]
    Unqualified {
        what: &'static str,
        name: String,
        form: &'static str,
    },
    /// The server does not list this tool.
    #[error("unknown tool \"{0}\"")]
    UnknownTool(String),
    /// The server's tool list is not in yet, so the call cannot be decided.
    #[error("tool \"{tool}\" cannot be checked yet: server \"{server}\" has not listed its tools")]
    Undecidable { tool: String, server: String },
    /// A task that does not exist for this client.
    #[error("unknown task \"{0}\"")]
    UnknownTask(String),
    /// Refused by policy (a profile, a permission, a changed definition, or
    /// the user's answer).
    #[error("{what} was denied by policy: {rule}")]
    Denied {
        what: String,
        rule: String,
        decision: Decision,
    },
    /// Refused by a rate limit.
    #[error("rate limited: {why}; retry after {wait:.1} s")]
    RateLimited { why: String, wait: f64 },
    /// The client holds as many of something as one client may.
    #[error(transparent)]
    OverCap(#[from] OverCap),
    /// The approval could not be queued.
    #[error("cannot queue the approval: {0}")]
    Approval(String),
    /// The server could not take or answer the request.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The client cancelled the request.
    #[error("request cancelled by the client")]
    Cancelled,
    /// A requestState the gateway issued that is unknown or expired.
    #[error("requestState is unknown or expired: send the request again without it")]
    UnknownState,
    /// The server asked for input more often than the gateway follows.
    #[error("server \"{0}\" asked for input more than {1} times")]
    TooManyRounds(String, usize),
    /// The answer could not be recorded (strict audit mode withholds it).
    #[error("unrecorded answer withheld: {0}")]
    NotRecorded(String),
}

impl From<Unavailable> for Refusal {
    fn from(e: Unavailable) -> Self {
        Refusal::Upstream(UpstreamError::Unavailable(e))
    }
}

impl Refusal {
    /// The JSON-RPC error a client gets.
    pub fn error(&self) -> RpcError {
        let message = self.to_string();
        match self {
            Refusal::Wire(e) => RpcError::new(e.code(), message),
            Refusal::NotAcceptable(_)
            | Refusal::UnsupportedMediaType
            | Refusal::MethodNotAllowed { .. }
            | Refusal::SessionRequired
            | Refusal::UnknownVersionHeader(_)
            | Refusal::InitializeHeader { .. }
            | Refusal::InvalidRequest(_) => RpcError::new(-32600, message),
            Refusal::UnknownSession => RpcError::new(UNKNOWN_SESSION, message),
            Refusal::UnknownServer(_) => RpcError::new(-32002, message),
            Refusal::ServerBlocked { .. } => RpcError::new(POLICY_DENIED, message),
            Refusal::Header(_) => RpcError::new(HEADER_MISMATCH, message),
            Refusal::MissingMeta(_)
            | Refusal::InvalidParams { .. }
            | Refusal::Unqualified { .. }
            | Refusal::UnknownQualifier { .. }
            | Refusal::UnknownTool(_)
            | Refusal::UnknownTask(_)
            | Refusal::UnknownState => RpcError::new(-32602, message),
            Refusal::UnsupportedVersion {
                requested,
                supported,
            } => RpcError::new(UNSUPPORTED_VERSION, message)
                .with_data(json!({ "requested": requested, "supported": supported })),
            Refusal::MethodNotFound(_) => RpcError::new(-32601, message),
            Refusal::Denied { rule, .. } => {
                RpcError::new(POLICY_DENIED, message).with_data(json!({ "rule": rule }))
            }
            Refusal::OverCap(over) => {
                RpcError::new(RATE_LIMITED, message).with_data(json!({ "limit": over.limit }))
            }
            Refusal::RateLimited { wait, .. } => RpcError::new(RATE_LIMITED, message)
                .with_data(json!({ "retryAfterSeconds": (wait * 10.0).ceil() / 10.0 })),
            Refusal::Undecidable { server, .. } => {
                RpcError::new(-32603, message).with_data(json!({ "server": server }))
            }
            Refusal::Upstream(e) => upstream_error(e),
            Refusal::Cancelled => RpcError::new(CANCELLED, message),
            Refusal::Approval(_) | Refusal::TooManyRounds(..) | Refusal::NotRecorded(_) => {
                RpcError::new(-32603, message)
            }
        }
    }

    /// The HTTP status of the response that carries this refusal.
    pub fn status(&self, stateless: bool) -> StatusCode {
        match self {
            Refusal::Wire(_)
            | Refusal::SessionRequired
            | Refusal::UnknownVersionHeader(_)
            | Refusal::InitializeHeader { .. } => StatusCode::BAD_REQUEST,
            Refusal::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Refusal::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::UnknownSession | Refusal::UnknownServer(_) => StatusCode::NOT_FOUND,
            Refusal::ServerBlocked { .. } => StatusCode::FORBIDDEN,
            // A stream refused is refused before it opens.
            Refusal::OverCap(over) if over.held == Held::Streams => StatusCode::TOO_MANY_REQUESTS,
            Refusal::MissingMeta(_) if stateless => StatusCode::BAD_REQUEST,
            Refusal::InvalidRequest(_) if stateless => StatusCode::BAD_REQUEST,
            _ => status_of(&self.error(), stateless),
        }
    }

    /// The policy decision behind a refusal, for the audit record.
    pub fn decision(&self) -> Option<(Decision, &str)> {
        match self {
            Refusal::Denied { rule, decision, .. } => Some((decision.clone(), rule)),
            Refusal::RateLimited { why, .. } => Some((Decision::RateLimited, why)),
            Refusal::OverCap(_) => Some((Decision::RateLimited, "per-client ceiling")),
            Refusal::ServerBlocked { reason, .. } => Some((Decision::Denied, reason)),
            _ => None,
        }
    }
}

/// The status of a response carrying a JSON-RPC error: in-band (200) on a
/// session; for a 2026-07-28 client the statuses that era gives its errors.
pub(crate) fn status_of(error: &RpcError, stateless: bool) -> StatusCode {
    if !stateless {
        return StatusCode::OK;
    }
    match error.code {
        HEADER_MISMATCH | MISSING_CAPABILITY | UNSUPPORTED_VERSION => StatusCode::BAD_REQUEST,
        -32601 => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

/// The error a client gets when the server could not answer.
fn upstream_error(error: &UpstreamError) -> RpcError {
    let message = error.to_string();
    match error {
        UpstreamError::NeedsSignIn { server } | UpstreamError::NeedsScope { server, .. } => {
            RpcError::new(-32603, message)
                .with_data(json!({ "server": server, "action": "sign_in" }))
        }
        // Said the same whether the sign-in was found lost before the call
        // or by it.
        UpstreamError::Unavailable(u) if u.needs_sign_in => {
            let needs = UpstreamError::NeedsSignIn {
                server: u.name.clone(),
            };
            RpcError::new(-32603, needs.to_string())
                .with_data(json!({ "server": u.name, "action": "sign_in" }))
        }
        _ => RpcError::new(-32603, message),
    }
}
