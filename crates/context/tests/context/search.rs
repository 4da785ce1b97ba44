//! The tool search index.

use std::sync::Arc;

use rmcp::model::Tool;
use switchboard_context::{ToolIndex, search::split_words};

fn tool(name: &str, description: &str, params: &[&str]) -> Tool {
    let properties: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|p| ((*p).to_owned(), serde_json::json!({"type": "string"})))
        .collect();
    let schema = serde_json::json!({"type": "object", "properties": properties});
    Tool::new(
        name.to_owned(),
        description.to_owned(),
        Arc::new(schema.as_object().cloned().unwrap_or_default()),
    )
}

fn tools() -> Vec<Tool> {
    vec![
        tool(
            "filesystem__read_text_file",
            "Read the complete contents of a file as text",
            &["path"],
        ),
        tool(
            "filesystem__list_directory",
            "Get a detailed listing of all files and directories",
            &["path"],
        ),
        tool(
            "git__git_log",
            "Shows the commit logs",
            &["repo_path", "max_count"],
        ),
        tool(
            "github__createIssue",
            "Open a new issue in a GitHub repository",
            &["owner", "repo", "title"],
        ),
        tool(
            "weather__forecast",
            "Weather forecast for a city",
            &["city", "days"],
        ),
    ]
}

#[test]
fn names_split_into_words() {
    assert_eq!(split_words("create_issue"), "create issue");
    assert_eq!(split_words("createIssue"), "create Issue");
    assert_eq!(split_words("git-log.v2"), "git log v 2");
}

#[test]
fn finds_by_name_description_and_parameter() {
    let list = tools();
    let index = ToolIndex::build(&list);
    assert_eq!(index.len(), 5);
    let first = |q: &str| {
        index
            .search(q, 5)
            .first()
            .map(|h| list[h.index].name.to_string())
    };
    assert_eq!(first("commit history").as_deref(), Some("git__git_log"));
    assert_eq!(
        first("create an issue on github").as_deref(),
        Some("github__createIssue")
    );
    assert_eq!(
        first("what's the weather in Paris").as_deref(),
        Some("weather__forecast")
    );
    assert_eq!(
        first("reading files").as_deref(),
        Some("filesystem__read_text_file")
    );
    // A parameter name is enough.
    assert_eq!(first("repo path").as_deref(), Some("git__git_log"));
    // Nothing in common: nothing found; the limit holds.
    assert!(index.search("zebra", 5).is_empty());
    assert_eq!(index.search("file directory path", 1).len(), 1);
}

#[test]
fn an_empty_list_finds_nothing() {
    let index = ToolIndex::build(&[]);
    assert!(index.is_empty());
    assert!(index.search("anything", 5).is_empty());
}
