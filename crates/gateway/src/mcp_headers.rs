//! The HTTP headers of MCP 2026-07-28 (SEP-2243) and its lifecycle `_meta`
//! keys: what the gateway checks on a client's request and sends with its
//! own to a server. One set of rules for both directions.
//!
//! `Mcp-Method` names the method of every request and notification;
//! `Mcp-Name` the tool or prompt (`params.name`), resource (`params.uri`) or
//! task (`params.taskId`) it is about; `Mcp-Param-<H>` the arguments of a
//! `tools/call` whose input schema marks a property with `x-mcp-header: H`.
//! A value that cannot travel as it is goes as `=?base64?<base64>?=`.

use base64::{Engine as _, prelude::BASE64_STANDARD};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

/// Protocol version header (every era since 2025-06-18).
pub(crate) const PROTOCOL_VERSION: &str = "mcp-protocol-version";
/// Session header (session era).
pub(crate) const SESSION_ID: &str = "mcp-session-id";
/// Method header (2026-07-28).
pub(crate) const METHOD: &str = "mcp-method";
/// Name header (2026-07-28).
pub(crate) const NAME: &str = "mcp-name";
const PARAM_PREFIX: &str = "mcp-param-";
const BASE64_PREFIX: &str = "=?base64?";
const BASE64_SUFFIX: &str = "?=";

/// The first protocol version with these headers and stateless requests.
pub(crate) const STATELESS_VERSION: &str = "2026-07-28";

/// `_meta` keys of the 2026-07-28 lifecycle.
pub(crate) struct LifecycleKeys {
    pub protocol_version: &'static str,
    pub client_info: &'static str,
    pub client_capabilities: &'static str,
    pub log_level: &'static str,
    pub subscription_id: &'static str,
}

/// The lifecycle keys, spelled once.
pub(crate) const LIFECYCLE: LifecycleKeys = LifecycleKeys {
    protocol_version: "io.modelcontextprotocol/protocolVersion",
    client_info: "io.modelcontextprotocol/clientInfo",
    client_capabilities: "io.modelcontextprotocol/clientCapabilities",
    log_level: "io.modelcontextprotocol/logLevel",
    subscription_id: "io.modelcontextprotocol/subscriptionId",
};

/// Whether `version` is 2026-07-28 or later (versions are dates).
pub(crate) fn is_stateless_version(version: &str) -> bool {
    version >= STATELESS_VERSION
}

/// Which params member a method's `Mcp-Name` comes from.
fn name_key(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => Some("uri"),
        "tasks/get" | "tasks/update" | "tasks/cancel" => Some("taskId"),
        _ => None,
    }
}

/// The `Mcp-Name` value of a request, when its method has one.
pub(crate) fn name_of(method: &str, params: Option<&Map<String, Value>>) -> Option<String> {
    let key = name_key(method)?;
    params?.get(key)?.as_str().map(str::to_owned)
}

/// The properties of a tool's input schema that travel as headers: the path
/// of each (through `properties` only) and its header name.
fn annotated(schema: &Map<String, Value>) -> Vec<(Vec<String>, String)> {
    fn walk(
        schema: &Map<String, Value>,
        path: &mut Vec<String>,
        out: &mut Vec<(Vec<String>, String)>,
    ) {
        let Some(Value::Object(properties)) = schema.get("properties") else {
            return;
        };
        for (name, property) in properties {
            let Value::Object(property) = property else {
                continue;
            };
            path.push(name.clone());
            if let Some(Value::String(header)) = property.get("x-mcp-header")
                && !header.is_empty()
                && header.bytes().all(is_token_char)
            {
                out.push((path.clone(), header.clone()));
            }
            walk(property, path, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(schema, &mut Vec::new(), &mut out);
    out
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn value_at<'a>(mut value: &'a Value, path: &[String]) -> Option<&'a Value> {
    for key in path {
        value = value.get(key)?;
    }
    Some(value)
}

/// A primitive as its header text (objects, arrays and null have none).
fn primitive(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A value as it travels in a header.
fn encode(value: &str) -> String {
    let needs = value.starts_with([' ', '\t'])
        || value.ends_with([' ', '\t'])
        || value.chars().any(|c| !(' '..='~').contains(&c))
        || (value.starts_with(BASE64_PREFIX) && value.ends_with(BASE64_SUFFIX));
    if needs {
        format!(
            "{BASE64_PREFIX}{}{BASE64_SUFFIX}",
            BASE64_STANDARD.encode(value)
        )
    } else {
        value.to_owned()
    }
}

/// A header value as it was meant (None: a base64 form that does not decode).
fn decode(value: &str) -> Option<String> {
    match value
        .strip_prefix(BASE64_PREFIX)
        .and_then(|inner| inner.strip_suffix(BASE64_SUFFIX))
    {
        Some(inner) => String::from_utf8(BASE64_STANDARD.decode(inner).ok()?).ok(),
        None => Some(value.to_owned()),
    }
}

/// The SEP-2243 headers for a message the gateway sends to a 2026-07-28
/// server. `schema` is the called tool's input schema, when known.
pub(crate) fn for_request(
    method: &str,
    params: Option<&Map<String, Value>>,
    schema: Option<&Map<String, Value>>,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    let mut push = |name: &str, value: &str| {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            out.push((name, value));
        }
    };
    push(METHOD, method);
    if let Some(name) = name_of(method, params) {
        push(NAME, &encode(&name));
    }
    if method == "tools/call"
        && let (Some(schema), Some(arguments)) = (schema, params.and_then(|p| p.get("arguments")))
    {
        for (path, header) in annotated(schema) {
            if let Some(text) = value_at(arguments, &path).and_then(primitive) {
                push(&format!("{PARAM_PREFIX}{header}"), &encode(&text));
            }
        }
    }
    out
}

/// The one value of a header, if present; duplicates and values that are
/// not text are errors.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(format!("duplicate {name} header"));
    }
    value
        .to_str()
        .map(|v| Some(v.trim()))
        .map_err(|_| format!("{name} header contains invalid characters"))
}

