//! Which stage serves each method: the gateway answers the lifecycle and
//! the merged lists itself; everything about one server is decided (tool
//! calls) and relayed to it, its names on `/mcp` mapped to the server's.
#![expect(
    deprecated,
    reason = "logging and subscribe are still part of 2025-11-25"
)]

use std::sync::Arc;

use rmcp::model::{
    DiscoverResult, ExtensionCapabilities, Implementation, InitializeResult, ProtocolVersion,
    Reference, ServerCapabilities, TASKS_EXTENSION_ID,
};
use serde_json::{Map, Value, json};
use switchboard_audit::Decision;

use super::{
    Bound, Core, Outbox, aggregate,
    bind::SUPPORTED_VERSIONS,
    classify::{Params, Request},
    decide::{self, Call, Permit},
    refusal::Refusal,
    relay::{self, Forward},
    typed,
};
use crate::{
    bridge,
    mcp_headers::LIFECYCLE,
    names,
    record::Recording,
    route::Route,
    session::{Accepted, Listen},
    upstream::Upstream,
    wire::{Message, int_id, raw},
};

/// How a request was served.
pub(crate) enum Served {
    /// Its answer (id still to be set to the client's).
    Answer(Message),
    /// The answer to an `initialize`, and the session it opened.
    Opened(Message, Arc<str>),
    /// A stream that ended without an answer (a listen stream).
    Stream,
}

fn answer(value: &impl serde::Serialize) -> Served {
    Served::Answer(Message::response(int_id(0), raw(value)))
}

/// A server and the name it knows something by.
struct Target {
    up: Arc<Upstream>,
    name: String,
}

fn server(core: &Core, bound: &Bound, name: &str) -> Result<Arc<Upstream>, Refusal> {
    let up = core.hub.get(name).ok_or_else(|| match bound.caller.route {
        Route::Server(_) => Refusal::UnknownServer(name.to_owned()),
        Route::All => Refusal::InvalidParams {
            method: String::new(),
            detail: format!("no enabled server named \"{name}\""),
        },
    })?;
    decide::visible(core, bound, name)?;
    Ok(up)
}

/// `name` of a tool or prompt, on this endpoint.
fn by_name(core: &Core, bound: &Bound, name: &str, what: &'static str) -> Result<Target, Refusal> {
    match &bound.caller.route {
        Route::Server(s) => Ok(Target {
            up: server(core, bound, s)?,
            name: name.to_owned(),
        }),
        Route::All => {
            let (s, rest) = names::split_qualified(name).ok_or_else(|| Refusal::Unqualified {
                what,
                name: name.to_owned(),
                form: "SERVER__NAME",
            })?;
            Ok(Target {
                up: server(core, bound, s)?,
                name: rest.to_owned(),
            })
        }
    }
}

/// A resource URI, on this endpoint.
fn by_uri(core: &Core, bound: &Bound, uri: &str) -> Result<Target, Refusal> {
    match &bound.caller.route {
        Route::Server(s) => Ok(Target {
            up: server(core, bound, s)?,
            name: uri.to_owned(),
        }),
        Route::All => {
            let (s, rest) =
                names::split_qualified_uri(uri).ok_or_else(|| Refusal::Unqualified {
                    what: "resource",
                    name: uri.to_owned(),
                    form: "SERVER+URI",
                })?;
            Ok(Target {
                up: server(core, bound, s)?,
                name: rest.to_owned(),
            })
        }
    }
}

/// The one server of `/mcp/{server}`.
fn single(core: &Core, bound: &Bound) -> Result<Option<Arc<Upstream>>, Refusal> {
    match &bound.caller.route {
        Route::All => Ok(None),
        Route::Server(s) => server(core, bound, s).map(Some),
    }
}

fn aim(record: &mut Recording, target: &Target) {
    record.server(target.up.name());
    record.name(&target.name);
}

