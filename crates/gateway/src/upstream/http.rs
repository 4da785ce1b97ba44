//! Streamable HTTP to a server: a POST per message, each request answered
//! with JSON or on an SSE stream of its own, on the gateway's session with
//! the server (2025-11-25 and older) or statelessly (2026-07-28, with the
//! SEP-2243 headers). Requests carry the server's own OAuth token, never a
//! client's; a rejected token is refreshed once, then the server is marked
//! as needing sign-in.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{
    HeaderMap, HeaderName, HeaderValue, StatusCode,
    header::{ACCEPT, CONTENT_TYPE},
};
use serde_json::{Map, Value};
use switchboard_auth::oauth::ServerAuth;

use super::{UpstreamError, conn::Era, streams::Stream};
use crate::{
    mcp_headers::{self, LIFECYCLE, PROTOCOL_VERSION, SESSION_ID},
    wire::{Message, RpcError},
};

/// Largest JSON answer read.
const MAX_JSON: usize = 16 * 1024 * 1024;
/// Largest error body read for a message.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Redirects followed for one request, at most.
const MAX_REDIRECTS: usize = 5;

/// A server redirected the gateway to another origin.
#[derive(Debug, thiserror::Error)]
#[error(
    "refused to follow a redirect from {from} to {to}: another origin would get the server's \
     headers and token (if the server moved, set its new URL)"
)]
struct CrossOrigin {
    from: String,
    to: String,
}

/// The gateway's HTTP client for servers. A redirect is followed only within
/// the server's own origin: its configured headers and its OAuth token never
/// reach another host, scheme or port.
pub(crate) fn client() -> Result<reqwest::Client, reqwest::Error> {
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        let from = attempt.previous().first().map(url::Url::origin);
        match from {
            Some(from) if from != attempt.url().origin() => {
                let refused = CrossOrigin {
                    from: from.ascii_serialization(),
                    to: attempt.url().origin().ascii_serialization(),
                };
                attempt.error(refused)
            }
            _ if attempt.previous().len() > MAX_REDIRECTS => attempt.error("too many redirects"),
            _ => attempt.follow(),
        }
    });
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .redirect(redirects)
        .build()
}

/// Parses configured headers; a bad name or value is a configuration error.
pub(crate) fn header_map(headers: &BTreeMap<String, String>) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name: {name:?}"))?;
        let header_value =
            HeaderValue::from_str(value).map_err(|_| format!("invalid value for header {name}"))?;
        map.insert(header_name, header_value);
    }
    Ok(map)
}

#[derive(Debug, Default)]
struct State {
    session: Option<Arc<str>>,
    version: Option<String>,
    stateless: bool,
}

/// What a POST got back.
pub(crate) enum Posted {
    /// 202/204: nothing to read.
    Accepted,
    /// One message as the body.
    Answer(Message),
    /// An SSE stream.
    Stream(Stream),
}

/// The gateway's link to one streamable HTTP server.
pub(crate) struct HttpLink {
    server: Arc<str>,
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    /// The server's sign-in, unless its `Authorization` header is configured.
    auth: Option<Arc<ServerAuth>>,
    state: Mutex<State>,
    pub(super) standalone: AtomicBool,
}

