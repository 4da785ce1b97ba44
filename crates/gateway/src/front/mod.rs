//! The downstream side: one [`Front`] per client session.
//!
//! rmcp's streamable HTTP service creates a `Front` for every session (and for
//! every sessionless `server/discover` probe). The HTTP guard has already
//! identified the client and the endpoint; `initialize` binds both to the
//! session, and every later request is checked against them.
#![expect(
    deprecated,
    reason = "subscribe, logging and roots are still part of 2025-11-25"
)]

mod aggregate;
mod audit;
pub(crate) mod direct;
mod forward;
mod handler;
mod mrtr;
mod policy;
mod tools_cache;

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use rmcp::{
    ErrorData as McpError, RoleServer,
    model::*,
    service::{Peer, RequestContext},
};

pub use crate::route::{Caller, Route};
pub(crate) use crate::wire::reparse;
use forward::forward;
pub(crate) use forward::relay_error;

use crate::{
    dispatch::{Dispatch, SessionKey},
    hub::Hub,
    names,
    upstream::Upstream,
};

/// Gateway state every session needs.
pub(crate) struct Core {
    pub hub: Arc<Hub>,
    pub dispatch: Arc<Dispatch>,
    /// Calls of stateless clients parked while they answer the server.
    pub bridge: Arc<crate::bridge::Bridge>,
    /// How long list and initialize requests wait for servers still starting.
    pub settle: Duration,
    /// Items after which a merged list page ends (with a cursor to the rest).
    pub page_size: usize,
    /// Where every message is recorded.
    pub audit: Arc<switchboard_audit::AuditLog>,
    /// Who may call what.
    pub policy: Arc<crate::policy::Policy>,
    /// Merged tool lists of `/mcp`, per client.
    pub tools_cache: tools_cache::ToolsCache,
    /// Calls on the direct path (see [`direct`]).
    pub direct: direct::DirectCalls,
    /// How long rmcp keeps an idle client session.
    pub session_idle: Duration,
}

impl Core {
    /// What the merged tool list is built from: each ready server's tools.
    pub(crate) fn tool_sources(&self) -> tools_cache::Sources {
        self.hub
            .all()
            .into_iter()
            .filter(|up| up.connection().is_ok())
            .map(|up| (up.name().to_owned(), up.tools()))
            .collect()
    }
}

/// A session after `initialize`, or one stateless 2026-07-28 request.
pub(crate) struct Bound {
    pub key: SessionKey,
    pub caller: Caller,
    pub peer: Peer<RoleServer>,
    pub capabilities: ClientCapabilities,
    /// A 2026-07-28 request: no session, no server->client requests.
    pub stateless: bool,
    /// Protocol version the client speaks.
    pub protocol_version: String,
}

/// The MCP server the gateway presents to one client session.
pub struct Front {
    core: Arc<Core>,
    bound: OnceLock<Bound>,
}

/// Protocol versions the gateway accepts from clients: the session-based
/// ones through `initialize`, 2026-07-28 stateless (per-request `_meta`).
const SUPPORTED_VERSIONS: &[ProtocolVersion] = &[
    ProtocolVersion::V_2024_11_05,
    ProtocolVersion::V_2025_03_26,
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2026_07_28,
];

/// Whether a request speaks the stateless lifecycle (2026-07-28 and later).
fn is_stateless(context: &RequestContext<RoleServer>) -> bool {
    context
        .meta
        .protocol_version()
        .is_some_and(|v| !v.has_initialize())
}

