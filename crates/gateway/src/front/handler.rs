//! The MCP methods of a client session: each one routed to its upstream.
#![expect(
    deprecated,
    reason = "subscribe, logging and roots are still part of 2025-11-25"
)]

use std::{borrow::Cow, sync::Arc};

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::*,
    service::{NotificationContext, RequestContext, SubscriptionContext},
};

use super::{
    Bound, Front, Route, STANDARD_METHODS, SUPPORTED_VERSIONS, completion_target, forward, reparse,
    split_name, split_uri,
};
use crate::{bridge, dispatch::Channel, names};

impl ServerHandler for Front {
    fn get_info(&self) -> ServerConfig {
        match self.bound.get() {
            Some(bound) => self.info_for(&bound.caller.route),
            None => {
                // Not bound yet: rmcp checks a stateless request against this
                // before the handler learns the endpoint. Let tasks/* through
                // to the handler, which relays them where the server offers
                // them (discover and initialize describe the endpoint itself).
                let mut info = self.info_for(&Route::All);
                info.capabilities
                    .extensions
                    .get_or_insert_with(Default::default)
                    .insert(TASKS_EXTENSION_ID.to_owned(), JsonObject::new());
                info
            }
        }
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(SUPPORTED_VERSIONS)
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        let mut audit = self.audit_begin(&context, "initialize", None, Some(&request));
        let result: Result<InitializeResult, McpError> = async {
            let caller = Self::caller(&context.extensions).ok_or_else(|| {
                McpError::invalid_request("request did not pass the gateway's guard", None)
            })?;
            if let Route::Server(name) = &caller.route {
                if let Err(verdict) = self.core.policy.server_visible(&caller.client, name) {
                    return Err(super::policy::denied(
                        &format!("server \"{name}\""),
                        &verdict,
                    ));
                }
                // Mirror the server's capabilities: give it a moment if it is
                // still starting.
                self.upstream(name)?.settled(self.core.settle).await;
            }
            context.peer.set_peer_info(request.clone());
            // The version first (the session records it); the answer once the
            // session is bound, so it describes this endpoint.
            let version = self
                .negotiate_initialize(&request)?
                .protocol_version
                .to_string();
            audit.protocol(&version);
            let key = self.core.dispatch.register_session(
                context.peer.clone(),
                Channel::Session,
                version.clone(),
                caller.route.clone(),
                request.capabilities.clone(),
            );
            if let Some(slot) = context
                .extensions
                .get::<http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<crate::dispatch::SessionSlot>())
            {
                let _ = slot.0.set(key);
            }
            let bound = Bound {
                key,
                caller,
                peer: context.peer.clone(),
                capabilities: request.capabilities.clone(),
                stateless: false,
                protocol_version: version,
            };
            if self.bound.set(bound).is_err() {
                self.core.dispatch.remove_session(key);
                return Err(McpError::invalid_request(
                    "session is already initialized",
                    None,
                ));
            }
            tracing::info!(
                session = key,
                client = %request.client_info.name,
                version = %request.protocol_version,
                "session initialized"
            );
            self.negotiate_initialize(&request)
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, McpError> {
        let audit = self.audit_begin(&context, "server/discover", None, None::<&()>);
        let result: Result<DiscoverResult, McpError> = async {
            let caller = Self::caller(&context.extensions).ok_or_else(|| {
                McpError::invalid_request("request did not pass the gateway's guard", None)
            })?;
            if let Route::Server(name) = &caller.route {
                if let Err(verdict) = self.core.policy.server_visible(&caller.client, name) {
                    return Err(super::policy::denied(
                        &format!("server \"{name}\""),
                        &verdict,
                    ));
                }
                self.upstream(name)?.settled(self.core.settle).await;
            }
            Ok(DiscoverResult::from_server_info(
                SUPPORTED_VERSIONS.to_vec(),
                self.info_for(&caller.route),
            ))
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // Everything the endpoint advertises; rmcp narrows it to that.
        Some(requested.clone())
    }

    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), McpError> {
        let context = subscription.request_context().clone();
        let accepted = subscription.accepted().clone();
        let mut audit = self.audit_begin(&context, "subscriptions/listen", None, Some(&accepted));
        let bound =
            match self.bind_stateless(&context, Channel::Listen(subscription.sink().clone())) {
                Ok(bound) => bound,
                Err(e) => return self.audit_end(audit, &context, Err(e)).await,
            };
        // Resource subscriptions are held upstream for as long as the stream is open.
        let mut wanted = Vec::new();
        for uri in accepted.resource_subscriptions.iter().flatten() {
            match self.resource_target(bound, uri) {
                Ok((up, upstream_uri)) => wanted.push((up, upstream_uri)),
                Err(e) => {
                    tracing::debug!(uri, error = %e.message, "subscription to an unknown resource")
                }
            }
        }
        let pairs: Vec<(String, String)> = wanted
            .iter()
            .map(|(up, uri)| (up.name().to_owned(), uri.clone()))
            .collect();
        let fresh = self.core.dispatch.subscribe_all(bound.key, &pairs);
        for (up, uri) in &wanted {
            if fresh.contains(&(up.name().to_owned(), uri.clone())) {
                audit.server(up.name());
                if let Err(e) = up.subscribe_resource(uri, self.core.settle).await {
                    tracing::warn!(server = up.name(), uri, error = %e, "upstream subscription failed");
                }
            }
        }
        if let Some(opening) = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Arc<crate::opening::Opening>>())
        {
            opening.opened();
        }
        // The record is the opening of the stream; it stays open until the
        // client cancels it.
        let _ = self.audit_end(audit, &context, Ok(())).await;
        subscription.cancelled().await;
        Ok(())
    }

