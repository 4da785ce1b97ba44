//! The gateway's MCP client role towards one upstream server.
//!
//! Requests and notifications the upstream sends on its own are routed back to
//! the downstream session they belong to (see [`crate::dispatch`]).
#![expect(
    deprecated,
    reason = "sampling, roots and logging are still part of 2025-11-25"
)]

use std::sync::Arc;

use rmcp::{
    ClientHandler, ErrorData as McpError, RoleClient, RoleServer,
    model::{
        CancelledNotificationParam, ClientCapabilities, ClientConfig, ClientResult,
        CreateMessageRequest, CreateMessageRequestParams, CreateMessageResult, ElicitRequest,
        ElicitRequestParams, ElicitResult, Implementation, InputRequest, ListRootsRequest,
        ListRootsResult, LoggingMessageNotificationParam, ProgressNotificationParam,
        ProtocolVersion, RequestId, ResourceUpdatedNotificationParam, ServerNotification,
        ServerRequest,
    },
    service::{
        InboundStreamOrigin, NotificationContext, OriginatingRequestId, Peer, RequestContext,
    },
};

use super::Shared;
use switchboard_audit::{AuditRecord, Direction};

use crate::{
    dispatch::{CallLink, ListKind},
    wire::reparse,
};

/// Protocol version the gateway offers upstreams first (`server/discover`).
pub const UPSTREAM_PROTOCOL_VERSION: ProtocolVersion = ProtocolVersion::V_2026_07_28;

/// Protocol version the gateway offers in `initialize`, for servers that do
/// not speak 2026-07-28.
pub const UPSTREAM_LEGACY_VERSION: ProtocolVersion = ProtocolVersion::V_2025_11_25;

/// ClientHandler for one upstream connection.
#[derive(Clone)]
pub(crate) struct UpstreamClient {
    pub shared: Arc<Shared>,
}

impl UpstreamClient {
    fn server(&self) -> &str {
        &self.shared.name
    }

    /// A record of a message from this server.
    pub(super) fn record(
        &self,
        method: &str,
        client: Option<&str>,
        params: Option<serde_json::Value>,
    ) -> AuditRecord {
        let mut record = AuditRecord::new(Direction::ServerToClient, method);
        record.server = Some(self.shared.name.clone());
        record.client = client.map(str::to_owned);
        record.request = params;
        // Messages from the server are in the version spoken with the server.
        record.protocol_version = self.shared.status.borrow().protocol_version.clone();
        record
    }

    pub(super) async fn commit(&self, record: AuditRecord) {
        if let Some(audit) = &self.shared.audit
            && let Err(e) = audit.record(record).await
        {
            tracing::error!(server = self.server(), error = %e, "message not recorded");
        }
    }

