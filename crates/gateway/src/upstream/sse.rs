//! Client side of the legacy MCP "HTTP+SSE" transport (protocol 2024-11-05).
//!
//! The client holds one long-lived `GET` whose SSE stream first names, in an
//! `endpoint` event, the URL to `POST` JSON-RPC messages to; everything the
//! server says afterwards (responses, notifications, server->client requests)
//! arrives as `message` events on that same stream. rmcp ships no client for
//! it, and the gateway still has to reach servers that only speak it.
//! Both the GET and every POST carry the server's own OAuth token when it
//! has a sign-in, the same as streamable HTTP ([`super::bearer`]).

use std::{fmt, sync::Arc, time::Duration};

use bytes::Bytes;
use futures::{StreamExt, stream::BoxStream};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use sse_stream::{Sse, SseStream};
use switchboard_auth::oauth::ServerAuth;
use url::Url;

use super::{UpstreamError, bearer, http::error_chain};
use crate::wire::Message;

/// Upper bound on the error-body excerpt: enough to show a server's one-line
/// complaint without letting an HTML error page flood the logs.
const EXCERPT_CHARS: usize = 200;

/// A failing server may send headers and then stall the body; the status code
/// alone is worth reporting, so the excerpt is best effort.
const EXCERPT_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A legacy server acknowledges a POST at once and answers on the SSE stream,
/// so a POST that hangs means a wedged server; without a limit the request
/// waiting on it would hang too. Applied per request because a client-wide
/// timeout would also cut the SSE stream.
const POST_TIMEOUT: Duration = Duration::from_secs(60);

/// Bodies beyond this are not worth reading just to keep a connection alive.
const DRAIN_LIMIT: usize = 64 * 1024;

type BoxEventStream = BoxStream<'static, Result<Sse, sse_stream::Error>>;

/// Errors of the legacy HTTP+SSE client transport.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SseTransportError {
    /// The configured SSE URL does not parse.
    #[error("invalid SSE URL: {0}")]
    InvalidUrl(url::ParseError),
    /// The configured SSE URL is not `http` or `https`.
    #[error("unsupported SSE URL scheme `{0}` (expected http or https)")]
    UnsupportedScheme(String),
    /// The `GET` that opens the SSE stream could not be sent.
    #[error("opening the SSE stream failed: {0}")]
    Connect(String),
    /// The server wants a (new) sign-in, or more scope.
    #[error(transparent)]
    Auth(UpstreamError),
    /// The `GET` that opens the SSE stream was answered with a non-2xx status.
    #[error("opening the SSE stream failed with HTTP {status}: {body}")]
    ConnectStatus { status: StatusCode, body: String },
    /// The `GET` was answered, but not with an event stream.
    #[error("the SSE URL answered with content type `{0}` instead of text/event-stream")]
    NotEventStream(String),
    /// No `endpoint` event arrived in time.
    #[error("timed out after {0:?} waiting for the SSE stream's `endpoint` event")]
    EndpointTimeout(Duration),
    /// The SSE stream closed before it announced the message endpoint.
    #[error("the SSE stream ended before its `endpoint` event")]
    EndedBeforeEndpoint,
    /// The SSE stream broke before it announced the message endpoint.
    #[error("the SSE stream failed before its `endpoint` event: {0}")]
    StreamBeforeEndpoint(sse_stream::Error),
    /// The `endpoint` event carries no URL.
    #[error("the `endpoint` event carries no URL")]
    EmptyEndpoint,
    /// The `endpoint` event does not hold a usable URL.
    #[error("invalid `endpoint` event {endpoint:?}: {error}")]
    InvalidEndpoint {
        endpoint: String,
        error: url::ParseError,
    },
    /// The `endpoint` event points to another origin than the SSE URL.
    #[error("refusing message endpoint on {endpoint_origin}: it is not the SSE origin {origin}")]
    CrossOriginEndpoint {
        endpoint_origin: String,
        origin: String,
    },
    /// A `POST` to the message endpoint could not be sent.
    #[error("posting a message failed: {0}")]
    Post(String),
    /// A `POST` to the message endpoint was answered with a non-2xx status.
    #[error("posting a message failed with HTTP {status}: {body}")]
    PostStatus { status: StatusCode, body: String },
}

/// The event stream of a legacy server, once it has named its endpoint.
///
/// Messages a server sends that do not parse are logged and skipped; when
/// the stream ends or fails, [`EventStream::next_messages`] yields `None`:
/// legacy sessions cannot be resumed, so recovering means connecting again.
pub(crate) struct EventStream {
    events: Option<BoxEventStream>,
}

