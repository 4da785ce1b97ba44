//! Subscriptions: a session's `resources/subscribe` and a 2026-07-28
//! client's `subscriptions/listen` stream, kept in place upstream for as
//! long as someone listens.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use switchboard_audit::Decision;

use super::{
    Bound, Core, Outbox,
    classify::Request,
    lifecycle::info_for,
    methods::{Served, answer},
    refusal::Refusal,
    target::{aim, by_uri},
};
use crate::{
    mcp_headers::LIFECYCLE,
    record::Recording,
    session::{Accepted, Listen},
    wire::{Message, int_id, raw},
};

pub(super) async fn subscription(
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

pub(super) fn upstream_call(server: &str, error: crate::upstream::conn::CallError) -> Refusal {
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
pub(super) async fn listen(
    core: &Arc<Core>,
    bound: &Arc<Bound>,
    request: &Request,
    filter: rmcp::model::SubscriptionFilter,
    record: &mut Recording,
    out: &Outbox,
) -> Result<Served, Refusal> {
    let _slot = core
        .sessions
        .caps
        .take(&bound.caller.client, crate::session::Held::Streams)?;
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
