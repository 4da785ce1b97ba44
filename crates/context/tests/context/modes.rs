//! Tool modes, budgets and the defaults by client kind.

use switchboard_context::{Budget, Listing, ToolMode, defaults_for, meta};

#[test]
fn modes_parse_and_print() {
    for mode in [ToolMode::Passthrough, ToolMode::Search, ToolMode::Auto] {
        assert_eq!(mode.as_str().parse::<ToolMode>().expect("parses"), mode);
    }
    let err = "fast".parse::<ToolMode>().expect_err("unknown mode");
    assert!(err.to_string().contains("passthrough, search or auto"));
}

#[test]
fn auto_switches_to_search_past_either_budget() {
    let budget = Budget {
        tools: Some(40),
        tokens: Some(20_000),
    };
    assert_eq!(ToolMode::Auto.listing(budget, 40, || 20_000), Listing::Full);
    assert_eq!(ToolMode::Auto.listing(budget, 41, || 10), Listing::Search);
    assert_eq!(
        ToolMode::Auto.listing(budget, 3, || 20_001),
        Listing::Search
    );
    // Past the count, tokens are not counted at all.
    assert_eq!(
        ToolMode::Auto.listing(budget, 41, || panic!("not needed")),
        Listing::Search
    );
    // No budget: auto is passthrough, and nothing is counted.
    assert_eq!(
        ToolMode::Auto.listing(Budget::default(), 5_000, || panic!("not needed")),
        Listing::Full
    );
    assert_eq!(
        ToolMode::Passthrough.listing(budget, 9_999, || 1 << 30),
        Listing::Full
    );
    assert_eq!(ToolMode::Search.listing(budget, 0, || 0), Listing::Search);
}

#[test]
fn defaults_follow_the_client_kind() {
    assert_eq!(defaults_for("cursor").budget.tools, Some(40));
    assert_eq!(defaults_for("cursor-work").budget.tools, Some(40));
    assert_eq!(defaults_for("vscode").budget.tools, Some(128));
    assert_eq!(defaults_for("windsurf").budget.tools, Some(100));
    // A client that searches its tools itself keeps every tool.
    assert_eq!(defaults_for("claude-code").mode, ToolMode::Passthrough);
    assert_eq!(defaults_for("claude-desktop").budget.tokens, Some(20_000));
    // Not a kind: no budget, so auto lists everything.
    let script = defaults_for("cursory");
    assert_eq!(script.budget, Budget::default());
    assert_eq!(script.mode, ToolMode::Auto);
}

#[test]
fn search_and_call_arguments_are_checked() {
    let args = |v: serde_json::Value| v.as_object().cloned();
    let ok = meta::search_args(args(serde_json::json!({"query": "read a file"})).as_ref())
        .expect("valid");
    assert_eq!(ok.limit, meta::DEFAULT_LIMIT);
    for bad in [
        serde_json::json!({}),
        serde_json::json!({"query": " "}),
        serde_json::json!({"query": "x", "limit": 0}),
        serde_json::json!({"query": "x", "limit": 1000}),
        serde_json::json!({"query": "x", "limit": "3"}),
        serde_json::json!({"query": "x", "requestState": 0}),
    ] {
        assert!(
            meta::search_args(args(bad.clone()).as_ref()).is_err(),
            "{bad}"
        );
    }
    let call = meta::call_args(
        args(serde_json::json!({"name": "git__git_log", "arguments": {"repo_path": "."}})).as_ref(),
    )
    .expect("valid");
    assert_eq!(call.name, "git__git_log");
    for bad in [
        serde_json::json!({}),
        serde_json::json!({"name": ""}),
        serde_json::json!({"name": "x", "arguments": [1]}),
        serde_json::json!({"name": "x", "args": {}}),
    ] {
        assert!(
            meta::call_args(args(bad.clone()).as_ref()).is_err(),
            "{bad}"
        );
    }
}