    async fn ping(&self, context: RequestContext<RoleServer>) -> Result<(), McpError> {
        let mut audit = self.audit_begin(&context, "ping", None, None::<&()>);
        let result: Result<(), McpError> = async {
            let bound = self.session(&context)?;
            match self.single(bound)? {
                // 2026-07-28 has no ping: the gateway answers for such a server.
                Some(up) if up.connection().is_ok_and(|live| live.stateless()) => Ok(()),
                Some(up) => self
                    .pass(
                        bound,
                        &up,
                        ClientRequest::PingRequest(PingRequest::default()),
                        &context,
                        &mut audit,
                    )
                    .await
                    .map(|_| ()),
                None => Ok(()),
            }
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let mut audit = self.audit_begin(
            &context,
            "completion/complete",
            completion_target(&request),
            Some(&request),
        );
        let result: Result<CompleteResult, McpError> = async {
            let bound = self.session(&context)?;
            let (up, request) = match self.single(bound)? {
                Some(up) => (up, request),
                None => self.route_completion(request)?,
            };
            let result = self
                .pass(
                    bound,
                    &up,
                    ClientRequest::CompleteRequest(CompleteRequest::new(request)),
                    &context,
                    &mut audit,
                )
                .await?;
            match result {
                ServerResult::CompleteResult(r) => Ok(r),
                other => reparse(other),
            }
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let mut audit = self.audit_begin(&context, "logging/setLevel", None, Some(&request));
        let result: Result<(), McpError> = async {
            let bound = self.session(&context)?;
            self.core.dispatch.set_log_level(bound.key, request.level);
            match self.single(bound)? {
                // A 2026-07-28 server takes the level with each request.
                Some(up) if up.connection().is_ok_and(|live| live.stateless()) => Ok(()),
                Some(up) => self
                    .pass(
                        bound,
                        &up,
                        ClientRequest::SetLevelRequest(SetLevelRequest::new(request)),
                        &context,
                        &mut audit,
                    )
                    .await
                    .map(|_| ()),
                None => {
                    // Upstreams are shared: ask each for what this session wants;
                    // the per-session filter drops what others asked for.
                    for up in self.core.hub.all() {
                        if let Ok(live) = up.connection()
                            && live.info.capabilities.logging.is_some()
                            && !live.stateless()
                        {
                            let _ = live.peer.set_level(request.clone()).await;
                        }
                    }
                    Ok(())
                }
            }
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let mut audit = self.audit_begin(
            &context,
            "prompts/get",
            Some(request.name.clone()),
            Some(&request),
        );
        let result: Result<GetPromptResponse, McpError> = async {
            let bound = self.session(&context)?;
            let mut request = request;
            let up = match self.single(bound)? {
                Some(up) => up,
                None => {
                    let (server, name) = split_name(&request.name, "prompt")?;
                    audit.server(server);
                    let up = self.upstream(server)?;
                    audit.name(name);
                    request.name = name.to_owned();
                    up
                }
            };
            let result = match request.request_state.clone() {
                Some(state) if bound.stateless && bridge::is_ours(Some(&state)) => {
                    audit.server(up.name());
                    forward::resume(
                        &self.core.bridge,
                        bound,
                        &state,
                        request.input_responses,
                        &context,
                    )
                    .await?
                }
                _ => {
                    self.pass(
                        bound,
                        &up,
                        ClientRequest::GetPromptRequest(GetPromptRequest::new(request)),
                        &context,
                        &mut audit,
                    )
                    .await?
                }
            };
            match result {
                ServerResult::GetPromptResult(r) => Ok(GetPromptResponse::Complete(r)),
                ServerResult::InputRequiredResult(r) => Ok(GetPromptResponse::InputRequired(r)),
                other => reparse(other).map(GetPromptResponse::Complete),
            }
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let mut audit = self.audit_begin(&context, "prompts/list", None, request.as_ref());
        let result: Result<ListPromptsResult, McpError> = async {
            let bound = self.session(&context)?;
            match self.single(bound)? {
                Some(up) => {
                    let request = ListPromptsRequest::with_param(request.unwrap_or_default());
                    match self
                        .pass(
                            bound,
                            &up,
                            ClientRequest::ListPromptsRequest(request),
                            &context,
                            &mut audit,
                        )
                        .await?
                    {
                        ServerResult::ListPromptsResult(r) => Ok(r),
                        other => reparse(other),
                    }
                }
                None => self.list_all_prompts(request).await,
            }
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let mut audit = self.audit_begin(&context, "resources/list", None, request.as_ref());
        let result: Result<ListResourcesResult, McpError> = async {
            let bound = self.session(&context)?;
            match self.single(bound)? {
                Some(up) => {
                    let request = ListResourcesRequest::with_param(request.unwrap_or_default());
                    match self
                        .pass(
                            bound,
                            &up,
                            ClientRequest::ListResourcesRequest(request),
                            &context,
                            &mut audit,
                        )
                        .await?
                    {
                        ServerResult::ListResourcesResult(r) => Ok(r),
                        other => reparse(other),
                    }
                }
                None => self.list_all_resources(request).await,
            }
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let mut audit =
            self.audit_begin(&context, "resources/templates/list", None, request.as_ref());
        let result: Result<ListResourceTemplatesResult, McpError> = async {
            let bound = self.session(&context)?;
            match self.single(bound)? {
                Some(up) => {
                    let request =
                        ListResourceTemplatesRequest::with_param(request.unwrap_or_default());
                    match self
                        .pass(
                            bound,
                            &up,
                            ClientRequest::ListResourceTemplatesRequest(request),
                            &context,
                            &mut audit,
                        )
                        .await?
                    {
                        ServerResult::ListResourceTemplatesResult(r) => Ok(r),
                        other => reparse(other),
                    }
                }
                None => self.list_all_resource_templates(request).await,
            }
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let mut audit = self.audit_begin(
            &context,
            "resources/read",
            Some(request.uri.clone()),
            Some(&request),
        );
        let result: Result<ReadResourceResponse, McpError> = async {
            let bound = self.session(&context)?;
            let mut request = request;
            let (up, server) = match self.single(bound)? {
                Some(up) => (up, None),
                None => {
                    let (server, uri) = split_uri(&request.uri)?;
                    let (server, uri) = (server.to_owned(), uri.to_owned());
                    audit.server(&server);
                    let up = self.upstream(&server)?;
                    audit.name(uri.clone());
                    audit.server(&server);
                    request.uri = uri;
                    (up, Some(server))
                }
            };
            let result = match request.request_state.clone() {
                Some(state) if bound.stateless && bridge::is_ours(Some(&state)) => {
                    audit.server(up.name());
                    forward::resume(
                        &self.core.bridge,
                        bound,
                        &state,
                        request.input_responses,
                        &context,
                    )
                    .await?
                }
                _ => {
                    self.pass(
                        bound,
                        &up,
                        ClientRequest::ReadResourceRequest(ReadResourceRequest::new(request)),
                        &context,
                        &mut audit,
                    )
                    .await?
                }
            };
            let mut result = match result {
                ServerResult::ReadResourceResult(r) => r,
                ServerResult::InputRequiredResult(r) => {
                    return Ok(ReadResourceResponse::InputRequired(r));
                }
                other => reparse(other)?,
            };
            if let Some(server) = server {
                for contents in &mut result.contents {
                    if let ResourceContents::TextResourceContents { uri, .. }
                    | ResourceContents::BlobResourceContents { uri, .. } = contents
                    {
                        *uri = names::qualify_uri(&server, uri);
                    }
                }
            }
            Ok(ReadResourceResponse::Complete(result))
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let mut audit = self.audit_begin(
            &context,
            "resources/subscribe",
            Some(request.uri.clone()),
            Some(&request),
        );
        let result: Result<(), McpError> = async {
            let bound = self.session(&context)?;
            let (up, uri) = self.resource_target(bound, &request.uri)?;
            audit.server(up.name());
            audit.name(uri.clone());
            if self.core.dispatch.subscribe(bound.key, up.name(), &uri)
                && let Err(e) = up.subscribe_resource(&uri, self.core.settle).await
            {
                self.core.dispatch.unsubscribe(bound.key, up.name(), &uri);
                return Err(e);
            }
            Ok(())
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let mut audit = self.audit_begin(
            &context,
            "resources/unsubscribe",
            Some(request.uri.clone()),
            Some(&request),
        );
        let result: Result<(), McpError> = async {
            let bound = self.session(&context)?;
            let (up, uri) = self.resource_target(bound, &request.uri)?;
            audit.server(up.name());
            audit.name(uri.clone());
            if self.core.dispatch.unsubscribe(bound.key, up.name(), &uri) {
                up.unsubscribe_resource(&uri).await?;
            }
            Ok(())
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let mut audit = self.audit_begin(
            &context,
            "tools/call",
            Some(request.name.to_string()),
            Some(&request),
        );
        let result: Result<CallToolResponse, McpError> = async {
            let bound = self.session(&context)?;
            let mut request = request;
            let up = match self.single(bound)? {
                Some(up) => up,
                None => {
                    let (server, name) = split_name(&request.name, "tool")?;
                    audit.server(server);
                    let up = self.upstream(server)?;
                    audit.name(name);
                    request.name = Cow::Owned(name.to_owned());
                    up
                }
            };
            let span = tracing::info_span!("call_tool", client = %bound.caller.client, server = up.name(), tool = %request.name, id = %context.id);
            let _entered = span.enter();
            drop(_entered);
            let result = match request.request_state.clone() {
                // The call was authorized when it started; this resumes it.
                Some(state) if bound.stateless && bridge::is_ours(Some(&state)) => {
                    audit.server(up.name());
                    forward::resume(&self.core.bridge, bound, &state, request.input_responses, &context).await?
                }
                _ => {
                    self.authorize_call(bound, &up, &request, &context, &mut audit)
                        .await?;
                    self.pass(
                        bound,
                        &up,
                        ClientRequest::CallToolRequest(CallToolRequest::new(request)),
                        &context,
                        &mut audit,
                    )
                    .await?
                }
            };
            match result {
                ServerResult::CallToolResult(r) => Ok(CallToolResponse::Complete(r)),
                ServerResult::InputRequiredResult(r) => Ok(CallToolResponse::InputRequired(r)),
                ServerResult::CreateTaskResult(r) => Ok(CallToolResponse::Task(r)),
                other => reparse(other).map(CallToolResponse::Complete),
            }
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let mut audit = self.audit_begin(&context, "tools/list", None, request.as_ref());
        let result: Result<ListToolsResult, McpError> = async {
            let bound = self.session(&context)?;
            match self.single(bound)? {
                Some(up) => {
                    let request = ListToolsRequest::with_param(request.unwrap_or_default());
                    match self
                        .pass(
                            bound,
                            &up,
                            ClientRequest::ListToolsRequest(request),
                            &context,
                            &mut audit,
                        )
                        .await?
                    {
                        ServerResult::ListToolsResult(mut r) => {
                            // The live answer is checked against the pins too:
                            // a server may change a tool without telling anyone.
                            self.core.policy.observe_tools(up.name(), &r.tools).await;
                            r.tools = self.visible_tools(bound, up.name(), &r.tools);
                            Ok(r)
                        }
                        other => reparse(other),
                    }
                }
                None => Ok(self.list_all_tools(bound).await),
            }
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        let mut audit = self.audit_begin(&context, "tasks/get", None, Some(&request));
        let result = async {
            let (bound, up) = self.task_upstream(&context)?;
            let request = ClientRequest::GetTaskRequest(GetTaskRequest::new(request));
            match self.pass(bound, &up, request, &context, &mut audit).await? {
                ServerResult::GetTaskResult(r) => Ok(r),
                other => reparse(other),
            }
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let mut audit = self.audit_begin(&context, "tasks/update", None, Some(&request));
        let result = async {
            let (bound, up) = self.task_upstream(&context)?;
            let request = ClientRequest::UpdateTaskRequest(UpdateTaskRequest::new(request));
            self.pass(bound, &up, request, &context, &mut audit)
                .await
                .map(|_| ())
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let mut audit = self.audit_begin(&context, "tasks/cancel", None, Some(&request));
        let result = async {
            let (bound, up) = self.task_upstream(&context)?;
            let request = ClientRequest::CancelTaskRequest(CancelTaskRequest::new(request));
            self.pass(bound, &up, request, &context, &mut audit)
                .await
                .map(|_| ())
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        // Used by rmcp to check Mcp-Name headers against input schemas.
        let bound = self.bound.get()?;
        let (server, tool) = match &bound.caller.route {
            Route::Server(server) => (server.as_str(), name),
            Route::All => names::split_qualified(name)?,
        };
        self.core
            .hub
            .get(server)?
            .tools()
            .iter()
            .find(|t| t.name == tool)
            .cloned()
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        let mut audit = self.audit_begin(&context, &request.method.clone(), None, Some(&request));
        let result: Result<CustomResult, McpError> = async {
            let bound = self.session(&context)?;
            let method = request.method.clone();
            let Some(up) = self.single(bound)? else {
                // rmcp hands over standard methods whose params did not parse as
                // custom requests: those are bad params, not unknown methods.
                if STANDARD_METHODS.contains(&method.as_str()) {
                    return Err(McpError::invalid_params(
                        format!("invalid params for {method}"),
                        None,
                    ));
                }
                return Err(McpError::new(
                    ErrorCode::METHOD_NOT_FOUND,
                    format!("method not found: {method}"),
                    None,
                ));
            };
            match self
                .pass(
                    bound,
                    &up,
                    ClientRequest::CustomRequest(request),
                    &context,
                    &mut audit,
                )
                .await?
            {
                ServerResult::CustomResult(r) => Ok(r),
                other => reparse(other),
            }
        }
        .await;
        self.audit_end(audit, &context, result).await
    }

    async fn on_cancelled(
        &self,
        notification: CancelledNotificationParam,
        _context: NotificationContext<RoleServer>,
    ) {
        // rmcp has already cancelled the request's token; forward() turns
        // that into a cancel upstream.
        self.audit_notification(
            "notifications/cancelled",
            serde_json::to_value(notification).ok(),
        )
        .await;
    }

    async fn on_progress(
        &self,
        notification: ProgressNotificationParam,
        _context: NotificationContext<RoleServer>,
    ) {
        self.audit_notification(
            "notifications/progress",
            serde_json::to_value(notification).ok(),
        )
        .await;
    }

    async fn on_initialized(&self, _context: NotificationContext<RoleServer>) {
        self.audit_notification("notifications/initialized", None)
            .await;
    }

    async fn on_custom_notification(
        &self,
        notification: CustomNotification,
        _context: NotificationContext<RoleServer>,
    ) {
        let method = notification.method.clone();
        self.audit_notification(&method, notification.params).await;
    }

    async fn on_roots_list_changed(&self, _context: NotificationContext<RoleServer>) {
        self.audit_notification("notifications/roots/list_changed", None)
            .await;
        let Some(bound) = self.bound.get() else {
            return;
        };
        for up in self.core.hub.all() {
            if bound.caller.route.includes(up.name())
                && let Ok(live) = up.connection()
            {
                let _ = live.peer.notify_roots_list_changed().await;
            }
        }
    }
}
