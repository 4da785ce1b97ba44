//! A client's POST body at the gateway's edge: parsed as one JSON-RPC
//! message, then classified as a request in each binding the pipeline has.

use std::collections::BTreeMap;

use serde_json::{Value, value::RawValue};
use switchboard_gateway::fuzzing::{self, Binding};

use crate::present;

const MEMBERS: [&str; 5] = ["id", "method", "params", "result", "error"];

/// Parsing: a message is refused with a parse error or an invalid-request
/// error; one that is accepted is written again as JSON that reads back as
/// the very same message, with its id, method, params, result and error as
/// they came.
pub fn parse(data: &[u8]) {
    let written = match fuzzing::parse_message(data) {
        Ok(written) => written,
        Err(code) => {
            assert!(code == -32700 || code == -32600, "error code {code}");
            return;
        }
    };
    assert_eq!(
        fuzzing::parse_message(&written).as_ref(),
        Ok(&written),
        "a written message reads back as itself"
    );
    // JSON that serde_json holds as a value (not, say, 1e999 or a lone
    // surrogate escape, which raw members keep as they came) is written as
    // such, with every member as it was.
    let Ok(Value::Object(input)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let out: Value = serde_json::from_slice(&written).expect("a written message is JSON");
    assert_eq!(out["jsonrpc"], "2.0");
    let kinds = [
        out.get("method").is_some() && out.get("id").is_some(),
        out.get("method").is_some() && out.get("id").is_none(),
        out.get("result").is_some(),
        out.get("error").is_some(),
    ];
    assert_eq!(
        kinds.iter().filter(|k| **k).count(),
        1,
        "exactly one of request, notification, response, error: {out}"
    );
    for member in MEMBERS {
        assert_eq!(
            present(input.get(member)),
            out.get(member),
            "member {member} changed"
        );
    }
}

/// The methods 2026-07-28 removed: a stateless request never reaches them.
const REMOVED_IN_2026: &[&str] = &[
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];

/// Classification: in every binding a request is either served as the
/// method it names, with the params a standard method needs, or answered
/// with a JSON-RPC error for its own id that the gateway itself reads as
/// an error; the protocol eras' rules on which methods exist hold.
pub fn classify(data: &[u8]) {
    let Ok(Value::Object(input)) = serde_json::from_slice::<Value>(data) else {
        // Requests serde_json cannot hold as a value still must not panic.
        for binding in [Binding::Opening, Binding::Session, Binding::Stateless] {
            let _ = fuzzing::classify(data, binding);
        }
        return;
    };
    let method = input.get("method").and_then(Value::as_str).unwrap_or("");
    let params = present(input.get("params"));
    for binding in [Binding::Opening, Binding::Session, Binding::Stateless] {
        let Some(outcome) = fuzzing::classify(data, binding) else {
            return;
        };
        let code = match outcome {
            Ok(served) => {
                assert_eq!(served, method);
                standard_params(method, params);
                None
            }
            Err(answer) => {
                assert!(
                    fuzzing::parse_message(&answer).is_ok(),
                    "the answer is a JSON-RPC message: {}",
                    String::from_utf8_lossy(&answer)
                );
                let answer: Value = serde_json::from_slice(&answer).expect("the answer is JSON");
                assert_eq!(answer.get("id"), present(input.get("id")), "answered id");
                assert!(answer["error"]["message"].is_string());
                let code = answer["error"]["code"].as_i64().expect("an integer code");
                assert!(
                    [-32600, -32601, -32602].contains(&code),
                    "classify answers invalid request, method not found or invalid params: {code}"
                );
                Some(code)
            }
        };
        let not_found = match binding {
            Binding::Opening => method != "initialize",
            Binding::Session => matches!(method, "server/discover" | "subscriptions/listen"),
            Binding::Stateless => REMOVED_IN_2026.contains(&method),
        };
        if not_found {
            assert_eq!(code, Some(-32601), "{method} in {binding:?}");
        }
        if binding == Binding::Session && method == "initialize" {
            assert_eq!(code, Some(-32600), "a second initialize");
        }
    }
    envelope(data);
}

/// What a served standard method's params must have held.
fn standard_params(method: &str, params: Option<&Value>) {
    let params = params.and_then(Value::as_object);
    let member = |key: &str| params.and_then(|p| present(p.get(key)));
    match method {
        "tools/call" => {
            assert!(
                member("name").is_some_and(Value::is_string),
                "tools/call name"
            );
            assert!(
                member("arguments").is_none_or(Value::is_object),
                "tools/call arguments"
            );
        }
        "prompts/get" => assert!(member("name").is_some_and(Value::is_string)),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
            assert!(member("uri").is_some_and(Value::is_string), "{method} uri");
        }
        _ => {}
    }
    if let Some(token) = member("_meta").and_then(|m| present(m.get("progressToken"))) {
        assert!(
            token.is_string() || token.is_i64() || token.is_u64(),
            "progress token {token}"
        );
    }
}

/// The bind stage's reading of the params (`_meta`, an `initialize`'s
/// version) agrees with reading them whole, repeated keys included: the
/// last one counts.
fn envelope(data: &[u8]) {
    let Ok(members) = serde_json::from_slice::<BTreeMap<String, Box<RawValue>>>(data) else {
        return;
    };
    let Some(params) = members.get("params") else {
        return;
    };
    let (meta, version) = fuzzing::envelope(params.get());
    match serde_json::from_str::<Value>(params.get()) {
        Ok(Value::Object(whole)) => {
            assert_eq!(present(meta.as_ref()), present(whole.get("_meta")));
            assert_eq!(
                present(version.as_ref()),
                present(whole.get("protocolVersion"))
            );
        }
        Ok(_) => assert!(meta.is_none() && version.is_none()),
        Err(_) => {}
    }
}