/// Serves one classified request.
pub(super) async fn serve(
    core: &Arc<Core>,
    bound: &Arc<Bound>,
    request: Request,
    record: &mut Recording,
    out: &Outbox,
) -> Result<Served, Refusal> {
    match &request.params {
        Params::Initialize(params) => {
            initialize(
                core,
                bound,
                params.protocol_version.as_str(),
                params.capabilities.clone(),
                record,
            )
            .await
        }
        Params::Discover => discover(core, bound).await,
        Params::Ping => match single(core, bound)? {
            // 2026-07-28 has no ping: the gateway answers for such a server.
            Some(up) if !up.connection().is_ok_and(|l| l.stateless()) => {
                pass(core, bound, &request, up, None, out).await
            }
            _ => Ok(answer(&json!({}))),
        },
        Params::SetLevel(level) => {
            if let Some(session) = bound.session() {
                session.set_log_level(*level);
            }
            match single(core, bound)? {
                Some(up) if !up.connection().is_ok_and(|l| l.stateless()) => {
                    pass(core, bound, &request, up, None, out).await
                }
                Some(_) => Ok(answer(&json!({}))),
                None => {
                    // Servers are shared: each is asked for the most any
                    // session wants; the per-session level filters the rest.
                    for up in core.hub.all() {
                        if let Ok(live) = up.connection()
                            && live.info.capabilities.logging.is_some()
                            && !live.stateless()
                        {
                            let mut params = Map::new();
                            params.insert("level".into(), json!("debug"));
                            let conn = live.conn.clone();
                            tokio::spawn(async move {
                                let _ = conn.call::<Value>("logging/setLevel", params).await;
                            });
                        }
                    }
                    Ok(answer(&json!({})))
                }
            }
        }
        Params::Subscribe(uri) | Params::Unsubscribe(uri) => {
            let subscribe = matches!(request.params, Params::Subscribe(_));
            subscription(core, bound, uri, subscribe, record).await
        }
        Params::Listen(params) => {
            listen(
                core,
                bound,
                &request,
                params.notifications.clone(),
                record,
                out,
            )
            .await
        }
        Params::List(params) => match single(core, bound)? {
            Some(up) => {
                let method = request.method.clone();
                let mut answer = relay_to(
                    core,
                    bound,
                    &request,
                    up.clone(),
                    request.raw.clone(),
                    None,
                    Permit::free(),
                    out,
                )
                .await?;
                if method == "tools/list" {
                    typed::visible_tools(core, bound, &up, &mut answer).await;
                }
                Ok(Served::Answer(answer))
            }
            None => aggregate::list(core, bound, &request.method, params.cursor.as_deref())
                .await
                .map(Served::Answer),
        },
        Params::CallTool(params) => {
            if let Some(served) = resumed(
                core,
                bound,
                &request,
                params.request_state.as_deref(),
                &params.name,
                "tool",
                record,
                out,
            )
            .await?
            {
                return Ok(served);
            }
            let target = by_name(core, bound, &params.name, "tool")?;
            aim(record, &target);
            let decided = decide::tool_call(
                core,
                bound,
                Call {
                    up: &target.up,
                    tool: &target.name,
                    called: &params.name,
                    arguments: params.arguments.as_ref(),
                    progress: request.meta.progress.as_ref(),
                },
                record,
                out,
            )
            .await;
            let (permit, tool) = match decided {
                // A tool its server does not list is never sent on the chance
                // that it exists; the model learns it as a tool error, the
                // way servers answer for tools they lack.
                Err(Refusal::UnknownTool(called)) => {
                    let rule = format!(
                        "server \"{}\" does not list tool \"{}\"",
                        target.up.name(),
                        target.name
                    );
                    record.decide(Decision::Denied, &rule);
                    return Ok(answer(&json!({
                        "content": [{ "type": "text", "text": format!("unknown tool \"{called}\": {rule}") }],
                        "isError": true,
                    })));
                }
                decided => decided?,
            };
            let mut raw_params = request.raw.clone();
            raw_params.insert("name".into(), raw(&target.name));
            let answer = relay_to(
                core,
                bound,
                &request,
                target.up.clone(),
                raw_params,
                Some(tool.input_schema.clone()),
                permit,
                out,
            )
            .await?;
            core.tasks
                .created(target.up.name(), &bound.caller.client, &answer);
            Ok(Served::Answer(answer))
        }
        Params::GetPrompt(params) => {
            if let Some(served) = resumed(
                core,
                bound,
                &request,
                params.request_state.as_deref(),
                &params.name,
                "prompt",
                record,
                out,
            )
            .await?
            {
                return Ok(served);
            }
            let target = by_name(core, bound, &params.name, "prompt")?;
            aim(record, &target);
            let mut raw_params = request.raw.clone();
            raw_params.insert("name".into(), raw(&target.name));
            relay_to(
                core,
                bound,
                &request,
                target.up,
                raw_params,
                None,
                Permit::free(),
                out,
            )
            .await
            .map(Served::Answer)
        }
        Params::ReadResource(params) => {
            let target = by_uri(core, bound, &params.uri)?;
            aim(record, &target);
            if bound.stateless() && bridge::is_ours(params.request_state.as_deref()) {
                return resume(core, bound, &request, params.request_state.as_deref(), out).await;
            }
            let mut raw_params = request.raw.clone();
            raw_params.insert("uri".into(), raw(&target.name));
            let mut answer = relay_to(
                core,
                bound,
                &request,
                target.up.clone(),
                raw_params,
                None,
                Permit::free(),
                out,
            )
            .await?;
            if bound.caller.route == Route::All {
                typed::qualify_contents(target.up.name(), &mut answer);
            }
            Ok(Served::Answer(answer))
        }
        Params::Complete(params) => {
            // The reference as the client sent it, with its name mapped.
            let mut reference: Map<String, Value> = request
                .raw
                .get("ref")
                .and_then(|r| serde_json::from_str(r.get()).ok())
                .unwrap_or_default();
            let target = match &params.r#ref {
                Reference::Prompt(prompt) => {
                    let target = by_name(core, bound, &prompt.name, "prompt")?;
                    reference.insert("name".into(), Value::String(target.name.clone()));
                    target
                }
                Reference::Resource(resource) => {
                    let target = by_uri(core, bound, &resource.uri)?;
                    reference.insert("uri".into(), Value::String(target.name.clone()));
                    target
                }
                _ => {
                    return Err(Refusal::InvalidParams {
                        method: request.method.clone(),
                        detail: "unsupported completion reference".into(),
                    });
                }
            };
            aim(record, &target);
            let mut raw_params = request.raw.clone();
            raw_params.insert("ref".into(), raw(&reference));
            relay_to(core, bound, &request, target.up, raw_params, None, Permit::free(), out)
                .await
                .map(Served::Answer)
        }
        Params::Task(task) => {
            let up = single(core, bound)?.ok_or_else(|| {
                Refusal::MethodNotFound("tasks are offered on /mcp/SERVER".into())
            })?;
            if !core.tasks.owns(up.name(), task, &bound.caller.client) {
                return Err(Refusal::UnknownTask(task.clone()));
            }
            record.name(task);
            relay_to(
                core,
                bound,
                &request,
                up,
                request.raw.clone(),
                None,
                Permit::free(),
                out,
            )
            .await
            .map(Served::Answer)
        }
        Params::Other => {
            let Some(up) = single(core, bound)? else {
                return Err(Refusal::MethodNotFound(request.method.clone()));
            };
            let method = request.method.clone();
            let mut answer = relay_to(
                core,
                bound,
                &request,
                up.clone(),
                request.raw.clone(),
                None,
                Permit::free(),
                out,
            )
            .await?;
            if method == "tasks/list" {
                core.tasks
                    .keep_own(up.name(), &bound.caller.client, &mut answer);
            }
            Ok(Served::Answer(answer))
        }
    }
}

