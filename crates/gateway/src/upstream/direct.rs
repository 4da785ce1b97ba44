//! The upstream half of the direct path (see [`crate::front::direct`]): a
//! call sent as bytes on the gateway's own session with a streamable HTTP
//! server, and what the server says while it runs, handled as rmcp's client
//! would have.

use std::{sync::Arc, time::Instant};

use http::{
    HeaderMap,
    header::{ACCEPT, CONTENT_TYPE},
};
use rmcp::model::ServerNotification;

use super::{Live, Upstream, client::UpstreamClient, http::SessionCell};

/// Where and how to POST to a streamable HTTP server on the gateway's session.
pub(crate) struct Route {
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    session: Arc<SessionCell>,
    /// The server's sign-in, if it has OAuth: its access token goes along.
    auth: Option<Arc<switchboard_auth::oauth::ServerAuth>>,
}

impl Route {
    pub fn new(
        client: reqwest::Client,
        url: &str,
        headers: HeaderMap,
        session: Arc<SessionCell>,
        auth: Option<Arc<switchboard_auth::oauth::ServerAuth>>,
    ) -> Self {
        Self {
            client,
            url: url.to_owned(),
            headers,
            session,
            auth,
        }
    }

    /// A POST of `body` on the connection's session; `None` until the
    /// session exists, or when the sign-in cannot give a token.
    pub async fn post(
        &self,
        protocol_version: &str,
        body: Vec<u8>,
    ) -> Option<reqwest::RequestBuilder> {
        let request = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream")
            .body(body);
        self.on_session(request, protocol_version).await
    }

    /// A POST of `body` to a 2026-07-28 server (no session; the method and
    /// name in headers, as the protocol asks).
    pub async fn post_stateless(
        &self,
        protocol_version: &str,
        method: &str,
        name: &str,
        body: Vec<u8>,
    ) -> Option<reqwest::RequestBuilder> {
        let name = http::HeaderValue::from_str(name).ok()?;
        let request = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream")
            .header("mcp-method", method)
            .header("mcp-name", name)
            .body(body);
        self.signed(request, protocol_version).await
    }

    /// A GET resuming the session's stream after `last_event_id` (a server
    /// may end a call's stream early and have the client resume it).
    pub async fn resume(
        &self,
        protocol_version: &str,
        last_event_id: &str,
    ) -> Option<reqwest::RequestBuilder> {
        let request = self
            .client
            .get(&self.url)
            .header(ACCEPT, "text/event-stream")
            .header("last-event-id", last_event_id);
        self.on_session(request, protocol_version).await
    }

    async fn on_session(
        &self,
        request: reqwest::RequestBuilder,
        protocol_version: &str,
    ) -> Option<reqwest::RequestBuilder> {
        let session = self.session.get()?;
        let request = request.header("mcp-session-id", &*session);
        self.signed(request, protocol_version).await
    }

    /// Adds the configured headers, the protocol version and the server's
    /// access token (when it has a sign-in).
    async fn signed(
        &self,
        request: reqwest::RequestBuilder,
        protocol_version: &str,
    ) -> Option<reqwest::RequestBuilder> {
        let mut request = request
            .headers(self.headers.clone())
            .header("mcp-protocol-version", protocol_version);
        if let Some(auth) = &self.auth
            && let Some(token) = auth.access_token().await.ok()?
        {
            request = request.bearer_auth(token.expose());
        }
        Some(request)
    }
}

/// A server->client request relayed during a direct call, as recorded.
pub(crate) struct Asked<'a> {
    pub method: &'a str,
    pub client: &'a str,
    pub params: Option<serde_json::Value>,
    pub started: Instant,
}

impl Upstream {
    /// The live connection and its route, when calls may take the direct
    /// path: a streamable HTTP server (on a session, or 2026-07-28).
    pub(crate) fn direct(&self) -> Option<(Arc<Live>, Arc<Route>)> {
        let live = self.shared.live()?;
        let route = live.direct.clone()?;
        Some((live, route))
    }

    /// Handles a notification the server sent on a direct call's stream, as
    /// if it had come through rmcp (log messages, list changes, updates).
    pub(crate) async fn direct_notification(&self, live: &Live, notification: ServerNotification) {
        let client = UpstreamClient {
            shared: self.shared.clone(),
        };
        client.route_notification(notification, &live.peer).await;
    }

    /// Records a progress notification relayed to `client` during a direct call.
    pub(crate) async fn record_progress(&self, client: &str, params: Option<serde_json::Value>) {
        let upstream = UpstreamClient {
            shared: self.shared.clone(),
        };
        let record = upstream.record("notifications/progress", Some(client), params);
        upstream.commit(record).await;
    }

    /// Records a request of the server answered during a direct call: the
    /// client's answer, or the error it (or the gateway) gave.
    pub(crate) async fn record_asked(
        &self,
        asked: Asked<'_>,
        outcome: Result<serde_json::Value, (i64, String)>,
    ) {
        let client = UpstreamClient {
            shared: self.shared.clone(),
        };
        let mut record = client.record(asked.method, Some(asked.client), asked.params);
        record.took(asked.started);
        match outcome {
            Ok(value) => record.response = Some(value),
            Err((code, message)) => record.failed(Some(code), message),
        }
        client.commit(record).await;
    }
}
