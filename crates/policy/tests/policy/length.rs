//! `max_length` rules.

use serde_json::json;
use switchboard_policy::flags::{Inspector, Severity};

use crate::{flag, flags, tool, with_schema};

#[test]
fn the_limit_counts_characters_not_bytes() {
    assert!(flags(&tool("x", "y", &"é".repeat(5000))).is_empty());
    let long = flags(&tool("x", "y", &"a".repeat(5001)));
    let f = flag(&long, "long_description");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.detail, "description: 5001 characters (limit 5000)");
}

#[test]
fn a_custom_limit_can_look_at_the_schema() {
    let rules = r#"{ "rules": [ { "name": "long_param_text", "severity": "warning",
        "kind": "max_length", "max_chars": 20, "in": ["schema"] } ] }"#;
    let t = with_schema(
        "x",
        "y",
        "A description well over twenty characters.",
        json!({ "type": "object", "properties": { "p": { "type": "string",
            "description": "twenty-one characters" } } }),
    );
    let flags = Inspector::from_rules(rules)
        .unwrap()
        .inspect(&t, std::slice::from_ref(&t));
    assert_eq!(
        flag(&flags, "long_param_text").detail,
        "input_schema.properties.p.description: 21 characters (limit 20)"
    );
    assert_eq!(flags.len(), 1);
}
