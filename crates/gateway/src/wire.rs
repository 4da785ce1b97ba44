//! JSON-RPC messages as they travel: an envelope whose parts stay raw JSON.
//!
//! The gateway reads the few fields that say what a message is (id, method)
//! and leaves params, results and errors as the bytes they came as, so a
//! relayed message is re-written only where something about it changes (its
//! id, a name on `/mcp`, a progress token). Typed decoding (rmcp's models)
//! happens where a message's content matters: validating the params of a
//! standard method, merging lists, bridging protocol eras.

use bytes::Bytes;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Value, value::RawValue};

/// A JSON-RPC id, as raw JSON (a string or an integer).
pub(crate) type RawId = Box<RawValue>;

/// A JSON object whose members stay raw: editing one member leaves the
/// others as they came.
pub(crate) type RawObject = std::collections::BTreeMap<String, Box<RawValue>>;

/// Why bytes are not a JSON-RPC message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum WireError {
    /// Not JSON at all.
    #[error("Parse error: the body is not valid JSON")]
    NotJson,
    /// JSON, but not one JSON-RPC 2.0 message.
    #[error("Invalid Request: {0}")]
    NotJsonRpc(&'static str),
}

impl WireError {
    /// The JSON-RPC code of this error.
    pub fn code(&self) -> i64 {
        match self {
            WireError::NotJson => -32700,
            WireError::NotJsonRpc(_) => -32600,
        }
    }
}

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A method with an id: an answer is expected.
    Request,
    /// A method without an id.
    Notification,
    /// A result for an id.
    Response,
    /// An error for an id (or for no id, when the request was unreadable).
    Error,
}

/// One JSON-RPC message.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Message {
    #[serde(default)]
    jsonrpc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<RawId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Box<RawValue>>,
}

/// The `error` member of a JSON-RPC error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RpcError {
    pub code: i64,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with `code` and `message`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// The same error with `data`.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// Raw JSON of `value` (serialization of plain data cannot fail).
pub(crate) fn raw<T: Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value)
        .unwrap_or_else(|_| RawValue::from_string("null".into()).unwrap_or_default())
}

/// Raw JSON of an integer id.
pub(crate) fn int_id(id: u64) -> RawId {
    RawValue::from_string(id.to_string()).unwrap_or_default()
}