impl Front {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self {
            core,
            bound: OnceLock::new(),
        }
    }

    fn caller(context_extensions: &Extensions) -> Option<Caller> {
        context_extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>())
            .cloned()
    }

    /// The bound session, after checking the request comes from the same
    /// client through the same endpoint (a session id is not a credential).
    fn session(&self, context: &RequestContext<RoleServer>) -> Result<&Bound, McpError> {
        if self.bound.get().is_none() && is_stateless(context) {
            return self.bind_stateless(context, crate::dispatch::Channel::Request);
        }
        let bound = self
            .bound
            .get()
            .ok_or_else(|| McpError::invalid_request("session is not initialized", None))?;
        if let Some(caller) = Self::caller(&context.extensions)
            && caller != bound.caller
        {
            return Err(McpError::invalid_request(
                "this session belongs to another client or endpoint",
                None,
            ));
        }
        self.core.dispatch.touch_session(bound.key);
        Ok(bound)
    }

    /// Binds this `Front` to one stateless request (or listen stream): the
    /// client, endpoint, version and capabilities come with the request.
    fn bind_stateless(
        &self,
        context: &RequestContext<RoleServer>,
        channel: crate::dispatch::Channel,
    ) -> Result<&Bound, McpError> {
        let caller = Self::caller(&context.extensions).ok_or_else(|| {
            McpError::invalid_request("request did not pass the gateway's guard", None)
        })?;
        if let Route::Server(name) = &caller.route
            && let Err(verdict) = self.core.policy.server_visible(&caller.client, name)
        {
            return Err(policy::denied(&format!("server \"{name}\""), &verdict));
        }
        let version = context
            .meta
            .protocol_version()
            .unwrap_or(ProtocolVersion::V_2026_07_28)
            .to_string();
        let capabilities = context.client_capabilities().unwrap_or_default();
        let key = self.core.dispatch.register_session(
            context.peer.clone(),
            channel,
            version.clone(),
            caller.route.clone(),
            capabilities.clone(),
        );
        if let Some(level) = context.meta.log_level() {
            self.core.dispatch.set_log_level(key, level);
        }
        let bound = Bound {
            key,
            caller,
            peer: context.peer.clone(),
            capabilities,
            stateless: true,
            protocol_version: version,
        };
        if self.bound.set(bound).is_err() {
            self.core.dispatch.remove_session(key);
        }
        self.bound
            .get()
            .ok_or_else(|| McpError::internal_error("request binding failed", None))
    }

    fn upstream(&self, name: &str) -> Result<Arc<Upstream>, McpError> {
        let up = self.core.hub.get(name).ok_or_else(|| {
            McpError::invalid_params(format!("no enabled server named \"{name}\""), None)
        })?;
        if let Some(bound) = self.bound.get()
            && let Err(verdict) = self.core.policy.server_visible(&bound.caller.client, name)
        {
            return Err(policy::denied(&format!("server \"{name}\""), &verdict));
        }
        Ok(up)
    }

    /// Tasks live on one server: they are relayed on `/mcp/{server}` only
    /// (the aggregated endpoint does not offer the tasks extension).
    fn task_upstream(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Result<(&Bound, Arc<Upstream>), McpError> {
        let bound = self.session(context)?;
        match self.single(bound)? {
            Some(up) => Ok((bound, up)),
            None => Err(McpError::new(
                ErrorCode::METHOD_NOT_FOUND,
                "tasks are offered on /mcp/SERVER",
                None,
            )),
        }
    }

    /// For `/mcp/{server}`: that upstream, ready to take requests as they are.
    fn single(&self, bound: &Bound) -> Result<Option<Arc<Upstream>>, McpError> {
        match &bound.caller.route {
            Route::All => Ok(None),
            Route::Server(name) => self.upstream(name).map(Some),
        }
    }

    async fn pass(
        &self,
        bound: &Bound,
        upstream: &Upstream,
        request: ClientRequest,
        context: &RequestContext<RoleServer>,
        audit: &mut audit::Scope,
    ) -> Result<ServerResult, McpError> {
        audit.server(upstream.name());
        let again = (!bound.stateless)
            .then(|| mrtr::retryable(&request))
            .flatten();
        let result = forward(
            &self.core.dispatch,
            &self.core.bridge,
            bound,
            upstream,
            request,
            context,
            self.core.settle,
        )
        .await?;
        if bound.stateless && context.meta.log_level().is_some() {
            self.core
                .dispatch
                .settle_relays(bound.key, forward::PROGRESS_SETTLE)
                .await;
        }
        // A 2026-07-28 server asking a client with a session for input: ask
        // it the classic way and retry with the answers.
        match result {
            ServerResult::InputRequiredResult(asked) => match again {
                Some(request) => mrtr::drive(self, bound, upstream, request, asked, context).await,
                None => Ok(ServerResult::InputRequiredResult(asked)),
            },
            other => Ok(other),
        }
    }

    /// What `initialize` answers: on `/mcp/{server}` the upstream's own
    /// identity and capabilities, on `/mcp` the gateway's.
    fn info_for(&self, route: &Route) -> InitializeResult {
        if let Route::Server(name) = route
            && let Some(upstream) = self.core.hub.get(name)
            && let Ok(live) = upstream.connection()
        {
            let upstream_info = &live.info;
            let theirs = &upstream_info.capabilities;
            let mut capabilities = ServerCapabilities::default();
            capabilities.experimental = theirs.experimental.clone();
            capabilities.logging = theirs.logging.clone();
            capabilities.completions = theirs.completions.clone();
            capabilities.prompts = theirs.prompts.clone();
            capabilities.resources = theirs.resources.clone();
            capabilities.tools = theirs.tools.clone();
            // The tasks extension passes through (tasks/* are relayed); other
            // extensions need the gateway to implement their methods.
            capabilities.extensions = theirs.extensions.as_ref().and_then(|all| {
                let tasks: ExtensionCapabilities = all
                    .iter()
                    .filter(|(id, _)| id.as_str() == TASKS_EXTENSION_ID)
                    .map(|(id, settings)| (id.clone(), settings.clone()))
                    .collect();
                (!tasks.is_empty()).then_some(tasks)
            });
            let mut info = InitializeResult::new(capabilities);
            if let Some(server_info) = &upstream_info.server_info {
                info.server_info = server_info.clone();
            }
            info.instructions = upstream_info.instructions.clone();
            return info;
        }
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_resources_list_changed()
            .enable_completions()
            .enable_logging()
            .build();
        let mut info = InitializeResult::new(capabilities);
        info.server_info = Implementation::new("switchboard", env!("CARGO_PKG_VERSION"));
        info.instructions = Some(match route {
            Route::All => "Switchboard gateway: tools and prompts of every connected server, \
                           named SERVER__NAME; resource URIs are prefixed with SERVER+."
                .into(),
            Route::Server(name) => format!("Switchboard gateway for server \"{name}\"."),
        });
        info
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        let Some(bound) = self.bound.take() else {
            return;
        };
        self.core.policy.approvals.forget_session(bound.key);
        let released = self.core.dispatch.remove_session(bound.key);
        if released.is_empty() {
            return;
        }
        // Upstream subscriptions nobody holds any more are released in the
        // background: Drop cannot wait.
        let hub = self.core.hub.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                for (server, uri) in released {
                    if let Some(upstream) = hub.get(&server) {
                        let _ = upstream.unsubscribe_resource(&uri).await;
                    }
                }
            });
        }
    }
}

/// Client-to-server methods of MCP 2025-11-25.
const STANDARD_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "completion/complete",
    "logging/setLevel",
];

/// The prompt name or resource URI a completion request is about.
fn completion_target(request: &CompleteRequestParams) -> Option<String> {
    match &request.r#ref {
        Reference::Prompt(prompt) => Some(prompt.name.clone()),
        Reference::Resource(resource) => Some(resource.uri.clone()),
        _ => None,
    }
}

fn split_name<'a>(qualified: &'a str, what: &str) -> Result<(&'a str, &'a str), McpError> {
    names::split_qualified(qualified).ok_or_else(|| {
        McpError::invalid_params(
            format!("unknown {what} \"{qualified}\": names on this endpoint are SERVER__NAME"),
            None,
        )
    })
}

fn split_uri(uri: &str) -> Result<(&str, &str), McpError> {
    names::split_qualified_uri(uri).ok_or_else(|| {
        McpError::invalid_params(
            format!("unknown resource \"{uri}\": URIs on this endpoint are SERVER+URI"),
            None,
        )
    })
}
