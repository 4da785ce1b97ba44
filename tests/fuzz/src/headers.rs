//! The SEP-2243 headers of 2026-07-28 (`Mcp-Method`, `Mcp-Name`,
//! `Mcp-Param-*`): what the gateway sends with a request is what it accepts
//! with one, whatever the names and argument values hold.

use serde_json::{Map, Value, json};
use switchboard_gateway::fuzzing;

/// How deep the schema made from a call's arguments goes.
const SCHEMA_DEPTH: usize = 3;

pub fn round_trip(data: &[u8]) {
    let Ok(Value::Object(message)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        return;
    };
    let params = message.get("params").and_then(Value::as_object);
    // A schema of arbitrary shape (the params themselves) is only read.
    let _ = fuzzing::headers_round_trip(method, params, params);
    // A method is a header value as it stands: it takes visible ASCII.
    if !method.bytes().all(|b| b.is_ascii_graphic()) {
        return;
    }
    let arguments = params.and_then(|p| p.get("arguments"));
    let schema = arguments.map(|a| schema_of(a, &mut Vec::new(), SCHEMA_DEPTH));
    for schema in [None, schema.as_ref()] {
        if let Err(why) = fuzzing::headers_round_trip(method, params, schema) {
            panic!("the gateway refuses its own headers: {why}\nschema: {schema:?}");
        }
    }
}

/// An input schema that sends every argument whose name is a header token
/// as `Mcp-Param-<name>`, each header name once (they are case-insensitive).
fn schema_of(arguments: &Value, taken: &mut Vec<String>, depth: usize) -> Map<String, Value> {
    let mut properties = Map::new();
    if let (Value::Object(arguments), true) = (arguments, depth > 0) {
        for (name, value) in arguments {
            let mut property = schema_of(value, taken, depth - 1);
            let lower = name.to_ascii_lowercase();
            if !name.is_empty() && name.bytes().all(is_token_char) && !taken.contains(&lower) {
                taken.push(lower);
                property.insert("x-mcp-header".into(), json!(name));
            }
            properties.insert(name.clone(), Value::Object(property));
        }
    }
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    schema
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
