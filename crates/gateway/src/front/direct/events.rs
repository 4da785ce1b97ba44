//! The messages of a server's answer on the direct path, and how they go back.

use std::time::Duration;

use axum::{
    body::Body,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use futures::StreamExt as _;
use serde_json::Value;

use super::Context;

/// How often a call's stream is resumed after the server ended it early.
const MAX_RESUMES: u32 = 5;
/// Longest wait the server's `retry` field may ask for before resuming.
const MAX_RETRY: Duration = Duration::from_secs(5);

/// The messages of a server's SSE answer, resumed (SEP-1699) when the
/// server ends the stream before the answer.
pub(super) struct Events {
    stream: futures::stream::BoxStream<'static, Result<sse_stream::Sse, sse_stream::Error>>,
    last_id: Option<String>,
    retry: Option<u64>,
    resumes: u32,
}

impl Events {
    pub fn new(
        stream: futures::stream::BoxStream<'static, Result<sse_stream::Sse, sse_stream::Error>>,
    ) -> Self {
        Self {
            stream,
            last_id: None,
            retry: None,
            resumes: 0,
        }
    }

    pub async fn next(&mut self, context: &Context) -> Option<Value> {
        loop {
            match self.stream.next().await {
                Some(Ok(event)) => {
                    if let Some(id) = event.id {
                        self.last_id = Some(id);
                    }
                    if let Some(retry) = event.retry {
                        self.retry = Some(retry);
                    }
                    if let Some(message) = parse_event(event.data) {
                        return Some(message);
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!(server = context.up.name(), error = %e, "a call's stream broke");
                    if !self.resume(context).await {
                        return None;
                    }
                }
                None => {
                    if !self.resume(context).await {
                        return None;
                    }
                }
            }
        }
    }

    async fn resume(&mut self, context: &Context) -> bool {
        let Some(last_id) = self.last_id.clone() else {
            return false;
        };
        if self.resumes >= MAX_RESUMES {
            return false;
        }
        self.resumes += 1;
        let wait = Duration::from_millis(self.retry.unwrap_or(0)).min(MAX_RETRY);
        tokio::time::sleep(wait).await;
        let Some(request) = context.route.resume(&context.version, &last_id).await else {
            return false;
        };
        match request.send().await {
            Ok(response) if response.status().is_success() => {
                self.stream =
                    sse_stream::SseStream::from_byte_stream(response.bytes_stream()).boxed();
                true
            }
            _ => false,
        }
    }
}

/// Whether `message` answers the request `id` (a result or an error).
pub(super) fn is_answer(message: &Value, id: &Value) -> bool {
    message.get("id") == Some(id)
        && (message.get("result").is_some() || message.get("error").is_some())
}

pub(super) fn parse_event(data: Option<String>) -> Option<Value> {
    let data = data?;
    if data.trim().is_empty() {
        return None;
    }
    serde_json::from_str(&data).ok()
}

pub(super) fn sse(message: &Value) -> Bytes {
    Bytes::from(format!("event: message\ndata: {message}\n\n"))
}

/// A JSON-RPC error answering `id`.
pub(super) fn error_message(id: &Value, code: i64, message: &str) -> Value {
    serde_json::json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

/// An SSE event carrying a message already serialized.
pub(super) fn sse_bytes(message: &[u8]) -> Bytes {
    let mut event = Vec::with_capacity(message.len() + 24);
    event.extend_from_slice(b"event: message\ndata: ");
    event.extend_from_slice(message);
    event.extend_from_slice(b"\n\n");
    Bytes::from(event)
}

pub(super) fn json_response(message: &Value) -> Response {
    json_bytes_response(Bytes::from(serde_json::to_vec(message).unwrap_or_default()))
}

pub(super) fn json_bytes_response(body: Bytes) -> Response {
    let mut response = Body::from(body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn answers_are_told_from_other_messages() {
        let reply = |m: Value| is_answer(&m, &json!("switchboard-3"));
        assert!(reply(
            json!({"jsonrpc":"2.0","id":"switchboard-3","result":{}})
        ));
        assert!(reply(
            json!({"jsonrpc":"2.0","id":"switchboard-3","error":{"code":1,"message":""}})
        ));
        // a server request reusing the id is not the answer
        assert!(!reply(
            json!({"jsonrpc":"2.0","id":"switchboard-3","method":"ping"})
        ));
        assert!(!reply(json!({"jsonrpc":"2.0","id":3,"result":{}})));
        assert_eq!(parse_event(Some(" ".into())), None);
        assert_eq!(parse_event(None), None);
        assert_eq!(parse_event(Some("{\"a\":1}".into())), Some(json!({"a":1})));
    }
}
