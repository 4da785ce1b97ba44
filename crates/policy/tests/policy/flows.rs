//! Toxic-flow labels of real tool definitions (captured from their servers in
//! the bench corpus), annotations, and the user's overrides.

use serde_json::Value;
use switchboard_policy::{
    flags::ToolDefinition,
    flows::{FlowClassifier, FlowLabel, FlowLabels, FlowOverride},
};

/// A tool of a captured server in `crates/bench/corpus/tools/SERVER.json`.
fn captured(server: &str, tool: &str) -> ToolDefinition {
    let path = format!(
        "{}/../bench/corpus/tools/{server}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    let found = file["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == tool)
        .unwrap_or_else(|| panic!("{tool} is not in {path}"))
        .clone();
    ToolDefinition {
        server: server.to_owned(),
        name: tool.to_owned(),
        title: found["title"].as_str().map(str::to_owned),
        description: found["description"].as_str().map(str::to_owned),
        input_schema: found["inputSchema"].clone(),
        output_schema: None,
        annotations: found.get("annotations").cloned(),
    }
}

fn labels(server: &str, tool: &str) -> FlowLabels {
    FlowClassifier::builtin().classify(&captured(server, tool), None)
}

fn set(l: &FlowLabels) -> Vec<FlowLabel> {
    FlowLabel::ALL.into_iter().filter(|x| l.has(*x)).collect()
}

#[test]
fn real_tools_get_the_labels_a_reviewer_would_give() {
    use FlowLabel::*;
    let cases: &[(&str, &str, &[FlowLabel])] = &[
        ("filesystem", "read_text_file", &[PrivateData]),
        ("filesystem", "search_files", &[PrivateData]),
        ("memory", "read_graph", &[PrivateData]),
        ("git", "git_log", &[PrivateData]),
        ("fetch", "fetch", &[UntrustedContent, Outbound]),
        ("slack", "slack_post_message", &[Outbound]),
        ("slack", "slack_get_channel_history", &[UntrustedContent]),
        ("github", "create_issue", &[Outbound]),
        ("github", "get_issue", &[UntrustedContent]),
    ];
    for (server, tool, want) in cases {
        let got = labels(server, tool);
        for label in *want {
            assert!(
                got.has(*label),
                "{server}/{tool}: want {label:?}, got {:?} ({:?})",
                set(&got),
                got.why
            );
        }
        assert!(!got.why.is_empty(), "{server}/{tool} says why");
    }
    for (server, tool, not) in [
        ("filesystem", "read_text_file", Outbound),
        ("memory", "read_graph", Outbound),
        ("slack", "slack_post_message", PrivateData),
    ] {
        assert!(
            !labels(server, tool).has(not),
            "{server}/{tool} is not {not:?}"
        );
    }
}

fn tool(name: &str, description: &str, annotations: Option<Value>) -> ToolDefinition {
    ToolDefinition {
        server: "s".into(),
        name: name.into(),
        title: None,
        description: Some(description.into()),
        input_schema: serde_json::json!({"type": "object"}),
        output_schema: None,
        annotations,
    }
}

#[test]
fn annotations_count_and_overrides_win() {
    let classifier = FlowClassifier::builtin();
    let open = tool(
        "lookup",
        "Looks something up.",
        Some(serde_json::json!({"openWorldHint": true})),
    );
    let got = classifier.classify(&open, None);
    assert!(got.untrusted_content && got.outbound, "{got:?}");
    assert!(got.why.iter().any(|w| w.contains("openWorldHint")));
    let writer = tool(
        "deliver",
        "Delivers the given text.",
        Some(serde_json::json!({"openWorldHint": true, "readOnlyHint": false})),
    );
    let got = classifier.classify(&writer, None);
    assert!(
        got.outbound && !got.untrusted_content,
        "a writer's answer is its own: {got:?}"
    );

    let closed = tool(
        "post_note",
        "Posts a note to the local journal.",
        Some(serde_json::json!({"openWorldHint": false, "readOnlyHint": true})),
    );
    assert!(
        !classifier.classify(&closed, None).outbound,
        "read-only and closed world is not outbound"
    );

    let plain = tool("summarize", "Summarizes text.", None);
    assert_eq!(set(&classifier.classify(&plain, None)), vec![]);
    let overridden = FlowOverride {
        outbound: Some(true),
        ..FlowOverride::default()
    };
    let got = classifier.classify(&plain, Some(&overridden));
    assert!(
        got.outbound && got.why == vec!["outbound: set by you".to_owned()],
        "{got:?}"
    );
    let off = FlowOverride {
        untrusted_content: Some(false),
        outbound: Some(false),
        ..FlowOverride::default()
    };
    let got = classifier.classify(&open, Some(&off));
    assert!(
        !got.untrusted_content && !got.outbound && got.why.is_empty(),
        "{got:?}"
    );
}

#[test]
fn bad_rules_are_refused_with_their_label() {
    let err = FlowClassifier::from_rules(r#"{"labels": {"outbound": {"names": ["(unclosed"]}}}"#)
        .unwrap_err();
    assert!(err.to_string().contains("Outbound"), "{err}");
    assert!(FlowClassifier::from_rules(r#"{"labels": {"sideways": {}}}"#).is_err());
}

/// Words that name a flow only in context: a "request" is not a web request,
/// a "query" is not a database.
#[test]
fn words_that_only_sometimes_mean_a_flow() {
    let classifier = FlowClassifier::builtin();
    let sampling = tool(
        "trigger_sampling_request",
        "Asks the client's model for a completion.",
        None,
    );
    assert!(
        !classifier.classify(&sampling, None).outbound,
        "a sampling request sends nothing out"
    );
    let research = tool(
        "simulate_research_query",
        "Runs a simulated research task.",
        None,
    );
    assert!(!classifier.classify(&research, None).private_data);
    let http = tool("make_http_request", "Calls a URL.", None);
    assert!(classifier.classify(&http, None).outbound);
    let sql = tool("run_sql", "Runs a statement.", None);
    assert!(classifier.classify(&sql, None).private_data);
}