impl HttpLink {
    pub fn new(
        server: &str,
        client: reqwest::Client,
        url: &str,
        headers: HeaderMap,
        auth: Option<Arc<ServerAuth>>,
    ) -> Result<Self, String> {
        url::Url::parse(url).map_err(|e| format!("invalid URL {url}: {e}"))?;
        Ok(Self {
            server: server.into(),
            client,
            url: url.to_owned(),
            headers,
            auth,
            state: Mutex::default(),
            standalone: AtomicBool::new(false),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_era(&self, era: &Era) {
        let mut state = self.state();
        state.version = Some(era.version.clone());
        state.stateless = era.stateless;
    }

    /// The session the server gave the gateway, once it has one.
    pub fn session(&self) -> Option<Arc<str>> {
        self.state().session.clone()
    }

    /// Forgets the session (it expired; a new `initialize` opens another).
    pub fn forget_session(&self) {
        self.state().session = None;
    }

    /// Whether the session's GET stream is open (answers may come on it).
    pub fn has_standalone_stream(&self) -> bool {
        self.standalone.load(Ordering::Acquire)
    }

    fn failure(&self, e: &reqwest::Error) -> UpstreamError {
        UpstreamError::Send {
            server: self.server.to_string(),
            detail: error_chain(e),
        }
    }

    /// POSTs one message. `schema` is the called tool's input schema (for
    /// `Mcp-Param-*` headers to a 2026-07-28 server).
    pub async fn post(
        self: &Arc<Self>,
        bytes: Bytes,
        message: &Message,
        schema: Option<&Map<String, Value>>,
    ) -> Result<Posted, UpstreamError> {
        let method = message.method.as_deref();
        let is_request = message.id.is_some() && method.is_some();
        let initialize = method == Some("initialize");
        let discover = method == Some("server/discover");
        let (session, version, stateless) = {
            let state = self.state();
            (
                state.session.clone(),
                state.version.clone(),
                state.stateless,
            )
        };
        let mut headers = self.headers.clone();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        let params = message
            .params
            .as_ref()
            .and_then(|p| serde_json::from_str::<Map<String, Value>>(p.get()).ok());
        // The version of a 2026-07-28 request is its own; others use the
        // session's (none before the handshake).
        let meta_version = params
            .as_ref()
            .and_then(|p| p.get("_meta"))
            .and_then(|m| m.get(LIFECYCLE.protocol_version))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let version = if initialize {
            None
        } else {
            meta_version.or(version)
        };
        if let Some(version) = &version
            && let Ok(value) = HeaderValue::from_str(version)
        {
            headers.insert(PROTOCOL_VERSION, value);
        }
        let standard = discover
            || stateless
            || version
                .as_deref()
                .is_some_and(mcp_headers::is_stateless_version);
        if standard && let Some(method) = method {
            for (name, value) in mcp_headers::for_request(method, params.as_ref(), schema) {
                headers.insert(name, value);
            }
        }
        // The request's trace context, for a server that traces its HTTP
        // requests (the same context goes in the message's `_meta`).
        for (name, value) in switchboard_telemetry::mcp::trace_context(&tracing::Span::current()) {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        let had_session = !stateless && !initialize && !discover && session.is_some();
        if had_session
            && let Some(session) = &session
            && let Ok(value) = HeaderValue::from_str(session)
        {
            headers.insert(SESSION_ID, value);
        }
        let response = self
            .signed(|| {
                self.client
                    .post(&self.url)
                    .headers(headers.clone())
                    .body(bytes.clone())
            })
            .await?;
        let status = response.status();
        if initialize
            && let Some(id) = response
                .headers()
                .get(SESSION_ID)
                .and_then(|v| v.to_str().ok())
        {
            self.state().session = Some(id.into());
        }
        if matches!(status, StatusCode::ACCEPTED | StatusCode::NO_CONTENT) {
            return Ok(Posted::Accepted);
        }
        if status == StatusCode::NOT_FOUND && had_session {
            return Err(UpstreamError::Expired {
                server: self.server.to_string(),
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if status.is_success() && content_type.starts_with("text/event-stream") {
            return Ok(Posted::Stream(Stream::new(self.clone(), response)));
        }
        let limit = if status.is_success() {
            MAX_JSON
        } else {
            MAX_ERROR_BODY
        };
        let body = read_bounded(response, limit)
            .await
            .map_err(|e| self.failure(&e))?;
        if body.is_empty() && !is_request {
            return Ok(Posted::Accepted);
        }
        match Message::parse(&body) {
            // Some servers answer a request for a session they no longer
            // know with an error that has no id, where the spec says 404.
            Ok(answer)
                if had_session && answer.error.is_some() && answer.id.is_none() && is_request =>
            {
                Err(UpstreamError::Expired {
                    server: self.server.to_string(),
                })
            }
            Ok(answer) if status.is_success() || answer.error.is_some() => {
                Ok(Posted::Answer(answer))
            }
            _ if !is_request && status.is_success() => Ok(Posted::Accepted),
            // A server of the session era refuses the 2026-07-28 probe with
            // a plain 4xx: to the handshake, that is an answer.
            _ if discover && status.is_client_error() => {
                let error = RpcError::new(
                    -32600,
                    format!(
                        "server/discover rejected with HTTP {}: {}",
                        status.as_u16(),
                        excerpt(&body)
                    ),
                );
                Ok(Posted::Answer(Message::error(message.id.clone(), &error)))
            }
            _ if status.is_success() => Err(UpstreamError::Protocol {
                server: self.server.to_string(),
                detail: format!("unreadable answer ({content_type})"),
            }),
            _ => Err(UpstreamError::Status {
                server: self.server.to_string(),
                status: status.as_u16(),
                body: excerpt(&body),
            }),
        }
    }

    /// Sends what `build` makes, signed with the server's token if it has
    /// a sign-in.
    async fn signed(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, UpstreamError> {
        super::bearer::send(self.auth.as_deref(), &self.server, build, |e| {
            self.failure(e)
        })
        .await
    }

    /// A GET on the session: a resumption after `last_event_id`, or the
    /// session's own stream.
    pub(super) async fn get(
        &self,
        last_event_id: Option<&str>,
    ) -> Result<reqwest::Response, UpstreamError> {
        let (session, version) = {
            let state = self.state();
            (state.session.clone(), state.version.clone())
        };
        let mut headers = self.headers.clone();
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        if let Some(session) = session.as_deref()
            && let Ok(value) = HeaderValue::from_str(session)
        {
            headers.insert(SESSION_ID, value);
        }
        if let Some(version) = version.as_deref()
            && let Ok(value) = HeaderValue::from_str(version)
        {
            headers.insert(PROTOCOL_VERSION, value);
        }
        if let Some(id) = last_event_id
            && let Ok(value) = HeaderValue::from_str(id)
        {
            headers.insert("last-event-id", value);
        }
        self.signed(|| self.client.get(&self.url).headers(headers.clone()))
            .await
    }

    /// Ends the gateway's session with the server.
    pub async fn close(&self) {
        let Some(session) = self.session() else {
            return;
        };
        if self.auth.as_ref().is_some_and(|a| a.lost_now()) {
            return;
        }
        let Ok(value) = HeaderValue::from_str(&session) else {
            return;
        };
        let mut headers = self.headers.clone();
        headers.insert(SESSION_ID, value);
        let delete = self.signed(|| self.client.delete(&self.url).headers(headers.clone()));
        let _ = tokio::time::timeout(Duration::from_secs(5), delete).await;
    }
}

async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            body.extend_from_slice(&chunk[..limit.saturating_sub(body.len())]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// One line of at most 200 characters of a body, for error messages.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return "(empty body)".to_owned();
    }
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// An error with its sources: reqwest puts the useful part ("connection
/// refused") in the source chain.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_one_bounded_line() {
        assert_eq!(
            excerpt(b"  Invalid message:\n  {}\r\n"),
            "Invalid message: {}"
        );
        assert_eq!(excerpt(b""), "(empty body)");
        assert_eq!(excerpt("é".repeat(300).as_bytes()).chars().count(), 201);
    }
}
