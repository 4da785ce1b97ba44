//! `switchboard connect`: a stdio MCP server that relays every message to the
//! running gateway over streamable HTTP, unchanged, for clients that can only
//! launch commands.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt as _;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::Value;
use switchboard_gateway::RuntimeInfo;
use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader},
    sync::mpsc,
};

use crate::error::CliError;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

/// Session state learned from the gateway's answers.
#[derive(Default)]
struct Session {
    id: Option<String>,
    protocol_version: Option<String>,
    initialize_id: Option<Value>,
    listening: bool,
}

struct Bridge {
    http: reqwest::Client,
    url: String,
    token: String,
    session: Mutex<Session>,
    out: mpsc::Sender<String>,
    /// Set when the gateway refuses the token: nothing else will work.
    refused: tokio_util::sync::CancellationToken,
}

/// How long in-flight requests may finish after the client closes stdin.
const DRAIN: Duration = Duration::from_secs(10);

pub async fn run(data_dir: &Path, server: Option<&str>, token: &str) -> Result<(), CliError> {
    let info =
        RuntimeInfo::read(data_dir).ok_or_else(|| CliError::NotRunning(data_dir.to_owned()))?;
    let url = match server {
        Some(name) => format!("{}/{name}", info.mcp_url),
        None => info.mcp_url.clone(),
    };
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .map_err(|e| CliError::Remote(e.to_string()))?;
    let (out, mut out_rx) = mpsc::channel::<String>(256);
    let bridge = Arc::new(Bridge {
        http,
        url,
        token: token.to_owned(),
        session: Mutex::new(Session::default()),
        out,
        refused: tokio_util::sync::CancellationToken::new(),
    });
    // One writer keeps messages whole on stdout.
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = out_rx.recv().await {
            if stdout.write_all(line.as_bytes()).await.is_err()
                || stdout.write_all(b"\n").await.is_err()
                || stdout.flush().await.is_err()
            {
                break;
            }
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut relays = tokio::task::JoinSet::new();
    loop {
        let line = tokio::select! {
            line = lines.next_line() => line?,
            () = bridge.refused.cancelled() => break,
        };
        let Some(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let bridge = bridge.clone();
        relays.spawn(async move { bridge.relay(line).await });
    }
    // Answers to requests already sent still belong to the client.
    let _ =
        tokio::time::timeout(DRAIN, async { while relays.join_next().await.is_some() {} }).await;
    bridge.end_session().await;
    let refused = bridge.refused.is_cancelled();
    drop(bridge);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    if refused {
        return Err(CliError::Remote(
            "the gateway refused the client token (check SWITCHBOARD_TOKEN)".into(),
        ));
    }
    Ok(())
}

/// The HTTP headers a 2026-07-28 request carries besides its body (SEP-2243):
/// its version (from `_meta`), its method, and the name it is about. Older
/// requests need none of them.
fn standard_headers(message: &Value, headers: &mut HeaderMap) {
    let Some(version) = message
        .pointer("/params/_meta/io.modelcontextprotocol~1protocolVersion")
        .and_then(Value::as_str)
    else {
        return;
    };
    if let Ok(v) = HeaderValue::from_str(version) {
        headers.insert(VERSION_HEADER, v);
    }
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        return;
    };
    if let Ok(v) = HeaderValue::from_str(method) {
        headers.insert("mcp-method", v);
    }
    let key = match method {
        "tools/call" | "prompts/get" => "name",
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => "uri",
        "tasks/get" | "tasks/update" | "tasks/cancel" => "taskId",
        _ => return,
    };
    if let Some(name) = message
        .get("params")
        .and_then(|p| p.get(key))
        .and_then(Value::as_str)
        && let Ok(v) = HeaderValue::from_str(&header_text(name))
    {
        headers.insert("mcp-name", v);
    }
}

/// A header value: printable ASCII as it is, anything else Base64-wrapped
/// (`=?base64?…?=`), as SEP-2243 asks.
fn header_text(value: &str) -> String {
    let plain = !value.is_empty()
        && value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && value.trim() == value
        && !value.starts_with("=?");
    if plain {
        value.to_owned()
    } else {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        format!("=?base64?{encoded}?=")
    }
}

impl Bridge {
    fn lock(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", self.token)) {
            headers.insert(reqwest::header::AUTHORIZATION, v);
        }
        let session = self.lock();
        if let Some(id) = session
            .id
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(SESSION_HEADER, id);
        }
        if let Some(v) = session
            .protocol_version
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(VERSION_HEADER, v);
        }
        headers
    }

    async fn emit(&self, message: String) {
        self.learn(&message);
        let _ = self.out.send(message).await;
    }

    /// Remembers the protocol version from the answer to `initialize`.
    fn learn(&self, message: &str) {
        let mut session = self.lock();
        let Some(init_id) = session.initialize_id.clone() else {
            return;
        };
        if let Ok(value) = serde_json::from_str::<Value>(message)
            && value.get("id") == Some(&init_id)
            && let Some(version) = value
                .pointer("/result/protocolVersion")
                .and_then(Value::as_str)
        {
            session.protocol_version = Some(version.to_owned());
            session.initialize_id = None;
        }
    }

    async fn relay(self: Arc<Self>, line: String) {
        let parsed: Option<Value> = serde_json::from_str(&line).ok();
        let id = parsed.as_ref().and_then(|v| v.get("id")).cloned();
        let method = parsed
            .as_ref()
            .and_then(|v| v.get("method"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if method.as_deref() == Some("initialize") {
            self.lock().initialize_id = id.clone();
        }
        let mut headers = self.headers();
        if let Some(message) = &parsed {
            standard_headers(message, &mut headers);
        }
        let response = self
            .http
            .post(&self.url)
            .headers(headers)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream")
            .body(line)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                self.fail(id, &format!("cannot reach the gateway: {e}"))
                    .await;
                return;
            }
        };
        if let Some(session) = response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
        {
            self.lock().id = Some(session.to_owned());
        }
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            self.refused.cancel();
        }
        let is_sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_sse {
            self.pump_events(response).await;
        } else {
            let body = response.text().await.unwrap_or_default();
            if serde_json::from_str::<Value>(&body).is_ok_and(|v| {
                v.get("jsonrpc").is_some()
                    && (v.get("id").is_some_and(|i| !i.is_null()) || id.is_none())
            }) {
                self.emit(body).await;
            } else if !status.is_success() && id.is_some() {
                let detail = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|v| {
                        v.pointer("/error/message")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .unwrap_or_else(|| body.trim().chars().take(200).collect());
                self.fail(id, &format!("gateway answered {status}: {detail}"))
                    .await;
            }
        }
        if method.as_deref() == Some("notifications/initialized") {
            self.clone().listen();
        }
    }

    /// Answers a request the gateway could not take with a JSON-RPC error.
    async fn fail(&self, id: Option<Value>, message: &str) {
        eprintln!("switchboard connect: {message}");
        if let Some(id) = id {
            let error = serde_json::json!({
                "jsonrpc": "2.0", "id": id,
                "error": { "code": -32603, "message": message },
            });
            self.emit(error.to_string()).await;
        }
    }

    async fn pump_events(&self, response: reqwest::Response) {
        let mut events = sse_stream::SseStream::from_bytes_stream(response.bytes_stream());
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => {
                    if let Some(data) = event.data.filter(|d| !d.trim().is_empty()) {
                        self.emit(data).await;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "event stream ended");
                    break;
                }
            }
        }
    }

    /// Opens the stream of messages the gateway sends on its own (list
    /// changes, resource updates, log messages), reopening it if it drops.
    fn listen(self: Arc<Self>) {
        {
            let mut session = self.lock();
            if session.listening || session.id.is_none() {
                return;
            }
            session.listening = true;
        }
        tokio::spawn(async move {
            loop {
                let response = self
                    .http
                    .get(&self.url)
                    .headers(self.headers())
                    .header(ACCEPT, "text/event-stream")
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => self.pump_events(r).await,
                    // 405: the server offers no such stream; 404: session gone.
                    Ok(r) if r.status() == 405 || r.status() == 404 => return,
                    _ => {}
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    async fn end_session(&self) {
        if self.lock().id.is_none() {
            return;
        }
        let _ = self
            .http
            .delete(&self.url)
            .headers(self.headers())
            .send()
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stateless_requests_get_their_standard_headers() {
        let message = serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {
                "name": "échō",
                "_meta": { "io.modelcontextprotocol/protocolVersion": "2026-07-28" },
            },
        });
        let mut headers = HeaderMap::new();
        standard_headers(&message, &mut headers);
        assert_eq!(headers[VERSION_HEADER], "2026-07-28");
        assert_eq!(headers["mcp-method"], "tools/call");
        assert_eq!(headers["mcp-name"], "=?base64?w6ljaMWN?=");
    }

    #[test]
    fn session_requests_get_none() {
        let message = serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": { "name": "echo" },
        });
        let mut headers = HeaderMap::new();
        standard_headers(&message, &mut headers);
        assert!(headers.is_empty());
        assert_eq!(header_text("echo"), "echo");
        assert_eq!(header_text(" padded"), "=?base64?IHBhZGRlZA==?=");
    }
}
