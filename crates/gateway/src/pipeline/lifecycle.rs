//! The lifecycle the gateway answers itself: `initialize` opens a session,
//! `server/discover` says what the endpoint is; on `/mcp/{server}` it
//! mirrors the server, on `/mcp` it is the gateway.
#![expect(deprecated, reason = "logging is still part of 2025-11-25")]

use std::sync::Arc;

use rmcp::model::{
    DiscoverResult, ExtensionCapabilities, Implementation, InitializeResult, ProtocolVersion,
    ServerCapabilities, TASKS_EXTENSION_ID,
};
use serde_json::Value;

use super::{
    Bound, Core,
    bind::SUPPORTED_VERSIONS,
    methods::{Served, answer},
    refusal::Refusal,
    target::single,
};
use crate::{
    record::Recording,
    route::Route,
    wire::{Message, int_id, raw},
};

/// What this endpoint says about itself: on `/mcp/{server}` the server's own
/// identity and capabilities, on `/mcp` the gateway's.
pub(super) fn info_for(core: &Core, route: &Route) -> InitializeResult {
    if let Route::Server(name) = route
        && let Some(upstream) = core.hub.get(name)
        && let Ok(live) = upstream.connection()
    {
        let theirs = &live.info.capabilities;
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
        if let Some(server_info) = &live.info.server_info {
            info.server_info = server_info.clone();
        }
        info.instructions = live.info.instructions.clone();
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

fn version(text: &str) -> ProtocolVersion {
    serde_json::from_value(Value::String(text.to_owned())).unwrap_or(ProtocolVersion::V_2025_11_25)
}

/// The version a session speaks: the client's, when the gateway speaks it
/// (before 2026-07-28), else the newest session-era version.
fn negotiate(requested: &str) -> &'static str {
    SUPPORTED_VERSIONS
        .iter()
        .find(|v| **v == requested && !crate::mcp_headers::is_stateless_version(v))
        .copied()
        .unwrap_or("2025-11-25")
}

pub(super) async fn initialize(
    core: &Arc<Core>,
    bound: &Bound,
    requested: &str,
    capabilities: rmcp::model::ClientCapabilities,
    record: &mut Recording,
) -> Result<Served, Refusal> {
    if let Some(up) = single(core, bound)? {
        // Mirror the server's capabilities: give it a moment if it is
        // still starting.
        up.settled(core.settle).await;
    }
    let agreed = negotiate(requested);
    if let Some(old) = core.sessions.to_evict(&bound.caller.client) {
        tracing::info!(
            session = old.key,
            client = %bound.caller.client,
            "ending the client's least recently used session: it holds the most sessions one client may"
        );
        super::streams::end(core, &old).await;
    }
    let session = core
        .sessions
        .open(bound.caller.clone(), agreed.to_owned(), capabilities);
    record.session(Some(&session.id));
    record.protocol(agreed);
    let mut info = info_for(core, &bound.caller.route);
    info.protocol_version = version(agreed);
    tracing::info!(session = session.key, client = %bound.caller.client, version = agreed, "session initialized");
    Ok(Served::Opened(
        Message::response(int_id(0), raw(&info)),
        session.id.clone(),
    ))
}

pub(super) async fn discover(core: &Arc<Core>, bound: &Bound) -> Result<Served, Refusal> {
    if let Some(up) = single(core, bound)? {
        up.settled(core.settle).await;
    }
    let versions = SUPPORTED_VERSIONS.iter().map(|v| version(v)).collect();
    Ok(answer(&DiscoverResult::from_server_info(
        versions,
        info_for(core, &bound.caller.route),
    )))
}
