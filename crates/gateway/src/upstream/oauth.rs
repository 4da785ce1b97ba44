//! OAuth on streamable HTTP upstreams: the server's own access token on every
//! request (never a client's), one refresh and retry when the server rejects
//! it, and the server marked as needing sign-in when that fails.

use std::{borrow::Cow, collections::HashMap, sync::Arc};

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::{
    model::ClientJsonRpcMessage,
    transport::streamable_http_client::{
        StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    },
};
use sse_stream::{Error as SseError, Sse};
use switchboard_auth::oauth::ServerAuth;

type HttpError = StreamableHttpError<reqwest::Error>;

/// A streamable HTTP client that signs its requests with the server's token.
#[derive(Clone)]
pub(crate) struct Authed<C> {
    pub inner: C,
    /// None: the server has a configured `Authorization` header (or OAuth is
    /// off for it), so requests go out as configured.
    pub auth: Option<Arc<ServerAuth>>,
}

/// The error a request gets when the server needs a sign-in: it names the
/// server and says what to do.
pub(crate) fn sign_in_message(server: &str) -> String {
    format!(
        "server \"{server}\" needs sign-in: run `switchboard auth login {server}` or sign in from the control panel"
    )
}

/// What the server's status says while it waits for a sign-in.
pub(crate) fn sign_in_hint(server: &str, reason: &str) -> String {
    format!("{reason}: run `switchboard auth login {server}` or sign in from the control panel")
}

const SIGN_IN_MARK: &str = "needs sign-in: run `switchboard auth login";
const SCOPE_MARK: &str = "needs more permissions";

/// The clear message for a request that failed because the server needs a
/// sign-in (the transport error wraps it in rmcp's own words).
pub(crate) fn explain_failure(server: &str, error: &rmcp::ServiceError) -> Option<String> {
    let text = error.to_string();
    let at = text
        .find(&format!("server \"{server}\" {SIGN_IN_MARK}"))
        .or_else(|| text.find(&format!("server \"{server}\" {SCOPE_MARK}")))?;
    Some(text[at..].to_owned())
}

impl<C> Authed<C>
where
    C: StreamableHttpClient<Error = reqwest::Error> + Send + Sync,
{
    async fn signed<T, F, Fut>(&self, configured: Option<String>, call: F) -> Result<T, HttpError>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: Future<Output = Result<T, HttpError>>,
    {
        let Some(auth) = self.auth.as_ref().filter(|_| configured.is_none()) else {
            return call(configured).await;
        };
        let refused = |auth: &ServerAuth| {
            HttpError::UnexpectedServerResponse(Cow::Owned(sign_in_message(auth.name())))
        };
        // Signed in before, but the sign-in is gone: fail at once.
        if auth.lost_now() {
            return Err(refused(auth));
        }
        let token = auth
            .access_token()
            .await
            .map_err(|e| HttpError::UnexpectedServerResponse(Cow::Owned(e)))?
            .map(|t| t.expose().clone());
        if token.is_none() && auth.lost_now() {
            return Err(refused(auth));
        }
        match call(token.clone()).await {
            Err(HttpError::AuthRequired(challenge)) => {
                let header = challenge.www_authenticate_header;
                let Some(sent) = token else {
                    auth.unauthorized(&header);
                    return Err(refused(auth));
                };
                let Some(fresh) = auth.token_rejected(&sent, &header).await else {
                    return Err(refused(auth));
                };
                match call(Some(fresh.expose().clone())).await {
                    Err(HttpError::AuthRequired(again)) => {
                        auth.unauthorized(&again.www_authenticate_header);
                        Err(refused(auth))
                    }
                    other => other,
                }
            }
            Err(HttpError::InsufficientScope(e)) => {
                auth.insufficient_scope(&e.www_authenticate_header, e.get_required_scope());
                Err(HttpError::UnexpectedServerResponse(Cow::Owned(format!(
                    "server \"{}\" needs more permissions{}: sign in again with `switchboard auth login {}`",
                    auth.name(),
                    e.get_required_scope()
                        .map(|s| format!(" (scope {s})"))
                        .unwrap_or_default(),
                    auth.name()
                ))))
            }
            other => other,
        }
    }
}

impl<C> StreamableHttpClient for Authed<C>
where
    C: StreamableHttpClient<Error = reqwest::Error> + Send + Sync,
{
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.signed(auth_header, |token| {
            self.inner.post_message(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.signed(auth_header, |token| {
            self.inner.post_message_with_max_sse_event_size(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), HttpError> {
        // Without a sign-in there is no session worth closing (the server
        // would refuse the request anyway).
        if auth_header.is_none() && self.auth.as_ref().is_some_and(|a| a.lost_now()) {
            return Ok(());
        }
        self.signed(auth_header, |token| {
            self.inner.delete_session(
                uri.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, HttpError> {
        self.signed(auth_header, |token| {
            self.inner.get_stream(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
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
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, HttpError> {
        self.signed(auth_header, |token| {
            self.inner.get_stream_with_max_sse_event_size(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }
}
