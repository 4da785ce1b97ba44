//! What the gateway reports, and what the log stores.

use serde::{Deserialize, Serialize};

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From an MCP client to a server (through the gateway).
    ClientToServer,
    /// From a server to a client.
    ServerToClient,
}

impl Direction {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ClientToServer => "client_to_server",
            Direction::ServerToClient => "server_to_client",
        }
    }
}

/// How a message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Answered with a result (or a notification delivered).
    Ok,
    /// Answered with an error.
    Error,
    /// Cancelled before an answer.
    Cancelled,
    /// Refused by policy.
    Denied,
}

impl Status {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Cancelled => "cancelled",
            Status::Denied => "denied",
        }
    }
}

/// The policy decision for a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "answer")]
pub enum Decision {
    /// Let through without asking.
    Allowed,
    /// Refused.
    Denied,
    /// The user was asked; the answer given.
    Asked(String),
    /// Refused by a rate limit.
    RateLimited,
}

impl Decision {
    /// The stored text: `allowed`, `denied`, `asked:<answer>`, `rate_limited`.
    pub fn to_text(&self) -> String {
        match self {
            Decision::Allowed => "allowed".into(),
            Decision::Denied => "denied".into(),
            Decision::Asked(answer) => format!("asked:{answer}"),
            Decision::RateLimited => "rate_limited".into(),
        }
    }
}

/// One message (or request/response pair) as the gateway reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// When it started, unix ms.
    pub ts: i64,
    /// The client's name, when known.
    pub client: Option<String>,
    /// The MCP session id, when known.
    pub session: Option<String>,
    /// The upstream server, when one is involved.
    pub server: Option<String>,
    /// Which way.
    pub direction: Direction,
    /// JSON-RPC method.
    pub method: String,
    /// Tool, prompt or resource the message is about.
    pub name: Option<String>,
    /// Request params (or notification params).
    pub request: Option<serde_json::Value>,
    /// Result.
    pub response: Option<serde_json::Value>,
    /// Outcome.
    pub status: Status,
    /// JSON-RPC error code.
    pub error_code: Option<i64>,
    /// Error message.
    pub error_message: Option<String>,
    /// Time to the answer, microseconds.
    pub latency_us: Option<i64>,
    /// Policy decision.
    pub decision: Decision,
    /// The rule that made the decision.
    pub rule: Option<String>,
    /// MCP protocol version of the session or request (e.g. `2026-07-28`).
    pub protocol_version: Option<String>,
}

impl AuditRecord {
    /// A record of `method` going `direction`, now, with everything else empty.
    pub fn new(direction: Direction, method: impl Into<String>) -> Self {
        Self {
            ts: now_ms(),
            client: None,
            session: None,
            server: None,
            direction,
            method: method.into(),
            name: None,
            request: None,
            response: None,
            status: Status::Ok,
            error_code: None,
            error_message: None,
            latency_us: None,
            decision: Decision::Allowed,
            protocol_version: None,
            rule: None,
        }
    }

    /// Sets the latency: the time since `started`.
    pub fn took(&mut self, started: std::time::Instant) {
        self.latency_us = Some(i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX));
    }

    /// Marks the record as failed with a JSON-RPC error.
    pub fn failed(&mut self, code: Option<i64>, message: impl Into<String>) {
        self.status = Status::Error;
        self.error_code = code;
        self.error_message = Some(message.into());
    }
}

/// A stored record: redacted, size-capped, chained.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AuditEvent {
    /// Sequence number.
    pub id: i64,
    /// Start time, unix ms.
    pub ts: i64,
    /// Client name.
    pub client: Option<String>,
    /// MCP session id.
    pub session: Option<String>,
    /// Upstream server.
    pub server: Option<String>,
    /// `client_to_server` or `server_to_client`.
    pub direction: String,
    /// JSON-RPC method.
    pub method: String,
    /// Tool, prompt or resource name.
    pub name: Option<String>,
    /// Request params as stored JSON (redacted; capped).
    pub request: Option<String>,
    /// Size of the request params before capping, bytes.
    pub request_size: i64,
    /// Result as stored JSON (redacted; capped).
    pub response: Option<String>,
    /// Size of the result before capping, bytes.
    pub response_size: i64,
    /// `ok`, `error`, `cancelled`, `denied`.
    pub status: String,
    /// JSON-RPC error code.
    pub error_code: Option<i64>,
    /// Error message (redacted).
    pub error_message: Option<String>,
    /// Microseconds to the answer.
    pub latency_us: Option<i64>,
    /// Policy decision text.
    pub decision: String,
    /// Rule behind the decision.
    pub rule: Option<String>,
    /// MCP protocol version of the session or request.
    pub protocol_version: Option<String>,
    /// Hash of the previous record.
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
}

/// Now, unix ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