/// Checks a 2026-07-28 client's headers against the message they carry.
/// `schema` is the called tool's input schema, when the gateway knows it.
pub(crate) fn check(
    headers: &HeaderMap,
    method: &str,
    params: Option<&Map<String, Value>>,
    schema: Option<&Map<String, Value>>,
) -> Result<(), String> {
    match single(headers, METHOD)? {
        None => return Err("missing required Mcp-Method header".into()),
        Some(value) if value != method => {
            return Err(format!(
                "Mcp-Method header `{value}` does not match body method `{method}`"
            ));
        }
        Some(_) => {}
    }
    if let Some(expected) = name_of(method, params) {
        match single(headers, NAME)? {
            None => return Err(format!("missing required Mcp-Name header for `{method}`")),
            Some(raw) => {
                let decoded =
                    decode(raw).ok_or_else(|| "Mcp-Name header is not valid base64".to_owned())?;
                if decoded != expected {
                    return Err(format!(
                        "Mcp-Name header `{decoded}` does not match body value `{expected}`"
                    ));
                }
            }
        }
    }
    if method == "tools/call"
        && let Some(schema) = schema
    {
        let arguments = params.and_then(|p| p.get("arguments"));
        for (path, header) in annotated(schema) {
            let name = format!("{PARAM_PREFIX}{header}");
            let prop = path.join(".");
            let sent = single(headers, &name)?;
            let body = arguments
                .and_then(|a| value_at(a, &path))
                .filter(|v| !v.is_null())
                .and_then(primitive);
            match (sent, body) {
                (None, None) => {}
                (Some(_), None) => {
                    return Err(format!("unexpected {name} header for absent `{prop}`"));
                }
                (None, Some(_)) => return Err(format!("missing {name} header for `{prop}`")),
                (Some(raw), Some(expected)) => {
                    let decoded =
                        decode(raw).ok_or_else(|| format!("{name} header is not valid base64"))?;
                    if decoded != expected {
                        return Err(format!(
                            "{name} header `{decoded}` does not match body value `{expected}`"
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn what_is_sent_is_what_is_accepted() {
        let schema = object(json!({"type":"object","properties":{
            "region":{"type":"string","x-mcp-header":"Region"},
            "deep":{"type":"object","properties":{"n":{"type":"integer","x-mcp-header":"N"}}}
        }}));
        let params =
            object(json!({"name":"put","arguments":{"region":" eu\u{e9}","deep":{"n":3}}}));
        let sent = for_request("tools/call", Some(&params), Some(&schema));
        let mut map = HeaderMap::new();
        for (name, value) in sent {
            map.append(name, value);
        }
        assert_eq!(map.get("mcp-param-n").unwrap(), "3");
        assert!(
            map.get("mcp-param-region")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("=?base64?")
        );
        assert_eq!(
            check(&map, "tools/call", Some(&params), Some(&schema)),
            Ok(())
        );
    }

    #[test]
    fn mismatches_are_named() {
        let params = object(json!({"name":"echo"}));
        let ok = headers(&[("mcp-method", "tools/call"), ("mcp-name", "  echo  ")]);
        assert_eq!(check(&ok, "tools/call", Some(&params), None), Ok(()));
        for (bad, why) in [
            (
                headers(&[("mcp-name", "echo")]),
                "missing required Mcp-Method",
            ),
            (
                headers(&[("mcp-method", "TOOLS/CALL"), ("mcp-name", "echo")]),
                "does not match body method",
            ),
            (
                headers(&[("mcp-method", "tools/call")]),
                "missing required Mcp-Name",
            ),
            (
                headers(&[("mcp-method", "tools/call"), ("mcp-name", "other")]),
                "does not match body value",
            ),
            (
                headers(&[
                    ("mcp-method", "tools/call"),
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "echo"),
                ]),
                "duplicate",
            ),
            (
                headers(&[
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "=?base64?ZWNo!!?="),
                ]),
                "base64",
            ),
        ] {
            let error = check(&bad, "tools/call", Some(&params), None).unwrap_err();
            assert!(error.contains(why), "{error}");
        }
        let schema = object(json!({"properties":{"r":{"type":"string","x-mcp-header":"R"}}}));
        let with_arg = object(json!({"name":"echo","arguments":{"r":"Hello"}}));
        let literal = headers(&[
            ("mcp-method", "tools/call"),
            ("mcp-name", "echo"),
            ("mcp-param-r", "=?base64?SGVsbG8=?="),
        ]);
        assert_eq!(
            check(&literal, "tools/call", Some(&with_arg), Some(&schema)),
            Ok(())
        );
        let missing = headers(&[("mcp-method", "tools/call"), ("mcp-name", "echo")]);
        assert!(check(&missing, "tools/call", Some(&with_arg), Some(&schema)).is_err());
    }
}
