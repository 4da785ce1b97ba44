//! The typed codec: the few answers whose content the gateway must change.
//! Everything else passes as the bytes it came as.

use std::sync::Arc;

use rmcp::model::ListToolsResult;
use serde_json::{Value, value::RawValue};
use switchboard_store::Permission;

use super::{Bound, Core};
use crate::{
    names,
    upstream::Upstream,
    wire::{Message, RawObject, raw},
};

/// Results whose freshness a 2026-07-28 client is told (ttlMs, cacheScope).
const CACHEABLE: &[&str] = &[
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "server/discover",
];

/// Splices members at the front of a JSON object's text (`{"a":1}` ->
/// `{"x":..,"a":1}`): no parse of the rest, however large.
fn prepend(object: &RawValue, members: &str) -> Option<Box<RawValue>> {
    let text = object.get();
    let rest = text.trim_start().strip_prefix('{')?;
    let separator = if rest.trim_start().starts_with('}') {
        ""
    } else {
        ","
    };
    RawValue::from_string(format!("{{{members}{separator}{rest}")).ok()
}

/// Makes an answer right for its client's era: a 2026-07-28 client gets
/// `resultType` on every result (and cache hints where the era has them);
/// a session client never sees the `complete` marker of the newer era.
pub(super) fn complete_for(bound: &Bound, method: &str, answer: &mut Message) {
    let Some(result) = answer.result.as_ref() else {
        return;
    };
    let text = result.get();
    if bound.stateless() {
        let mut members = Vec::new();
        if !text.contains("\"resultType\"") {
            members.push("\"resultType\":\"complete\"".to_owned());
        }
        if CACHEABLE.contains(&method) {
            if !text.contains("\"ttlMs\"") {
                members.push("\"ttlMs\":0".to_owned());
            }
            if !text.contains("\"cacheScope\"") {
                members.push("\"cacheScope\":\"private\"".to_owned());
            }
        }
        if !members.is_empty()
            && let Some(result) = prepend(result, &members.join(","))
        {
            answer.result = Some(result);
        }
    } else if text.contains("\"resultType\"")
        // The top level only, its members kept as text: a large result is
        // scanned, never built into a tree.
        && let Ok(mut object) = serde_json::from_str::<RawObject>(text)
        && object.get("resultType").map(|v| v.get().trim()) == Some("\"complete\"")
    {
        object.remove("resultType");
        answer.result = Some(raw(&object));
    }
}

/// A server's own `tools/list` on `/mcp/{server}`: the definitions are
/// checked against their pins (a server may change a tool without telling
/// anyone), and tools the client may not use are left out.
pub(super) async fn visible_tools(
    core: &Arc<Core>,
    bound: &Bound,
    up: &Upstream,
    answer: &mut Message,
) {
    let Some(mut result) = answer.result_as::<ListToolsResult>() else {
        return;
    };
    core.policy.observe_tools(up.name(), &result.tools).await;
    let before = result.tools.len();
    result.tools.retain(|tool| {
        core.policy
            .tool_verdict(&bound.caller.client, up.name(), tool)
            .permission
            != Permission::Deny
    });
    if result.tools.len() != before {
        answer.result = Some(raw(&result));
    }
}

/// `resources/read` on `/mcp`: the contents name their URIs as this
/// endpoint does (`SERVER+URI`).
pub(super) fn qualify_contents(server: &str, answer: &mut Message) {
    let Some(mut result) = answer.result_value() else {
        return;
    };
    let Some(contents) = result.get_mut("contents").and_then(Value::as_array_mut) else {
        return;
    };
    for content in contents {
        if let Some(uri) = content.get("uri").and_then(Value::as_str) {
            let qualified = names::qualify_uri(server, uri);
            content["uri"] = Value::String(qualified);
        }
    }
    answer.result = Some(raw(&result));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_spliced_in_front() {
        let object = RawValue::from_string(r#"{"tools":[]}"#.into()).unwrap();
        assert_eq!(
            prepend(&object, r#""resultType":"complete""#)
                .unwrap()
                .get(),
            r#"{"resultType":"complete","tools":[]}"#
        );
        let empty = RawValue::from_string("{ }".into()).unwrap();
        assert_eq!(prepend(&empty, r#""a":1"#).unwrap().get(), r#"{"a":1 }"#);
        let array = RawValue::from_string("[]".into()).unwrap();
        assert!(prepend(&array, r#""a":1"#).is_none());
    }
}