    /// Asks the client of `link`'s call, and records the exchange.
    async fn ask_for_call(
        &self,
        method: &str,
        link: &CallLink,
        request: ServerRequest,
        logged: Option<serde_json::Value>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Result<ClientResult, McpError> {
        let started = std::time::Instant::now();
        let origin = Some(link.downstream_id.clone());
        let result = ask_downstream(link.peer.clone(), origin, request, cancel).await;
        self.record_request(method, Some(&link.client), logged, started, &result)
            .await;
        result
    }

    /// Records a server->client request and its outcome.
    async fn record_request<T: serde::Serialize>(
        &self,
        method: &str,
        client: Option<&str>,
        params: Option<serde_json::Value>,
        started: std::time::Instant,
        result: &Result<T, McpError>,
    ) {
        let mut record = self.record(method, client, params);
        record.took(started);
        match result {
            Ok(value) => record.response = serde_json::to_value(value).ok(),
            Err(e) => record.failed(Some(i64::from(e.code.0)), e.message.to_string()),
        }
        self.commit(record).await;
    }

    /// Asks a stateless client of `link`'s call: the call answers it with an
    /// `InputRequiredResult`, and this waits for the client's retry.
    async fn ask_by_input(
        &self,
        method: &str,
        link: &CallLink,
        inputs: &crate::bridge::Inputs,
        request: InputRequest,
        logged: Option<serde_json::Value>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Result<serde_json::Value, McpError> {
        let started = std::time::Instant::now();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let result = async {
            inputs
                .send(crate::bridge::CallEvent::Input { request, reply })
                .await
                .map_err(|_| McpError::internal_error("the client's call has ended", None))?;
            tokio::select! {
                answer = answer => answer.unwrap_or_else(|_| {
                    Err(McpError::internal_error("the client did not answer in time", None))
                }),
                () = cancel.cancelled() => Err(McpError::internal_error("cancelled by the server", None)),
            }
        }
        .await;
        self.record_request(method, Some(&link.client), logged, started, &result)
            .await;
        result
    }

    fn link_for(&self, context: &RequestContext<RoleClient>) -> Option<Arc<CallLink>> {
        let origin = match context.extensions.get::<InboundStreamOrigin>() {
            Some(InboundStreamOrigin::OutboundRequest(id)) => Some(id),
            _ => None,
        };
        self.shared.dispatch.call_for_request(self.server(), origin)
    }

    fn no_session(&self, what: &str) -> McpError {
        McpError::internal_error(
            format!(
                "{what} from server \"{}\" arrived outside any client call; no client to ask",
                self.server()
            ),
            None,
        )
    }
}

/// Sends a server->client request to a downstream session as part of the call
/// `origin`, so streamable HTTP delivers it on that call's response stream.
/// Runs in its own task: rmcp attaches the task-local request being handled
/// (here: the upstream's) to outgoing requests, which would misroute it.
pub(crate) async fn ask_downstream(
    peer: Peer<RoleServer>,
    origin: Option<RequestId>,
    mut request: ServerRequest,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<ClientResult, McpError> {
    if let Some(origin) = origin {
        use rmcp::model::GetExtensions as _;
        request
            .extensions_mut()
            .insert(OriginatingRequestId(origin));
    }
    let task = tokio::spawn(async move {
        let handle = peer
            .send_request_with_option(request, Default::default())
            .await?;
        let (id, peer) = (handle.id.clone(), handle.peer.clone());
        tokio::select! {
            result = handle.await_response() => result,
            () = cancel.cancelled() => {
                // The upstream gave up on its request: tell the client too.
                let _ = peer
                    .notify_cancelled(CancelledNotificationParam::new(
                        Some(id),
                        Some("cancelled by the server".into()),
                    ))
                    .await;
                Err(rmcp::ServiceError::Cancelled { reason: None })
            }
        }
    });
    match task.await {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(rmcp::ServiceError::McpError(e))) => Err(e),
        Ok(Err(e)) => Err(McpError::internal_error(
            format!("client did not answer: {e}"),
            None,
        )),
        Err(e) => Err(McpError::internal_error(
            format!("request task failed: {e}"),
            None,
        )),
    }
}

/// A client's answer (JSON) as the result type the server expects.
fn from_value<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, McpError> {
    serde_json::from_value(value)
        .map_err(|e| McpError::invalid_params(format!("malformed input response: {e}"), None))
}

impl UpstreamClient {
    /// Routes a notification a 2026-07-28 server sent on the gateway's
    /// `subscriptions/listen` stream, as if it had come on a session.
    pub(crate) async fn route_notification(
        &self,
        notification: ServerNotification,
        peer: &Peer<RoleClient>,
    ) {
        match notification {
            ServerNotification::ToolListChangedNotification(_) => self.tools_changed(peer).await,
            ServerNotification::PromptListChangedNotification(_) => {
                self.list_changed("notifications/prompts/list_changed", ListKind::Prompts)
                    .await;
            }
            ServerNotification::ResourceListChangedNotification(_) => {
                self.list_changed("notifications/resources/list_changed", ListKind::Resources)
                    .await;
            }
            ServerNotification::ResourceUpdatedNotification(n) => {
                self.resource_updated(n.params).await;
            }
            ServerNotification::LoggingMessageNotification(n) => self.log(n.params).await,
            _ => {}
        }
    }

    /// A server's log message, to every session that hears it, then recorded.
    async fn log(&self, params: LoggingMessageNotificationParam) {
        self.relay_log(&params).await;
        self.record_log(params).await;
    }

    async fn relay_log(&self, params: &LoggingMessageNotificationParam) {
        let listeners = self
            .shared
            .dispatch
            .log_listeners(self.server(), params.level);
        for listener in &listeners {
            listener.log(params.clone()).await;
        }
    }

    async fn record_log(&self, params: LoggingMessageNotificationParam) {
        let logged = serde_json::to_value(&params).ok();
        self.commit(self.record("notifications/message", None, logged))
            .await;
    }

    async fn tools_changed(&self, peer: &Peer<RoleClient>) {
        self.commit(self.record("notifications/tools/list_changed", None, None))
            .await;
        // Refresh the cache before telling anyone, so the list they fetch next
        // is already the new one.
        self.shared.refresh_tools(peer).await;
        for listener in self.shared.dispatch.listeners(self.server()) {
            listener.list_changed(ListKind::Tools).await;
        }
    }

    async fn list_changed(&self, method: &str, kind: ListKind) {
        self.commit(self.record(method, None, None)).await;
        for listener in self.shared.dispatch.listeners(self.server()) {
            listener.list_changed(kind).await;
        }
    }

    async fn resource_updated(&self, params: ResourceUpdatedNotificationParam) {
        self.commit(self.record(
            "notifications/resources/updated",
            None,
            serde_json::to_value(&params).ok(),
        ))
        .await;
        for listener in self.shared.dispatch.subscribers(self.server(), &params.uri) {
            let mut params = params.clone();
            params.uri = listener.route.present_uri(self.server(), &params.uri);
            listener.resource_updated(params).await;
        }
    }
}

impl ClientHandler for UpstreamClient {
    fn get_info(&self) -> ClientConfig {
        let mut config = ClientConfig::new(
            ClientCapabilities::builder()
                .enable_roots()
                .enable_roots_list_changed()
                .enable_sampling()
                .enable_elicitation()
                .build(),
            Implementation::new("switchboard", env!("CARGO_PKG_VERSION")),
        );
        config.protocol_version = UPSTREAM_LEGACY_VERSION;
        config
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        let link = self
            .link_for(&context)
            .ok_or_else(|| self.no_session("a sampling request"))?;
        if link.capabilities.sampling.is_none() {
            return Err(McpError::invalid_request(
                "the client of this call does not support sampling",
                None,
            ));
        }
        let logged = serde_json::to_value(&params).ok();
        let mut request = CreateMessageRequest::new(params);
        request.params.meta = Some(context.meta.clone()).filter(|m| !m.0.is_empty());
        if let Some(inputs) = &link.inputs {
            let value = self
                .ask_by_input(
                    "sampling/createMessage",
                    &link,
                    inputs,
                    InputRequest::CreateMessage(request),
                    logged,
                    context.ct,
                )
                .await?;
            return from_value(value);
        }
        let request = ServerRequest::CreateMessageRequest(request);
        match self
            .ask_for_call("sampling/createMessage", &link, request, logged, context.ct)
            .await?
        {
            ClientResult::CreateMessageResult(result) => Ok(*result),
            other => reparse(other),
        }
    }

    async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        let link = self
            .link_for(&context)
            .ok_or_else(|| self.no_session("an elicitation request"))?;
        if link.capabilities.elicitation.is_none() {
            return Err(McpError::invalid_request(
                "the client of this call does not support elicitation",
                None,
            ));
        }
        let logged = serde_json::to_value(&params).ok();
        if let Some(inputs) = &link.inputs {
            let value = self
                .ask_by_input(
                    "elicitation/create",
                    &link,
                    inputs,
                    InputRequest::Elicitation(ElicitRequest::new(params)),
                    logged,
                    context.ct,
                )
                .await?;
            return from_value(value);
        }
        let request = ServerRequest::ElicitRequest(ElicitRequest::new(params));
        match self
            .ask_for_call("elicitation/create", &link, request, logged, context.ct)
            .await?
        {
            ClientResult::ElicitResult(result) => Ok(result),
            other => reparse(other),
        }
    }

    async fn list_roots(
        &self,
        context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, McpError> {
        let link = self.link_for(&context);
        if let Some(link) = &link
            && let Some(inputs) = &link.inputs
            && link.capabilities.roots.is_some()
        {
            let value = self
                .ask_by_input(
                    "roots/list",
                    link,
                    inputs,
                    InputRequest::ListRoots(ListRootsRequest::default()),
                    None,
                    context.ct,
                )
                .await?;
            return from_value(value);
        }
        let (peer, origin) = match link {
            Some(link) if link.capabilities.roots.is_some() && link.inputs.is_none() => {
                (link.peer.clone(), Some(link.downstream_id.clone()))
            }
            _ => match self.shared.dispatch.recent_roots_session(self.server()) {
                Some(peer) => (peer, None),
                // No client exposes roots: an empty list is the honest answer.
                None => return Ok(ListRootsResult::default()),
            },
        };
        let started = std::time::Instant::now();
        let request = ServerRequest::ListRootsRequest(ListRootsRequest::default());
        let result = match ask_downstream(peer, origin, request, context.ct).await {
            Ok(ClientResult::ListRootsResult(result)) => Ok(result),
            Ok(other) => reparse(other),
            Err(e) => Err(e),
        };
        self.record_request("roots/list", None, None, started, &result)
            .await;
        result
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        context: NotificationContext<RoleClient>,
    ) {
        let Some(link) = self
            .shared
            .dispatch
            .call_by_progress(self.server(), &params.progress_token)
        else {
            return;
        };
        // The client only hears about progress it asked for, under its own token.
        let Some(token) = link.downstream_token.clone() else {
            return;
        };
        let mut params = params;
        params.progress_token = token;
        let logged = serde_json::to_value(&params).ok();
        if let Err(e) = link.peer.notify_progress(params).await {
            tracing::debug!(server = self.server(), error = %e, "progress not delivered");
        }
        // Ends the relay counted when the notification arrived.
        drop(context);
        self.commit(self.record("notifications/progress", Some(&link.client), logged))
            .await;
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        context: NotificationContext<RoleClient>,
    ) {
        // Relayed before it is recorded: a stateless request waits for the
        // relays counted as the message arrived, not for the audit log.
        self.relay_log(&params).await;
        drop(context);
        self.record_log(params).await;
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.resource_updated(params).await;
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.list_changed("notifications/resources/list_changed", ListKind::Resources)
            .await;
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.list_changed("notifications/prompts/list_changed", ListKind::Prompts)
            .await;
    }

    async fn on_tool_list_changed(&self, context: NotificationContext<RoleClient>) {
        self.tools_changed(&context.peer).await;
    }
}
