//! Suspicious tool definitions: flagged for the user, never silently blocked.

use std::{collections::BTreeMap, sync::OnceLock};

use rmcp::model::Tool;
use switchboard_policy::flags::{Flag, Inspector, ToolDefinition};

/// Compiling the rules takes a moment; it happens on first use, not at startup.
fn inspector() -> &'static Inspector {
    static INSPECTOR: OnceLock<Inspector> = OnceLock::new();
    INSPECTOR.get_or_init(Inspector::builtin)
}

pub(super) fn definition(server: &str, tool: &Tool) -> ToolDefinition {
    ToolDefinition {
        server: server.to_owned(),
        name: tool.name.to_string(),
        title: tool.title.clone(),
        description: tool.description.as_ref().map(ToString::to_string),
        input_schema: serde_json::Value::Object((*tool.input_schema).clone()),
        output_schema: tool
            .output_schema
            .as_ref()
            .map(|s| serde_json::Value::Object((**s).clone())),
        annotations: tool
            .annotations
            .as_ref()
            .and_then(|a| serde_json::to_value(a).ok()),
    }
}

/// The flags of every tool that has any, by server and tool. The cross-server
/// rules (shadowing, mentions of other servers' tools) look at the whole set.
pub fn flag_tools(
    catalog: &BTreeMap<String, Vec<Tool>>,
) -> BTreeMap<String, BTreeMap<String, Vec<Flag>>> {
    let all: Vec<ToolDefinition> = catalog
        .iter()
        .flat_map(|(server, tools)| tools.iter().map(move |t| definition(server, t)))
        .collect();
    let mut out: BTreeMap<String, BTreeMap<String, Vec<Flag>>> = BTreeMap::new();
    for tool in &all {
        let flags = inspector().inspect(tool, &all);
        if !flags.is_empty() {
            out.entry(tool.server.clone())
                .or_default()
                .insert(tool.name.clone(), flags);
        }
    }
    out
}
