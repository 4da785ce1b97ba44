//! The index `search_tools` answers from: BM25 (the `bm25` crate, with its
//! English stemming and stop words) over each tool's name, title,
//! description and parameter names and descriptions.
//!
//! Names are split into words first (`create_issue`, `createIssue`,
//! `git-log` all read as two words) and weigh three times: a word of the name says
//! more about a tool than one of its description.

use bm25::{Embedder, EmbedderBuilder, Language, Scorer};
use rmcp::model::Tool;
use serde_json::Value;

/// A search over a list of tools.
pub struct ToolIndex {
    embedder: Embedder,
    scorer: Scorer<u32>,
    len: usize,
}

impl std::fmt::Debug for ToolIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolIndex").field("len", &self.len).finish()
    }
}

/// One match: the tool's position in the indexed list, and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Index into the list the index was built from.
    pub index: usize,
    /// BM25 score (higher is better).
    pub score: f32,
}

/// `create_issue`, `createIssue`, `git-log.v2` -> words separated by spaces.
pub fn split_words(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut prev: Option<char> = None;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            out.push(' ');
        } else {
            if let Some(p) = prev
                && ((p.is_lowercase() && c.is_uppercase())
                    || (p.is_alphabetic() && c.is_ascii_digit())
                    || (p.is_ascii_digit() && c.is_alphabetic()))
            {
                out.push(' ');
            }
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

/// The text a tool is found by.
pub fn document(tool: &Tool) -> String {
    let name = split_words(&tool.name);
    let mut text = format!("{name} {name} {name}");
    if let Some(title) = &tool.title {
        text.push(' ');
        text.push_str(title);
    }
    if let Some(description) = &tool.description {
        text.push(' ');
        text.push_str(description);
    }
    if let Some(Value::Object(properties)) = tool.input_schema.get("properties") {
        for (param, schema) in properties {
            text.push(' ');
            text.push_str(&split_words(param));
            if let Some(d) = schema.get("description").and_then(Value::as_str) {
                text.push(' ');
                text.push_str(d);
            }
        }
    }
    text
}

impl ToolIndex {
    /// Indexes `tools`; hits refer to positions in this slice.
    pub fn build(tools: &[Tool]) -> Self {
        let texts: Vec<String> = tools.iter().map(document).collect();
        let corpus: Vec<&str> = texts.iter().map(String::as_str).collect();
        let embedder = EmbedderBuilder::with_fit_to_corpus(Language::English, &corpus).build();
        let mut scorer = Scorer::new();
        for (i, text) in texts.iter().enumerate() {
            scorer.upsert(&u32::try_from(i).unwrap_or(u32::MAX), embedder.embed(text));
        }
        Self {
            embedder,
            scorer,
            len: tools.len(),
        }
    }

    /// Tools indexed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no tool is indexed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The best `limit` matches for `query`, best first; ties keep list order.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        let query = self.embedder.embed(&split_words(query));
        let mut hits: Vec<Hit> = self
            .scorer
            .matches(&query)
            .into_iter()
            .map(|m| Hit {
                index: m.id as usize,
                score: m.score,
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        hits.truncate(limit);
        hits
    }
}
