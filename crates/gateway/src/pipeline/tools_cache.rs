//! Each client's view of the tools on `/mcp`, cached: with thousands of
//! tools, filtering each through the policy and qualifying its name costs
//! more than the rest of the request. A view is valid while the policy's
//! generation and every ready server's tool list (by identity) are the ones
//! it was built from. What is derived from a view (its JSON, its token
//! counts, its search index, its search-mode listing) is made on first use
//! and lives as long as the view.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
};

use rmcp::model::Tool;
use serde_json::value::RawValue;
use switchboard_context::{ToolIndex, tokens};

use crate::names;

/// Clients whose views are kept at most; past that the cache starts over.
const MAX_CLIENTS: usize = 256;

/// What a view is built from: each ready server's cached tools.
pub(crate) type Sources = Vec<(String, Arc<Vec<Tool>>)>;

/// A `tools/list` result as the cache keeps it: the tools only (the
/// pipeline adds what a client's era needs, such as `resultType`).
#[derive(serde::Serialize)]
struct Listed<'a> {
    tools: &'a [&'a Tool],
}

/// The JSON of a `tools/list` result listing `tools`.
pub(crate) fn listed(tools: &[&Tool]) -> Box<RawValue> {
    serde_json::value::to_raw_value(&Listed { tools })
        .unwrap_or_else(|_| crate::wire::raw(&serde_json::json!({ "tools": [] })))
}

/// The tools one client may use on `/mcp`, names qualified.
pub(crate) struct View {
    generation: u64,
    sources: Sources,
    /// The tools, in server order.
    pub tools: Vec<Tool>,
    /// For each tool, the index of its server in `sources`.
    servers: Vec<u32>,
    json: OnceLock<Box<RawValue>>,
    tokens: OnceLock<Vec<u32>>,
    index: OnceLock<ToolIndex>,
    /// The search-mode listing, with the always-listed tools it was made for.
    search: OnceLock<(Vec<String>, Box<RawValue>)>,
}

impl View {
    /// Builds the view of `tools` (each with the index of its server in
    /// `sources`).
    pub fn new(generation: u64, sources: Sources, tools: Vec<(u32, Tool)>) -> Self {
        let (servers, tools) = tools.into_iter().unzip();
        Self {
            generation,
            sources,
            tools,
            servers,
            json: OnceLock::new(),
            tokens: OnceLock::new(),
            index: OnceLock::new(),
            search: OnceLock::new(),
        }
    }

    /// The full list as the JSON of a `tools/list` result.
    pub fn json(&self) -> Box<RawValue> {
        self.json
            .get_or_init(|| listed(&self.tools.iter().collect::<Vec<_>>()))
            .clone()
    }

    /// Each tool's tokens, in the order of `tools`.
    pub fn tokens(&self) -> &[u32] {
        self.tokens.get_or_init(|| {
            self.tools
                .iter()
                .map(|t| u32::try_from(tokens::tool_tokens(t)).unwrap_or(u32::MAX))
                .collect()
        })
    }

    /// Whether the tools' tokens are counted already.
    pub fn counted(&self) -> bool {
        self.tokens.get().is_some()
    }

    /// Whether the search index is built already.
    pub fn indexed(&self) -> bool {
        self.index.get().is_some()
    }

    /// Tokens of the whole list as sent.
    pub fn total_tokens(&self) -> usize {
        self.tokens().iter().map(|&n| n as usize).sum::<usize>()
            + tokens::list_overhead(self.tools.len())
    }

    /// The server of the tool at `i`.
    pub fn server_of(&self, i: usize) -> &str {
        self.servers
            .get(i)
            .and_then(|&s| self.sources.get(s as usize))
            .map_or("", |(name, _)| name.as_str())
    }

    /// The search index over the tools.
    pub fn index(&self) -> &ToolIndex {
        self.index.get_or_init(|| ToolIndex::build(&self.tools))
    }

    /// The search-mode listing: `search_tools`, `call_tool`, then those of
    /// `always` this view holds.
    pub fn search_json(&self, always: &[String]) -> Box<RawValue> {
        if let Some((made_for, json)) = self.search.get()
            && made_for == always
        {
            return json.clone();
        }
        let json = listed(&self.search_listing(always));
        // Kept for the always-listed tools it was made for (they change
        // only with the policy, which makes a new view).
        let _ = self.search.set((always.to_vec(), json.clone()));
        json
    }