/// Whether raw JSON is a valid request id: a string or an integer.
fn valid_id(id: &RawValue) -> bool {
    let text = id.get();
    match text.as_bytes().first() {
        Some(b'"') => true,
        Some(b'-' | b'0'..=b'9') => text.bytes().skip(1).all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

impl Message {
    /// Reads one message; batches are refused (MCP has none since 2025-06-18).
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'[') {
            return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => Err(WireError::NotJsonRpc("batches are not supported")),
                Err(_) => Err(WireError::NotJson),
            };
        }
        let message: Message = match serde_json::from_slice(bytes) {
            Ok(message) => message,
            Err(e) if e.is_data() => {
                return Err(WireError::NotJsonRpc("not a JSON-RPC 2.0 message"));
            }
            Err(_) => {
                return Err(
                    match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                        Ok(_) => WireError::NotJsonRpc("not a JSON-RPC 2.0 message"),
                        Err(_) => WireError::NotJson,
                    },
                );
            }
        };
        if message.jsonrpc != "2.0" {
            return Err(WireError::NotJsonRpc("jsonrpc must be \"2.0\""));
        }
        if message.kind().is_none() {
            return Err(WireError::NotJsonRpc(
                "not a request, notification or response",
            ));
        }
        if let Some(id) = &message.id
            && !valid_id(id)
        {
            return Err(WireError::NotJsonRpc("id must be a string or an integer"));
        }
        Ok(message)
    }

    /// What this message is (None: none of the four).
    pub fn kind(&self) -> Option<Kind> {
        match (&self.method, &self.id, &self.result, &self.error) {
            (Some(_), Some(_), None, None) => Some(Kind::Request),
            (Some(_), None, None, None) => Some(Kind::Notification),
            (None, Some(_), Some(_), None) => Some(Kind::Response),
            (None, _, None, Some(_)) => Some(Kind::Error),
            _ => None,
        }
    }

    /// A request.
    pub fn request(id: RawId, method: &str, params: Option<Box<RawValue>>) -> Self {
        Self {
            jsonrpc: "2.0".into(),
            id: Some(id),
            method: Some(method.to_owned()),
            params,
            ..Self::default()
        }
    }

    /// A notification.
    pub fn notification(method: &str, params: Option<Box<RawValue>>) -> Self {
        Self {
            jsonrpc: "2.0".into(),
            method: Some(method.to_owned()),
            params,
            ..Self::default()
        }
    }

    /// A result answering `id`.
    pub fn response(id: RawId, result: Box<RawValue>) -> Self {
        Self {
            jsonrpc: "2.0".into(),
            id: Some(id),
            result: Some(result),
            ..Self::default()
        }
    }

    /// An error answering `id` (None when the request could not be read).
    pub fn error(id: Option<RawId>, error: &RpcError) -> Self {
        Self {
            jsonrpc: "2.0".into(),
            id,
            error: Some(raw(error)),
            ..Self::default()
        }
    }

    /// The message as JSON bytes.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    /// The id as its JSON text (a key that tells ids apart as sent).
    pub fn id_text(&self) -> Option<&str> {
        self.id.as_deref().map(RawValue::get)
    }

    /// The method, or "".
    pub fn method(&self) -> &str {
        self.method.as_deref().unwrap_or_default()
    }

    /// The params read as `T` (absent params read as `{}`).
    pub fn params_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match &self.params {
            Some(params) => serde_json::from_str(params.get()),
            None => serde_json::from_str("{}"),
        }
    }

    /// The params' top-level members, each still raw (an absent `params`
    /// is empty; None when the params are not an object).
    pub fn params_object(&self) -> Option<RawObject> {
        match &self.params {
            Some(params) => serde_json::from_str(params.get()).ok(),
            None => Some(RawObject::new()),
        }
    }

    /// The result read as `T`.
    pub fn result_as<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(self.result.as_ref()?.get()).ok()
    }

    /// The error member, when this is an error.
    pub fn rpc_error(&self) -> Option<RpcError> {
        let error = self.error.as_ref()?;
        Some(
            serde_json::from_str(error.get())
                .unwrap_or_else(|_| RpcError::new(-32603, "malformed error from peer")),
        )
    }

    /// The params (or result) as a JSON value, for the audit log.
    pub fn params_value(&self) -> Option<Value> {
        serde_json::from_str(self.params.as_ref()?.get()).ok()
    }

    /// The result as a JSON value, for the audit log.
    pub fn result_value(&self) -> Option<Value> {
        serde_json::from_str(self.result.as_ref()?.get()).ok()
    }
}

/// A server-sent event carrying one message.
pub(crate) fn sse_event(message: &[u8], id: Option<&str>) -> Bytes {
    let mut event = Vec::with_capacity(message.len() + 40);
    event.extend_from_slice(b"event: message\n");
    if let Some(id) = id {
        event.extend_from_slice(b"id: ");
        event.extend_from_slice(id.as_bytes());
        event.push(b'\n');
    }
    event.extend_from_slice(b"data: ");
    event.extend_from_slice(message);
    event.extend_from_slice(b"\n\n");
    Bytes::from(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_told_apart() {
        let kind = |text: &str| Message::parse(text.as_bytes()).map(|m| m.kind());
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Ok(Some(Kind::Request))
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Ok(Some(Kind::Notification))
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#),
            Ok(Some(Kind::Response))
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"x"}}"#),
            Ok(Some(Kind::Error))
        );
        for (bad, error) in [
            ("{", WireError::NotJson),
            ("[1,", WireError::NotJson),
            (
                r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
                WireError::NotJsonRpc("batches are not supported"),
            ),
            (
                r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
                WireError::NotJsonRpc("jsonrpc must be \"2.0\""),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
                WireError::NotJsonRpc("id must be a string or an integer"),
            ),
            (
                r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
                WireError::NotJsonRpc("id must be a string or an integer"),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1}"#,
                WireError::NotJsonRpc("not a request, notification or response"),
            ),
            ("42", WireError::NotJsonRpc("not a JSON-RPC 2.0 message")),
            (
                r#"{"jsonrpc":"2.0","method":7}"#,
                WireError::NotJsonRpc("not a JSON-RPC 2.0 message"),
            ),
        ] {
            assert_eq!(Message::parse(bad.as_bytes()).err(), Some(error), "{bad}");
        }
    }

    #[test]
    fn parts_stay_as_they_came() {
        let text = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"b":1,"a":2}}}"#;
        let mut message = Message::parse(text.as_bytes()).unwrap();
        assert_eq!(message.id_text(), Some("7"));
        message.id = Some(int_id(42));
        assert_eq!(
            std::str::from_utf8(&message.to_bytes()).unwrap(),
            r#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"echo","arguments":{"b":1,"a":2}}}"#
        );
    }
}