/// Where a legacy server takes the gateway's messages.
pub(crate) struct Poster {
    client: reqwest::Client,
    endpoint: Url,
    headers: HeaderMap,
    server: String,
    auth: Option<Arc<ServerAuth>>,
}

/// Where a legacy server is, and how the gateway signs its requests to it.
pub(crate) struct Target<'a> {
    /// The server's name.
    pub server: &'a str,
    /// Its SSE URL.
    pub url: &'a str,
    /// Extra headers for every request.
    pub headers: HeaderMap,
    /// Its sign-in, when it uses OAuth.
    pub auth: Option<Arc<ServerAuth>>,
}

/// A request error in the transport's terms: sign-in errors as they are,
/// send errors as `wrap` says.
fn auth_or(error: UpstreamError, wrap: fn(String) -> SseTransportError) -> SseTransportError {
    match error {
        UpstreamError::Send { detail, .. } => wrap(detail),
        other => SseTransportError::Auth(other),
    }
}

/// Opens the SSE stream at `url` with the extra `headers` (sent on the GET
/// and on every POST), waits up to `timeout` for the `endpoint` event,
/// resolves it against `url`, and checks the endpoint has the same origin as
/// `url`: a server must not redirect our POSTs, which may carry credentials,
/// to another host.
///
/// The caller's `client` keeps `TCP_NODELAY` on and sets no total or read
/// timeout (either would cut the long-lived stream, and with it the session).
pub(crate) async fn open(
    client: reqwest::Client,
    target: Target<'_>,
    timeout: Duration,
) -> Result<(Arc<Poster>, EventStream), SseTransportError> {
    let sse_url = parse_sse_url(target.url)?;
    tokio::time::timeout(timeout, open_stream(client, sse_url, target))
        .await
        .unwrap_or(Err(SseTransportError::EndpointTimeout(timeout)))
}

async fn open_stream(
    client: reqwest::Client,
    sse_url: Url,
    target: Target<'_>,
) -> Result<(Arc<Poster>, EventStream), SseTransportError> {
    let Target {
        server,
        headers,
        auth,
        ..
    } = target;
    let mut get_headers = headers.clone();
    get_headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("text/event-stream"),
    );
    let response = bearer::send(
        auth.as_deref(),
        server,
        || client.get(sse_url.clone()).headers(get_headers.clone()),
        |e| send_error(server, e),
    )
    .await
    .map_err(|e| auth_or(e, SseTransportError::Connect))?;

    let status = response.status();
    if !status.is_success() {
        let body = body_excerpt(response).await;
        return Err(SseTransportError::ConnectStatus { status, body });
    }
    // A wrong URL (an HTML page, a JSON API) would otherwise only show up
    // as an endpoint timeout. A missing Content-Type gets the benefit of
    // the doubt.
    if let Some(content_type) = response.headers().get(header::CONTENT_TYPE) {
        let content_type = String::from_utf8_lossy(content_type.as_bytes());
        if !is_event_stream(&content_type) {
            return Err(SseTransportError::NotEventStream(content_type.into_owned()));
        }
    }

    let (endpoint, events) = handshake(event_stream(response.bytes_stream()), &sse_url).await?;
    tracing::debug!(%endpoint, "legacy SSE session open");

    let mut post_headers = headers;
    post_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok((
        Arc::new(Poster {
            client,
            endpoint,
            headers: post_headers,
            server: server.to_owned(),
            auth,
        }),
        events,
    ))
}

/// The SSE events of a response body.
///
/// The event parser is handed one line at a time: on a line it cannot read
/// (not UTF-8, an unknown field) it drops the rest of the chunk it was given
/// and reports the error ahead of the events that chunk completed, so fed
/// whole chunks the events a stream yields would depend on how the network
/// cut it.
pub(crate) fn event_stream<S, E>(body: S) -> BoxEventStream
where
    S: futures::Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut lines = Lines::default();
    let body = body.flat_map(move |chunk| {
        futures::stream::iter(match chunk {
            Ok(chunk) => lines.split(&chunk).into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        })
    });
    SseStream::from_bytes_stream(body).boxed()
}

/// Cuts a body into lines, each ending in `\n` (a `\r\n` or a lone `\r`
/// becomes one), and the start of a line the next chunk ends.
#[derive(Default)]
struct Lines {
    /// The last chunk ended in `\r`: a `\n` opening the next one belongs to it.
    after_cr: bool,
}

