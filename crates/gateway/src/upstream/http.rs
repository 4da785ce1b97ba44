//! Streamable HTTP upstreams.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use futures::stream::BoxStream;
use http::{HeaderMap, HeaderName, HeaderValue};
use rmcp::{
    model::{ClientJsonRpcMessage, ServerJsonRpcMessage},
    transport::{
        StreamableHttpClientTransport,
        streamable_http_client::{
            StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
            StreamableHttpPostResponse,
        },
    },
};
use sse_stream::{Error as SseError, Sse};

/// Concurrent POSTs per upstream; rmcp's default of 16 would queue calls from
/// many client sessions behind each other.
const MAX_CONCURRENT_REQUESTS: usize = 256;

/// Parses configured headers; a bad name or value is a configuration error.
pub(crate) fn header_map(headers: &BTreeMap<String, String>) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let (name, value) = parse_header(name, value)?;
        map.insert(name, value);
    }
    Ok(map)
}

fn parse_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("invalid header name: {name:?}"))?;
    let header_value =
        HeaderValue::from_str(value).map_err(|_| format!("invalid value for header {name}"))?;
    Ok((header_name, header_value))
}

/// The session id the server gave the gateway's connection, as last sent.
#[derive(Debug, Default)]
pub(crate) struct SessionCell(std::sync::Mutex<Option<Arc<str>>>);

impl SessionCell {
    fn note(&self, id: Option<&Arc<str>>) {
        if let Some(id) = id {
            let mut cell = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if cell.as_ref() != Some(id) {
                *cell = Some(id.clone());
            }
        }
    }

    /// The session the connection uses now, once it has one.
    pub fn get(&self) -> Option<Arc<str>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A streamable HTTP client transport to `url` with the configured headers.
/// rmcp re-initializes the session by itself when the server answers 404
/// (session expired); [`Lenient`] extends that to servers that answer 400.
/// With `auth`, requests carry the server's OAuth access token.
pub(crate) fn transport(
    client: reqwest::Client,
    url: &str,
    headers: &BTreeMap<String, String>,
    auth: Option<Arc<switchboard_auth::oauth::ServerAuth>>,
    session: Arc<SessionCell>,
) -> Result<StreamableHttpClientTransport<super::oauth::Authed<Lenient>>, String> {
    url::Url::parse(url).map_err(|e| format!("invalid URL {url}: {e}"))?;
    let mut custom = HashMap::new();
    for (name, value) in headers {
        let (name, value) = parse_header(name, value)?;
        custom.insert(name, value);
    }
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_owned())
        .max_concurrent_requests(MAX_CONCURRENT_REQUESTS)
        .custom_headers(custom);
    Ok(StreamableHttpClientTransport::with_client(
        super::oauth::Authed {
            inner: Lenient(client, session),
            auth,
        },
        config,
    ))
}

/// reqwest's streamable HTTP client, made safe against one server mistake.
///
/// Some servers answer a request for a session they no longer know with HTTP
/// 400 and a JSON-RPC error whose `id` is null, where the spec says 404. rmcp
/// cannot match such an error to the request, which would then wait forever.
/// With a session attached this is taken for what it is, an expired session
/// (rmcp opens a new one and retries once); otherwise the error is bound to
/// the request so its caller gets it.
/// It also notes the session id it sends, for the direct path.
#[derive(Clone)]
pub(crate) struct Lenient(reqwest::Client, Arc<SessionCell>);

impl Lenient {
    fn settle(
        response: StreamableHttpPostResponse,
        request_id: Option<rmcp::model::RequestId>,
        had_session: bool,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<reqwest::Error>> {
        Ok(match (response, request_id) {
            (
                StreamableHttpPostResponse::Json(ServerJsonRpcMessage::Error(mut e), sid),
                Some(id),
            ) if e.id.is_none() => {
                if had_session {
                    tracing::debug!(error = %e.error.message, "id-less error on a session: treating the session as expired");
                    return Err(StreamableHttpError::SessionExpired);
                }
                e.id = Some(id);
                StreamableHttpPostResponse::Json(ServerJsonRpcMessage::Error(e), sid)
            }
            (response, _) => response,
        })
    }
}

fn request_id(message: &ClientJsonRpcMessage) -> Option<rmcp::model::RequestId> {
    match message {
        ClientJsonRpcMessage::Request(r) => Some(r.id.clone()),
        _ => None,
    }
}

impl StreamableHttpClient for Lenient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        let (id, had_session) = (request_id(&message), session_id.is_some());
        self.1.note(session_id.as_ref());
        let response = self
            .0
            .post_message(uri, message, session_id, auth_header, custom_headers)
            .await?;
        Self::settle(response, id, had_session)
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        let (id, had_session) = (request_id(&message), session_id.is_some());
        self.1.note(session_id.as_ref());
        let response = self
            .0
            .post_message_with_max_sse_event_size(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await?;
        Self::settle(response, id, had_session)
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<Self::Error>> {
        self.0
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        self.0
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        self.0
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await
    }
}
