//! The aggregated endpoint `/mcp`: merged lists, names qualified with their
//! server, cursors that span servers.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Bound, Core, offer, refusal::Refusal};
use crate::{
    names::{self, SpanningCursor},
    upstream::{Live, Upstream},
    wire::{Message, int_id, raw},
};

/// A merged list for `/mcp`.
pub(super) async fn list(
    core: &Arc<Core>,
    bound: &Bound,
    method: &str,
    cursor: Option<&str>,
) -> Result<Message, Refusal> {
    match method {
        "tools/list" => Ok(tools(core, bound).await),
        "prompts/list" => {
            span(
                core,
                bound,
                cursor,
                "prompts/list",
                "prompts",
                "name",
                false,
            )
            .await
        }
        "resources/list" => {
            span(
                core,
                bound,
                cursor,
                "resources/list",
                "resources",
                "uri",
                true,
            )
            .await
        }
        _ => {
            span(
                core,
                bound,
                cursor,
                "resources/templates/list",
                "resourceTemplates",
                "uriTemplate",
                true,
            )
            .await
        }
    }
}

/// Every ready server's tools the client may use (or, in search mode, the
/// search tools), names qualified, in one page. The list is kept per client
/// (as JSON, serialized once) until the policy or a server's tools change.
async fn tools(core: &Arc<Core>, bound: &Bound) -> Message {
    core.hub.settled(core.settle).await;
    Message::response(
        int_id(0),
        offer::tools_list(core, &bound.caller.client).await,
    )
}

/// Walks the servers in name order, collecting their pages until the page
/// is full (so clients that never page still see every server's items).
/// The cursor handed out names the server and that server's own cursor, so
/// paging works across servers and within each one.
async fn span(
    core: &Arc<Core>,
    bound: &Bound,
    cursor: Option<&str>,
    method: &'static str,
    key: &str,
    name_field: &str,
    uri: bool,
) -> Result<Message, Refusal> {
    let start = match cursor {
        Some(text) => Some(
            SpanningCursor::decode(text).ok_or_else(|| Refusal::InvalidParams {
                method: method.to_owned(),
                detail: "invalid cursor".into(),
            })?,
        ),
        None => None,
    };
    if start.is_none() {
        core.hub.settled(core.settle).await;
    }
    let offers = |live: &Live| match key {
        "prompts" => live.info.capabilities.prompts.is_some(),
        _ => live.info.capabilities.resources.is_some(),
    };
    let servers: Vec<(Arc<Upstream>, Arc<Live>)> = core
        .hub
        .all()
        .into_iter()
        .filter(|up| {
            core.policy
                .server_visible(&bound.caller.client, up.name())
                .is_ok()
        })
        .filter_map(|up| {
            let live = up.connection().ok()?;
            offers(&live).then_some((up, live))
        })
        .collect();
    let mut index = match &start {
        Some(c) => servers
            .iter()
            .position(|(up, _)| up.name() >= c.server.as_str())
            .unwrap_or(servers.len()),
        None => 0,
    };
    let mut cursor = start
        .filter(|c| {
            servers
                .get(index)
                .is_some_and(|(up, _)| up.name() == c.server)
        })
        .and_then(|c| c.upstream);
    let mut collected: Vec<Value> = Vec::new();
    while let Some((up, live)) = servers.get(index) {
        let mut params = Map::new();
        if let Some(c) = cursor.take() {
            params.insert("cursor".into(), Value::String(c));
        }
        let (mut items, next) = match live.conn.call::<Map<String, Value>>(method, params).await {
            Ok(mut page) => {
                let items = match page.remove(key) {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                };
                let next = page
                    .remove("nextCursor")
                    .and_then(|c| c.as_str().map(str::to_owned));
                (items, next)
            }
            Err(e) => {
                // One broken server must not hide every other server's items.
                tracing::warn!(server = up.name(), error = %e, "list failed; skipping server");
                (Vec::new(), None)
            }
        };
        for item in &mut items {
            if let Some(name) = item.get(name_field).and_then(Value::as_str) {
                let qualified = if uri {
                    names::qualify_uri(up.name(), name)
                } else {
                    names::qualify(up.name(), name)
                };
                item[name_field] = Value::String(qualified);
            }
        }
        collected.append(&mut items);
        let next_cursor = match next {
            Some(upstream) => Some(SpanningCursor {
                server: up.name().to_owned(),
                upstream: Some(upstream),
            }),
            None => servers.get(index + 1).map(|(up, _)| SpanningCursor {
                server: up.name().to_owned(),
                upstream: None,
            }),
        };
        match next_cursor {
            None => break,
            Some(c) if collected.len() >= core.page_size => {
                let mut result = Map::new();
                result.insert(key.to_owned(), Value::Array(collected));
                result.insert("nextCursor".into(), Value::String(c.encode()));
                return Ok(Message::response(int_id(0), raw(&result)));
            }
            Some(c) if c.server == up.name() => cursor = c.upstream,
            Some(_) => index += 1,
        }
    }
    let mut result = Map::new();
    result.insert(key.to_owned(), Value::Array(collected));
    Ok(Message::response(int_id(0), raw(&result)))
}
