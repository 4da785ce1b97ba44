//! JSON and JSONC configs, edited through a concrete syntax tree so that
//! comments, whitespace and the order of keys survive.

use jsonc_parser::{
    ParseOptions,
    cst::{CstInputValue, CstNode, CstObject, CstRootNode},
};
use serde_json::Value;

use super::RawEntry;
use crate::{ClientKind, ConfigValue};

/// A parsed JSON(C) config.
pub struct JsonDoc {
    root: CstRootNode,
    kind: ClientKind,
}

fn options(jsonc: bool) -> ParseOptions {
    // JSON with comments is not JSON5: only comments and trailing commas are extra.
    ParseOptions {
        allow_comments: jsonc,
        allow_trailing_commas: jsonc,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        ..ParseOptions::default()
    }
}

impl JsonDoc {
    /// Parses `text`; `jsonc` allows comments and trailing commas.
    pub fn parse(text: &str, jsonc: bool, kind: ClientKind) -> Result<Self, String> {
        let options = options(jsonc);
        // The syntax tree keeps comments as tokens and then accepts them even
        // when they are not allowed; a plain parse enforces the options.
        jsonc_parser::parse_to_ast(text, &jsonc_parser::CollectOptions::default(), &options)
            .map_err(|e| e.to_string())?;
        let root = CstRootNode::parse(text, &options).map_err(|e| e.to_string())?;
        Ok(Self { root, kind })
    }

    /// Checks that the file is an object and its servers are objects.
    pub fn check_shape(&self) -> Result<(), String> {
        let Some(value) = self.root.value() else {
            return Ok(());
        };
        let Some(root) = value.as_object() else {
            return Err("the file is not a JSON object".into());
        };
        let key = self.kind.servers_key();
        if let Some(prop) = root.get(key)
            && prop.object_value().is_none()
        {
            return Err(format!("\"{key}\" is not an object"));
        }
        Ok(())
    }

    fn root_object(&self) -> Option<CstObject> {
        self.root.object_value()
    }

    fn servers(&self) -> Option<CstObject> {
        self.root_object()?.object_value(self.kind.servers_key())
    }

    /// Every server entry (for Claude Code also those of each project).
    pub fn entries(&self) -> Vec<RawEntry> {
        let mut out = Vec::new();
        if let Some(servers) = self.servers() {
            out.extend(object_entries(&servers, ""));
        }
        if self.kind == ClientKind::ClaudeCode
            && let Some(projects) = self.root_object().and_then(|r| r.object_value("projects"))
        {
            for project in projects.properties() {
                let (Some(path), Some(servers)) = (
                    project.decoded_name(),
                    project
                        .object_value()
                        .and_then(|p| p.object_value("mcpServers")),
                ) else {
                    continue;
                };
                out.extend(object_entries(&servers, &format!("project {path}")));
            }
        }
        out
    }

    /// Sets the top-level entry `name`.
    pub fn set_entry(&mut self, name: &str, value: &ConfigValue) {
        let root = self.root.object_value_or_set();
        let key = self.kind.servers_key();
        let servers = match root.object_value_or_create(key) {
            Some(servers) => servers,
            // check_shape rejects a non-object here; replace it rather than fail.
            None => root.object_value_or_set(key),
        };
        match servers.get(name) {
            // An entry that already says this stays as it is written: the
            // tree re-indents a value it sets, and installing again must
            // leave the file as it is (that is how install tells it is done).
            Some(prop)
                if prop.value().and_then(|v| v.to_serde_value()) == Some(value.to_json()) => {}
            Some(prop) => prop.set_value(to_input(value)),
            None => {
                servers.append(name, to_input(value));
            }
        }
    }

    /// Removes the top-level entry `name`.
    pub fn remove_entry(&mut self, name: &str) -> bool {
        match self.servers().and_then(|s| s.get(name)) {
            Some(prop) => {
                remove_comments_above(&prop.clone().into());
                prop.remove();
                true
            }
            None => false,
        }
    }

    /// Copies entry `name` from `other`, keeping its key order.
    pub fn copy_entry_from(&mut self, other: &JsonDoc, name: &str) -> bool {
        let Some(value) = other
            .servers()
            .and_then(|s| s.get(name))
            .and_then(|p| p.value())
        else {
            return false;
        };
        let input = cst_to_input(&value);
        let root = self.root.object_value_or_set();
        let servers = root.object_value_or_set(self.kind.servers_key());
        match servers.get(name) {
            Some(prop) => prop.set_value(input),
            None => {
                servers.append(name, input);
            }
        }
        true
    }

    /// The text.
    pub fn render(&self) -> String {
        self.root.to_string()
    }
}

/// Removes the comments written on their own lines above `node`: they
/// describe it and would otherwise end up describing its neighbour. A comment
/// at the end of the previous line belongs to that line and stays.
fn remove_comments_above(node: &CstNode) {
    let mut between: Vec<CstNode> = node
        .previous_siblings()
        .take_while(CstNode::is_trivia)
        .collect();
    between.reverse();
    let Some(first_newline) = between.iter().position(CstNode::is_newline) else {
        return;
    };
    let Some(last_comment) = between.iter().rposition(CstNode::is_comment) else {
        return;
    };
    if last_comment < first_newline {
        return;
    }
    for node in between.drain(first_newline..=last_comment).rev() {
        node.remove();
    }
}

fn object_entries(servers: &CstObject, section: &str) -> Vec<RawEntry> {
    servers
        .properties()
        .into_iter()
        .filter_map(|prop| {
            Some(RawEntry {
                name: prop.decoded_name()?,
                section: section.to_owned(),
                value: prop.value()?.to_serde_value().unwrap_or(Value::Null),
            })
        })
        .collect()
}

fn to_input(value: &ConfigValue) -> CstInputValue {
    match value {
        ConfigValue::Str(s) => CstInputValue::String(s.clone()),
        ConfigValue::Bool(b) => CstInputValue::Bool(*b),
        ConfigValue::Array(items) => CstInputValue::Array(items.iter().map(to_input).collect()),
        ConfigValue::Object(props) => CstInputValue::Object(
            props
                .iter()
                .map(|(k, v)| (k.clone(), to_input(v)))
                .collect(),
        ),
    }
}

/// The value of a node as input for another tree, in its written order.
fn cst_to_input(node: &CstNode) -> CstInputValue {
    if let Some(object) = node.as_object() {
        return CstInputValue::Object(
            object
                .properties()
                .into_iter()
                .filter_map(|p| Some((p.decoded_name()?, cst_to_input(&p.value()?))))
                .collect(),
        );
    }
    if let Some(array) = node.as_array() {
        return CstInputValue::Array(array.elements().iter().map(cst_to_input).collect());
    }
    // A number as written: read as a float and printed again, one with more
    // digits than a float holds would come back another number.
    if let Some(number) = node.as_number_lit() {
        return CstInputValue::Number(number.to_string());
    }
    match node.to_serde_value() {
        Some(Value::String(s)) => CstInputValue::String(s),
        Some(Value::Bool(b)) => CstInputValue::Bool(b),
        Some(Value::Number(n)) => CstInputValue::Number(n.to_string()),
        _ => CstInputValue::Null,
    }
}
