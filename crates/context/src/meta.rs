//! `search_tools` and `call_tool`: what a client in search mode is listed
//! instead of every tool.

use std::sync::{Arc, LazyLock};

use rmcp::model::{Tool, ToolAnnotations};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::Error;

/// Name of the search tool.
pub const SEARCH_TOOLS: &str = "search_tools";
/// Name of the tool that calls a found tool.
pub const CALL_TOOL: &str = "call_tool";

/// Results `search_tools` gives unless asked for another number.
pub const DEFAULT_LIMIT: usize = 5;
/// Results `search_tools` gives at most.
pub const MAX_LIMIT: usize = 25;

fn schema(value: Value) -> Arc<Map<String, Value>> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::default(),
    }
}

/// The definition of `search_tools`.
pub fn search_tools() -> &'static Tool {
    static TOOL: LazyLock<Tool> = LazyLock::new(|| {
        let mut tool = Tool::new(
            SEARCH_TOOLS,
            "Find tools for a task. Describe what you want to do in a few words; \
             returns the best matching tools with their names, descriptions and \
             input schemas. Call one with call_tool.",
            schema(json!({
                "type": "object",
                "properties": {
                    "query": {
                        "type": "string",
                        "description": "What you want to do, in plain words"
                    },
                    "limit": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_LIMIT,
                        "description": "How many tools to return (default 5)"
                    }
                },
                "required": ["query"]
            })),
        );
        tool.annotations = Some(ToolAnnotations::new().read_only(true).open_world(false));
        tool
    });
    &TOOL
}

/// The definition of `call_tool`.
pub fn call_tool() -> &'static Tool {
    static TOOL: LazyLock<Tool> = LazyLock::new(|| {
        Tool::new(
            CALL_TOOL,
            "Call a tool found with search_tools, by its exact name, with arguments \
             that match its input schema.",
            schema(json!({
                "type": "object",
                "properties": {
                    "name": {
                        "type": "string",
                        "description": "The tool's name as search_tools gave it"
                    },
                    "arguments": {
                        "type": "object",
                        "description": "The tool's arguments"
                    }
                },
                "required": ["name"]
            })),
        )
    });
    &TOOL
}

/// The arguments of a `search_tools` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchArgs {
    /// What the client looks for.
    pub query: String,
    /// How many results it wants (1..=[`MAX_LIMIT`]).
    pub limit: usize,
}

/// The arguments of a `call_tool` call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallArgs {
    /// The tool to call, as `search_tools` named it.
    pub name: String,
    /// Its arguments (None: none given).
    pub arguments: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSearch {
    query: String,
    #[serde(default)]
    limit: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCall {
    name: String,
    #[serde(default)]
    arguments: Option<Map<String, Value>>,
}

fn bad(tool: &'static str, detail: impl std::fmt::Display) -> Error {
    Error::Arguments {
        tool,
        detail: detail.to_string(),
    }
}

/// Reads the arguments of a `search_tools` call.
pub fn search_args(arguments: Option<&Map<String, Value>>) -> Result<SearchArgs, Error> {
    let value = Value::Object(arguments.cloned().unwrap_or_default());
    let raw: RawSearch = serde_json::from_value(value).map_err(|e| bad(SEARCH_TOOLS, e))?;
    if raw.query.trim().is_empty() {
        return Err(bad(SEARCH_TOOLS, "query is empty"));
    }
    let limit = match raw.limit {
        None => DEFAULT_LIMIT,
        Some(n @ 1..) if n as usize <= MAX_LIMIT => n as usize,
        Some(n) => {
            return Err(bad(
                SEARCH_TOOLS,
                format!("limit {n} is not within 1..={MAX_LIMIT}"),
            ));
        }
    };
    Ok(SearchArgs {
        query: raw.query,
        limit,
    })
}

/// Reads the arguments of a `call_tool` call.
pub fn call_args(arguments: Option<&Map<String, Value>>) -> Result<CallArgs, Error> {
    let value = Value::Object(arguments.cloned().unwrap_or_default());
    let raw: RawCall = serde_json::from_value(value).map_err(|e| bad(CALL_TOOL, e))?;
    if raw.name.is_empty() {
        return Err(bad(CALL_TOOL, "name is empty"));
    }
    Ok(CallArgs {
        name: raw.name,
        arguments: raw.arguments,
    })
}

/// One tool as `search_tools` gives it: what a model needs to call it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Found<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    input_schema: &'a Map<String, Value>,
}

/// The result of a `search_tools` call that found `tools`: each one's name,
/// title, description and input schema, as text (for the model) and as
/// structured content.
pub fn search_result(tools: &[&Tool]) -> Value {
    let found: Vec<Found<'_>> = tools
        .iter()
        .map(|t| Found {
            name: &t.name,
            title: t.title.as_deref(),
            description: t.description.as_deref(),
            input_schema: &t.input_schema,
        })
        .collect();
    let text = if found.is_empty() {
        "No tool matches. Try other words.".to_owned()
    } else {
        serde_json::to_string(&json!({ "tools": &found })).unwrap_or_default()
    };
    json!({
        "content": [{ "type": "text", "text": text }],
        "structuredContent": { "tools": found },
    })
}

/// A tool error result (the model reads it; it is not a protocol error).
pub fn tool_error(text: &str) -> Value {
    json!({
        "content": [{ "type": "text", "text": text }],
        "isError": true,
    })
}