    /// The tools listed in search mode.
    pub fn search_listing<'a>(&'a self, always: &[String]) -> Vec<&'a Tool> {
        let mut list = vec![
            switchboard_context::meta::search_tools(),
            switchboard_context::meta::call_tool(),
        ];
        list.extend(
            self.tools
                .iter()
                .filter(|t| always.iter().any(|a| a == t.name.as_ref())),
        );
        list
    }
}

/// Views by client.
#[derive(Default)]
pub(crate) struct ToolsCache {
    entries: Mutex<HashMap<String, Arc<View>>>,
}

fn same(a: &Sources, b: &Sources) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((n1, t1), (n2, t2))| n1 == n2 && Arc::ptr_eq(t1, t2))
}

impl ToolsCache {
    /// The view of `client` for these inputs: the cached one, or one made by
    /// `build` (outside the lock) and kept.
    pub fn view(
        &self,
        client: &str,
        generation: u64,
        sources: &Sources,
        build: impl FnOnce() -> View,
    ) -> (Arc<View>, bool) {
        {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(view) = entries
                .get(client)
                .filter(|v| v.generation == generation && same(&v.sources, sources))
            {
                return (view.clone(), true);
            }
        }
        let view = Arc::new(build());
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CLIENTS && !entries.contains_key(client) {
            entries.clear();
        }
        entries.insert(client.to_owned(), view.clone());
        (view, false)
    }
}

/// Tokens of `tool` of `server` as `/mcp` lists it (its name qualified).
pub fn listed_tokens(server: &str, tool: &Tool) -> usize {
    tokens::tool_tokens(&qualified(server, tool))
}

/// A tool qualified with its server, as `/mcp` lists it.
pub(crate) fn qualified(server: &str, tool: &Tool) -> Tool {
    let mut tool = tool.clone();
    tool.name = std::borrow::Cow::Owned(names::qualify(server, &tool.name));
    tool
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str) -> Tool {
        Tool::new(name.to_owned(), "d", Arc::new(serde_json::Map::new()))
    }

    fn view(sources: &Sources) -> View {
        View::new(1, sources.clone(), vec![(0, qualified("a", &tool("x")))])
    }

    #[test]
    fn a_view_holds_only_for_its_inputs() {
        let cache = ToolsCache::default();
        let a = Arc::new(vec![tool("x")]);
        let sources: Sources = vec![("a".into(), a.clone())];
        let (first, cached) = cache.view("c", 1, &sources, || view(&sources));
        assert!(!cached);
        assert!(first.json().get().contains("a__x"));
        assert!(!first.json().get().contains("resultType"));
        assert_eq!(first.server_of(0), "a");
        assert!(cache.view("c", 1, &sources, || view(&sources)).1);
        // Another client, another policy generation, a refreshed list, a server gone.
        assert!(!cache.view("d", 1, &sources, || view(&sources)).1);
        assert!(!cache.view("c", 2, &sources, || view(&sources)).1);
        let refreshed: Sources = vec![("a".into(), Arc::new(vec![tool("x")]))];
        assert!(!cache.view("c", 2, &refreshed, || view(&refreshed)).1);
        assert!(!cache.view("c", 2, &Vec::new(), || view(&refreshed)).1);
    }

    #[test]
    fn search_mode_lists_the_meta_tools_and_the_always_listed() {
        let sources: Sources = vec![("a".into(), Arc::new(vec![tool("x"), tool("y")]))];
        let v = View::new(
            1,
            sources.clone(),
            vec![
                (0, qualified("a", &tool("x"))),
                (0, qualified("a", &tool("y"))),
            ],
        );
        let names: Vec<String> = v
            .search_listing(&["a__y".into(), "b__z".into()])
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        assert_eq!(names, ["search_tools", "call_tool", "a__y"]);
        let json = v.search_json(&["a__y".into()]);
        assert!(json.get().contains("search_tools") && !json.get().contains("a__x"));
        assert!(v.total_tokens() > v.tokens().iter().map(|&n| n as usize).sum::<usize>());
    }
}