#[expect(clippy::too_many_arguments, reason = "one relay, its parts named")]
async fn relay_to(
    core: &Arc<Core>,
    bound: &Arc<Bound>,
    request: &Request,
    up: Arc<Upstream>,
    params: crate::wire::RawObject,
    schema: Option<Arc<rmcp::model::JsonObject>>,
    permit: Permit,
    out: &Outbox,
) -> Result<Message, Refusal> {
    relay::relay(
        core,
        bound,
        request,
        Forward {
            up,
            method: request.method.clone(),
            params,
            schema,
            permit,
        },
        out,
    )
    .await
}

/// A request relayed as it came.
async fn pass(
    core: &Arc<Core>,
    bound: &Arc<Bound>,
    request: &Request,
    up: Arc<Upstream>,
    schema: Option<Arc<rmcp::model::JsonObject>>,
    out: &Outbox,
) -> Result<Served, Refusal> {
    relay_to(
        core,
        bound,
        request,
        up,
        request.raw.clone(),
        schema,
        Permit::free(),
        out,
    )
    .await
    .map(Served::Answer)
}

/// The retry of a call the gateway parked for a 2026-07-28 client (it was
/// decided when it started), when `state` is the gateway's.
#[expect(clippy::too_many_arguments, reason = "the parts of a retry, named")]
async fn resumed(
    core: &Arc<Core>,
    bound: &Arc<Bound>,
    request: &Request,
    state: Option<&str>,
    name: &str,
    what: &'static str,
    record: &mut Recording,
    out: &Outbox,
) -> Result<Option<Served>, Refusal> {
    if !(bound.stateless() && bridge::is_ours(state)) {
        return Ok(None);
    }
    let target = by_name(core, bound, name, what)?;
    aim(record, &target);
    resume(core, bound, request, state, out).await.map(Some)
}

