//! Which stage serves each method: the gateway answers the lifecycle and
//! the merged lists itself; everything about one server is decided (tool
//! calls) and relayed to it, its names on `/mcp` mapped to the server's.

use std::sync::Arc;

use rmcp::model::Reference;
use serde_json::{Map, Value, json};
use switchboard_audit::Decision;
use switchboard_context::meta;

use super::{
    Bound, Core, Outbox, aggregate,
    classify::{Params, Request},
    decide::{self, Call, Permit},
    lifecycle::{discover, initialize},
    offer,
    refusal::Refusal,
    relay::{self, Forward},
    subscriptions::{listen, subscription},
    target::{aim, by_name, by_uri, single},
    typed,
};
use crate::{
    bridge,
    record::Recording,
    route::Route,
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

pub(super) fn answer(value: &impl serde::Serialize) -> Served {
    Served::Answer(Message::response(int_id(0), raw(value)))
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
                pass(core, bound, &request, up, out)
                    .await
                    .map(Served::Answer)
            }
            _ => Ok(answer(&json!({}))),
        },
        Params::SetLevel(level) => {
            if let Some(session) = bound.session() {
                session.set_log_level(*level);
            }
            match single(core, bound)? {
                Some(up) if !up.connection().is_ok_and(|l| l.stateless()) => {
                    pass(core, bound, &request, up, out)
                        .await
                        .map(Served::Answer)
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
                let mut answer = pass(core, bound, &request, up.clone(), out).await?;
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
            let state = params.request_state.as_deref();
            if bound.caller.route == Route::All {
                match params.name.as_ref() {
                    meta::SEARCH_TOOLS => {
                        record.name(meta::SEARCH_TOOLS);
                        record.decide(Decision::Allowed, "tool search: the client's own tools");
                        let found =
                            offer::search(core, &bound.caller.client, params.arguments.as_ref())
                                .await;
                        return Ok(answer(&found));
                    }
                    meta::CALL_TOOL => {
                        let inner = match meta::call_args(params.arguments.as_ref()) {
                            Ok(inner) => inner,
                            Err(e) => {
                                record.name(meta::CALL_TOOL);
                                record.decide(Decision::Denied, "call_tool: invalid arguments");
                                return Ok(answer(&meta::tool_error(&e.to_string())));
                            }
                        };
                        // Sent on as if the client had called the tool itself.
                        let mut sent = request.raw.clone();
                        sent.remove("arguments");
                        if let Some(args) = &inner.arguments {
                            sent.insert("arguments".into(), raw(args));
                        }
                        record.request(Some(json!({
                            "name": inner.name,
                            "arguments": inner.arguments,
                            "via": meta::CALL_TOOL,
                        })));
                        return call(
                            core,
                            bound,
                            &request,
                            &inner.name,
                            inner.arguments.as_ref(),
                            sent,
                            state,
                            record,
                            out,
                        )
                        .await;
                    }
                    _ => {}
                }
            }
            call(
                core,
                bound,
                &request,
                &params.name,
                params.arguments.as_ref(),
                request.raw.clone(),
                state,
                record,
                out,
            )
            .await
        }
        Params::GetPrompt(params) => {
            let target = by_name(core, bound, &params.name, "prompt")?;
            aim(record, &target);
            if let Some(served) =
                resumed(core, bound, &request, params.request_state.as_deref(), out).await?
            {
                return Ok(served);
            }
            relay_to(
                core,
                bound,
                &request,
                target.up,
                renamed(&request, "name", raw(&target.name)),
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
            if let Some(served) =
                resumed(core, bound, &request, params.request_state.as_deref(), out).await?
            {
                return Ok(served);
            }
            let mut answer = relay_to(
                core,
                bound,
                &request,
                target.up.clone(),
                renamed(&request, "uri", raw(&target.name)),
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
            relay_to(
                core,
                bound,
                &request,
                target.up,
                renamed(&request, "ref", raw(&reference)),
                None,
                Permit::free(),
                out,
            )
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
            pass(core, bound, &request, up, out)
                .await
                .map(Served::Answer)
        }
        Params::Other => {
            let Some(up) = single(core, bound)? else {
                return Err(Refusal::MethodNotFound(request.method.clone()));
            };
            let method = request.method.clone();
            let mut answer = pass(core, bound, &request, up.clone(), out).await?;
            if method == "tasks/list" {
                core.tasks
                    .keep_own(up.name(), &bound.caller.client, &mut answer);
            }
            Ok(Served::Answer(answer))
        }
    }
}

/// A call of tool `called` (as the client names it) with `arguments`:
/// decided (unless it resumes a parked call, decided when it started), then
/// relayed with `params` (the name set to the server's).
#[expect(clippy::too_many_arguments, reason = "one call, its parts named")]
async fn call(
    core: &Arc<Core>,
    bound: &Arc<Bound>,
    request: &Request,
    called: &str,
    arguments: Option<&Map<String, Value>>,
    mut params: crate::wire::RawObject,
    state: Option<&str>,
    record: &mut Recording,
    out: &Outbox,
) -> Result<Served, Refusal> {
    let target = by_name(core, bound, called, "tool")?;
    aim(record, &target);
    if let Some(served) = resumed(core, bound, request, state, out).await? {
        // A resumed call's answer carries what the tool returned, as any.
        if let crate::upstream::ToolLookup::Listed(tool) = target
            .up
            .tool_for_call(&target.name, std::time::Duration::ZERO)
            .await
        {
            core.policy
                .flow_received(&bound.flow_key(), target.up.name(), &tool);
        }
        return Ok(served);
    }
    let decided = decide::tool_call(
        core,
        bound,
        Call {
            up: &target.up,
            tool: &target.name,
            called,
            arguments,
            progress: request.meta.progress.as_ref(),
        },
        record,
        out,
    )
    .await;
    let (permit, tool) = match decided {
        // A tool its server does not list is never sent on the chance that
        // it exists; the model learns it as a tool error, the way servers
        // answer for tools they lack.
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
    params.insert("name".into(), raw(&target.name));
    let answer = relay_to(
        core,
        bound,
        request,
        target.up.clone(),
        params,
        Some(tool.input_schema.clone()),
        permit,
        out,
    )
    .await?;
    core.policy
        .flow_received(&bound.flow_key(), target.up.name(), &tool);
    core.tasks
        .created(target.up.name(), &bound.caller.client, &answer);
    Ok(Served::Answer(answer))
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
    out: &Outbox,
) -> Result<Message, Refusal> {
    relay_to(
        core,
        bound,
        request,
        up,
        request.raw.clone(),
        None,
        Permit::free(),
        out,
    )
    .await
}

/// The params as the client sent them, with `key` set to what the server
/// knows the target by.
fn renamed(
    request: &Request,
    key: &str,
    value: Box<serde_json::value::RawValue>,
) -> crate::wire::RawObject {
    let mut params = request.raw.clone();
    params.insert(key.into(), value);
    params
}

/// The retry of a call the gateway parked for a 2026-07-28 client (it was
/// decided when it started), when `state` is the gateway's: the parked call
/// resumes with the client's answers.
async fn resumed(
    core: &Arc<Core>,
    bound: &Arc<Bound>,
    request: &Request,
    state: Option<&str>,
    out: &Outbox,
) -> Result<Option<Served>, Refusal> {
    if !(bound.stateless() && bridge::is_ours(state)) {
        return Ok(None);
    }
    let responses = request
        .raw
        .get("inputResponses")
        .and_then(|r| serde_json::from_str::<Map<String, Value>>(r.get()).ok());
    relay::resume(core, bound, state.unwrap_or_default(), responses, out)
        .await
        .map(|answer| Some(Served::Answer(answer)))
}
