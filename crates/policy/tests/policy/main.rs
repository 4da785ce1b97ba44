//! Tool-poisoning flags: a corpus of real-world-like definitions, each rule kind, and rules as data.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed step should fail the test"
)]

mod corpus;
mod cross_server;
mod flows;
mod length;
mod patterns;
mod rules_data;
mod unicode;

use std::sync::LazyLock;

use serde_json::{Value, json};
use switchboard_policy::flags::{Flag, Inspector, ToolDefinition};

/// The bundled rules file, for checks against what it declares.
pub const BUILTIN_RULES: &str = include_str!("../../src/flag_rules.json");

/// The bundled rules, compiled once for all tests.
pub static BUILTIN: LazyLock<Inspector> = LazyLock::new(Inspector::builtin);

/// A tool with a description and an empty object schema.
pub fn tool(server: &str, name: &str, description: &str) -> ToolDefinition {
    with_schema(server, name, description, json!({ "type": "object" }))
}

/// A tool with a description and the given input schema.
pub fn with_schema(server: &str, name: &str, description: &str, schema: Value) -> ToolDefinition {
    ToolDefinition {
        server: server.to_owned(),
        name: name.to_owned(),
        title: None,
        description: Some(description.to_owned()),
        input_schema: schema,
        output_schema: None,
        annotations: None,
    }
}

/// Flags of a tool judged on its own, with the bundled rules.
pub fn flags(tool: &ToolDefinition) -> Vec<Flag> {
    BUILTIN.inspect(tool, std::slice::from_ref(tool))
}

/// The one flag of `rule`, failing the test when it did not fire.
pub fn flag<'a>(flags: &'a [Flag], rule: &str) -> &'a Flag {
    flags
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("rule {rule} did not fire; flags: {flags:#?}"))
}

/// Names of the rules that fired.
pub fn names(flags: &[Flag]) -> Vec<&str> {
    flags.iter().map(|f| f.rule.as_str()).collect()
}