async fn resume(
    core: &Arc<Core>,
    bound: &Arc<Bound>,
    request: &Request,
    state: Option<&str>,
    out: &Outbox,
) -> Result<Served, Refusal> {
    let responses = request
        .raw
        .get("inputResponses")
        .and_then(|r| serde_json::from_str::<Map<String, Value>>(r.get()).ok());
    relay::resume(core, bound, state.unwrap_or_default(), responses, out)
        .await
        .map(Served::Answer)
}

/// What this endpoint says about itself: on `/mcp/{server}` the server's own
/// identity and capabilities, on `/mcp` the gateway's.
fn info_for(core: &Core, route: &Route) -> InitializeResult {
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

async fn initialize(
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

async fn discover(core: &Arc<Core>, bound: &Bound) -> Result<Served, Refusal> {
    if let Some(up) = single(core, bound)? {
        up.settled(core.settle).await;
    }
    let versions = SUPPORTED_VERSIONS.iter().map(|v| version(v)).collect();
    Ok(answer(&DiscoverResult::from_server_info(
        versions,
        info_for(core, &bound.caller.route),
    )))
}

async fn subscription(
    core: &Arc<Core>,
    bound: &Bound,
    uri: &str,
    subscribe: bool,
    record: &mut Recording,
) -> Result<Served, Refusal> {
    let target = by_uri(core, bound, uri)?;
    aim(record, &target);
    let Some(session) = bound.session() else {
        return Err(Refusal::MethodNotFound("resources/subscribe".into()));
    };
    let server = target.up.name();
    if subscribe {
        if core.sessions.subscribe(session, server, &target.name)
            && let Err(e) = target
                .up
                .subscribe_resource(&target.name, core.settle)
                .await
        {
            core.sessions.unsubscribe(session, server, &target.name);
            return Err(upstream_call(server, e));
        }
    } else if core.sessions.unsubscribe(session, server, &target.name) {
        target
            .up
            .unsubscribe_resource(&target.name)
            .await
            .map_err(|e| upstream_call(server, e))?;
    }
    Ok(answer(&json!({})))
}

fn upstream_call(server: &str, error: crate::upstream::conn::CallError) -> Refusal {
    match error {
        crate::upstream::conn::CallError::Upstream(e) => Refusal::Upstream(e),
        crate::upstream::conn::CallError::Rpc(e) => {
            Refusal::Upstream(crate::upstream::UpstreamError::Protocol {
                server: server.to_owned(),
                detail: e.message,
            })
        }
    }
}

/// A 2026-07-28 client's `subscriptions/listen`: the subscriptions are in
/// place upstream before the acknowledgment, so nothing after it is missed;
/// the stream stays open until the client closes it.
async fn listen(
    core: &Arc<Core>,
    bound: &Arc<Bound>,
    request: &Request,
    filter: rmcp::model::SubscriptionFilter,
    record: &mut Recording,
    out: &Outbox,
) -> Result<Served, Refusal> {
    let caps = info_for(core, &bound.caller.route).capabilities;
    let mut accepted = Accepted {
        tools: filter.tools_list_changed == Some(true)
            && caps.tools.as_ref().and_then(|t| t.list_changed) == Some(true),
        prompts: filter.prompts_list_changed == Some(true)
            && caps.prompts.as_ref().and_then(|p| p.list_changed) == Some(true),
        resources: filter.resources_list_changed == Some(true)
            && caps.resources.as_ref().and_then(|r| r.list_changed) == Some(true),
        resources_updated: Default::default(),
    };
    let subscribable = caps.resources.as_ref().and_then(|r| r.subscribe) == Some(true);
    let mut uris = Vec::new();
    for uri in filter.resource_subscriptions.iter().flatten() {
        if !subscribable {
            break;
        }
        match by_uri(core, bound, uri) {
            Ok(target) => {
                accepted
                    .resources_updated
                    .insert((target.up.name().to_owned(), target.name), uri.clone());
                uris.push(uri.clone());
            }
            Err(e) => tracing::debug!(uri, error = %e, "subscription to an unknown resource"),
        }
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let key = bound.key();
    let listen = Arc::new(Listen {
        key,
        caller: bound.caller.clone(),
        subscription: request.message.id.clone().unwrap_or_else(|| int_id(0)),
        accepted: accepted.clone(),
        tx,
    });
    for (server, uri) in core.sessions.listen(listen) {
        if let Some(up) = core.hub.get(&server)
            && let Err(e) = up.subscribe_resource(&uri, core.settle).await
        {
            tracing::warn!(server, uri, error = %e, "upstream subscription failed");
        }
    }
    let mut notifications = Map::new();
    for (flag, key) in [
        (accepted.tools, "toolsListChanged"),
        (accepted.prompts, "promptsListChanged"),
        (accepted.resources, "resourcesListChanged"),
    ] {
        if flag {
            notifications.insert(key.into(), Value::Bool(true));
        }
    }
    if !uris.is_empty() {
        notifications.insert("resourceSubscriptions".into(), json!(uris));
    }
    let ack = json!({
        "_meta": { LIFECYCLE.subscription_id: request.message.id },
        "notifications": notifications,
    });
    record.decide(Decision::Allowed, "listen stream");
    let opened = Message::notification("notifications/subscriptions/acknowledged", Some(raw(&ack)));
    let _ = record
        .finish(&Message::response(int_id(0), raw(&json!({}))))
        .await;
    if out.send(opened).await {
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(event) => {
                        if !out.send(event).await {
                            break;
                        }
                    }
                    None => break,
                },
                () = out.closed() => break,
                () = core.shutdown.cancelled() => break,
            }
        }
    }
    for (server, uri) in core.sessions.unlisten(key) {
        if let Some(up) = core.hub.get(&server) {
            let _ = up.unsubscribe_resource(&uri).await;
        }
    }
    Ok(Served::Stream)
}