impl Lines {
    fn split(&mut self, chunk: &Bytes) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut start = 0;
        if std::mem::take(&mut self.after_cr) && chunk.first() == Some(&b'\n') {
            start = 1;
        }
        let mut i = start;
        while i < chunk.len() {
            match chunk[i] {
                b'\n' => {
                    out.push(chunk.slice(start..=i));
                    start = i + 1;
                }
                b'\r' => {
                    let mut line = Vec::with_capacity(i - start + 1);
                    line.extend_from_slice(&chunk[start..i]);
                    line.push(b'\n');
                    out.push(Bytes::from(line));
                    match chunk.get(i + 1) {
                        Some(b'\n') => i += 1,
                        None => self.after_cr = true,
                        Some(_) => {}
                    }
                    start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        if start < chunk.len() {
            out.push(chunk.slice(start..));
        }
        out
    }
}

/// Reads a new stream up to its `endpoint` event: the message endpoint,
/// resolved against `sse_url`, and the stream of what follows.
pub(crate) async fn handshake(
    mut events: BoxEventStream,
    sse_url: &Url,
) -> Result<(Url, EventStream), SseTransportError> {
    let endpoint = loop {
        match events.next().await {
            None => return Err(SseTransportError::EndedBeforeEndpoint),
            // Unlike later on, a malformed stream is fatal here: failing now
            // explains itself better than the endpoint timeout would.
            Some(Err(error)) => return Err(SseTransportError::StreamBeforeEndpoint(error)),
            Some(Ok(sse)) if sse.event.as_deref() == Some("endpoint") => {
                break resolve_endpoint(sse_url, sse.data.as_deref().unwrap_or_default())?;
            }
            // Nothing can legitimately precede the endpoint: the server has
            // no session to talk about until we POST.
            Some(Ok(sse)) => {
                tracing::warn!(
                    event = sse.event.as_deref().unwrap_or("message"),
                    "ignoring SSE event received before the `endpoint` event"
                );
            }
        }
    };
    Ok((
        endpoint,
        EventStream {
            events: Some(events),
        },
    ))
}

impl EventStream {
    /// The messages of the next event that carries any; None once the
    /// stream has ended.
    pub async fn next_messages(&mut self) -> Option<Vec<Message>> {
        loop {
            let events = self.events.as_mut()?;
            match events.next().await {
                Some(Ok(sse)) => {
                    if let Some(messages) = accept_event(&sse) {
                        return Some(messages);
                    }
                }
                None => {
                    tracing::info!("legacy SSE stream ended");
                    self.events = None;
                }
                Some(Err(sse_stream::Error::Body(error))) => {
                    tracing::warn!(error = %ErrorChain(&*error), "legacy SSE stream failed");
                    self.events = None;
                }
                // The connection itself is fine, so keep the session: dropping
                // it would fail every in-flight request to recover from one
                // bad event.
                Some(Err(error)) => {
                    tracing::warn!(%error, "skipping malformed SSE data from legacy server");
                }
            }
        }
    }
}

/// The messages one SSE event carries (a 2024-11-05 server may pack a
/// batch into one event).
fn accept_event(sse: &Sse) -> Option<Vec<Message>> {
    match sse.event.as_deref() {
        // Per the SSE spec an event without a type is a `message`.
        None | Some("message") => {}
        Some("endpoint") => {
            // The endpoint is fixed for the whole session; switching to a
            // new one mid-session would also bypass the origin check.
            tracing::warn!("ignoring repeated `endpoint` event");
            return None;
        }
        Some(other) => {
            tracing::debug!(event = other, "ignoring unknown SSE event type");
            return None;
        }
    }
    let data = sse.data.as_deref().filter(|data| !data.trim().is_empty())?;
    match parse_messages(data) {
        Ok(messages) => Some(messages),
        Err(error) => {
            tracing::warn!(
                %error,
                data = %excerpt(data.as_bytes()),
                "skipping unparseable message from legacy SSE server"
            );
            None
        }
    }
}

impl Poster {
    /// POSTs one message to the endpoint.
    pub async fn post(&self, body: Bytes) -> Result<(), SseTransportError> {
        let mut response = bearer::send(
            self.auth.as_deref(),
            &self.server,
            || {
                self.client
                    .post(self.endpoint.clone())
                    .headers(self.headers.clone())
                    .timeout(POST_TIMEOUT)
                    .body(body.clone())
            },
            |e| send_error(&self.server, e),
        )
        .await
        .map_err(|e| auth_or(e, SseTransportError::Post))?;
        let status = response.status();
        if !status.is_success() {
            let body = body_excerpt(response).await;
            return Err(SseTransportError::PostStatus { status, body });
        }
        // The answer travels on the SSE stream and the body is just "Accepted",
        // but a body dropped before it has fully arrived closes the connection
        // instead of returning it to the pool.
        let mut drained = 0;
        while drained < DRAIN_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => drained += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(())
    }
}

fn send_error(server: &str, e: &reqwest::Error) -> UpstreamError {
    UpstreamError::Send {
        server: server.to_owned(),
        detail: error_chain(e),
    }
}

fn parse_sse_url(url: &str) -> Result<Url, SseTransportError> {
    let url = Url::parse(url).map_err(SseTransportError::InvalidUrl)?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(SseTransportError::UnsupportedScheme(other.to_owned())),
    }
}

/// Resolves the `endpoint` event's data against the SSE URL and insists on the
/// same origin: the endpoint receives the configured headers, which may be
/// credentials meant for this server only.
fn resolve_endpoint(sse_url: &Url, data: &str) -> Result<Url, SseTransportError> {
    let data = data.trim();
    // Joining "" would silently yield the SSE URL itself.
    if data.is_empty() {
        return Err(SseTransportError::EmptyEndpoint);
    }
    let endpoint = sse_url
        .join(data)
        .map_err(|error| SseTransportError::InvalidEndpoint {
            endpoint: data.to_owned(),
            error,
        })?;
    // `Origin` compares scheme, host and port (with the scheme's default
    // filled in), so `https` -> `http` downgrades are refused too.
    if endpoint.origin() != sse_url.origin() {
        return Err(SseTransportError::CrossOriginEndpoint {
            endpoint_origin: endpoint.origin().ascii_serialization(),
            origin: sse_url.origin().ascii_serialization(),
        });
    }
    Ok(endpoint)
}

fn is_event_stream(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/event-stream"))
}

fn parse_messages(data: &str) -> Result<Vec<Message>, crate::wire::WireError> {
    if data.trim_start().starts_with('[') {
        let items: Vec<Box<serde_json::value::RawValue>> =
            serde_json::from_str(data).map_err(|_| crate::wire::WireError::NotJson)?;
        items
            .iter()
            .map(|item| Message::parse(item.get().as_bytes()))
            .collect()
    } else {
        Message::parse(data.as_bytes()).map(|message| vec![message])
    }
}

async fn body_excerpt(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    let read = async {
        // Stop early: an excerpt needs a few hundred bytes, not the whole body.
        while bytes.len() < EXCERPT_CHARS * 4 {
            match response.chunk().await {
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
    };
    let _ = tokio::time::timeout(EXCERPT_READ_TIMEOUT, read).await;
    excerpt(&bytes)
}

/// One line of at most [`EXCERPT_CHARS`] characters, so that error messages
/// stay one line even when the server answers with an HTML page.
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut words = text.split_whitespace();
    let mut line = String::new();
    if let Some(first) = words.next() {
        line.push_str(first);
        for word in words {
            line.push(' ');
            line.push_str(word);
        }
    }
    if line.is_empty() {
        return "(empty body)".to_owned();
    }
    match line.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => {
            line.truncate(cut);
            line.push('…');
            line
        }
        None => line,
    }
}

/// Renders an error with its sources, because reqwest puts the useful part
/// ("connection refused", "dns error") in the source chain, not in `Display`.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|error| panic!("bad test URL {s}: {error}"))
    }

    fn resolve(base: &str, data: &str) -> Result<String, SseTransportError> {
        resolve_endpoint(&url(base), data).map(String::from)
    }

    fn resolved(base: &str, data: &str) -> String {
        resolve(base, data).unwrap_or_else(|error| panic!("{data:?} against {base}: {error}"))
    }

    #[test]
    fn relative_endpoint_resolves_against_sse_url() {
        assert_eq!(
            resolved("http://127.0.0.1:3001/sse", "/message?sessionId=x"),
            "http://127.0.0.1:3001/message?sessionId=x"
        );
        assert_eq!(
            resolved(
                "https://example.com/mcp/sse?token=t",
                "messages/?session_id=y"
            ),
            "https://example.com/mcp/messages/?session_id=y"
        );
        assert_eq!(
            resolved("http://localhost:8080/sse", " /message?sessionId=z\n"),
            "http://localhost:8080/message?sessionId=z"
        );
    }

    #[test]
    fn absolute_same_origin_endpoint_is_accepted() {
        assert_eq!(
            resolved("http://localhost:8080/sse", "http://localhost:8080/m?s=1"),
            "http://localhost:8080/m?s=1"
        );
        // The default port is the same origin whether spelled out or not.
        assert_eq!(
            resolved("https://Example.com/sse", "https://example.com:443/m"),
            "https://example.com/m"
        );
    }

    #[test]
    fn other_origin_endpoint_is_refused() {
        for data in [
            "http://evil.example/message?sessionId=x",
            "//evil.example/message",
            "http://localhost:8081/message",
            "https://localhost:8080/message",
        ] {
            assert!(
                matches!(
                    resolve("http://localhost:8080/sse", data),
                    Err(SseTransportError::CrossOriginEndpoint { .. })
                ),
                "{data} should be refused"
            );
        }
        assert!(matches!(
            resolve("https://example.com/sse", "http://example.com/message"),
            Err(SseTransportError::CrossOriginEndpoint { .. })
        ));
    }

    #[test]
    fn unusable_endpoint_is_refused() {
        for data in ["", "  \n"] {
            assert!(matches!(
                resolve("http://localhost:8080/sse", data),
                Err(SseTransportError::EmptyEndpoint)
            ));
        }
        assert!(matches!(
            resolve("http://localhost:8080/sse", "http://[::1/x"),
            Err(SseTransportError::InvalidEndpoint { .. })
        ));
    }

    #[test]
    fn sse_url_must_be_http() {
        assert!(parse_sse_url("https://example.com/sse").is_ok());
        assert!(matches!(
            parse_sse_url("ftp://example.com/sse"),
            Err(SseTransportError::UnsupportedScheme(_))
        ));
        assert!(matches!(
            parse_sse_url("not a url"),
            Err(SseTransportError::InvalidUrl(_))
        ));
    }

    #[test]
    fn event_stream_content_type() {
        assert!(is_event_stream("text/event-stream"));
        assert!(is_event_stream("Text/Event-Stream; charset=utf-8"));
        assert!(!is_event_stream("text/html"));
        assert!(!is_event_stream("application/json"));
    }

    #[test]
    fn excerpt_is_one_bounded_line() {
        assert_eq!(
            excerpt(b"  Invalid message:\n  {}\r\n"),
            "Invalid message: {}"
        );
        assert_eq!(excerpt(b""), "(empty body)");
        let long = "é".repeat(EXCERPT_CHARS + 10);
        let cut = excerpt(long.as_bytes());
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn lines_end_in_newlines_however_the_chunks_fall() {
        let mut lines = Lines::default();
        let mut out = Vec::new();
        for chunk in ["a\r", "\nb\rc", "\n\r", "\r\nd"] {
            out.extend(lines.split(&Bytes::from(chunk)));
        }
        assert_eq!(out.concat(), b"a\nb\nc\n\n\nd".to_vec(), "{out:?}");
        assert!(
            out.iter()
                .all(|l| !l.is_empty() && !l[..l.len() - 1].contains(&b'\n'))
        );
    }

    #[test]
    fn a_bad_line_loses_no_event_around_it() {
        let stream = b"event: endpoint\ndata: /m\n\nevent: message\nbogus\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"n\"}\n\n";
        let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from_static(
            stream,
        ))]);
        let sse_url = url("http://127.0.0.1:3001/sse");
        let (endpoint, mut events) =
            futures::executor::block_on(handshake(event_stream(body), &sse_url))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(endpoint.as_str(), "http://127.0.0.1:3001/m");
        let messages = futures::executor::block_on(events.next_messages()).unwrap_or_default();
        assert_eq!(messages.len(), 1);
    }

    #[test]
    fn server_messages_parse_singly_and_in_batches() {
        let single = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
        assert_eq!(parse_messages(single).map(|m| m.len()).ok(), Some(1));
        let batch = r#"[{"jsonrpc":"2.0","method":"notifications/tools/list_changed"},
                        {"jsonrpc":"2.0","id":2,"method":"ping"}]"#;
        assert_eq!(parse_messages(batch).map(|m| m.len()).ok(), Some(2));
        assert!(parse_messages("not json").is_err());
    }
}
