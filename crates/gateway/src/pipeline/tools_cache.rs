//! The merged tools/list of `/mcp`, cached per client: with thousands of
//! tools, filtering each through the policy and qualifying its name costs
//! more than the rest of the request. An entry is valid while the policy's
//! generation and every ready server's tool list (by identity) are the ones
//! it was built from.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
};

use rmcp::model::Tool;
use serde_json::value::RawValue;

/// Clients whose lists are kept at most; past that the cache starts over.
const MAX_CLIENTS: usize = 256;

/// What a merged list was built from: each ready server's cached tools.
pub(crate) type Sources = Vec<(String, Arc<Vec<Tool>>)>;

/// Where an entry's JSON form is kept once made.
type JsonCell = Arc<OnceLock<Box<RawValue>>>;

/// A `tools/list` result as the cache keeps it: the tools only (the
/// pipeline adds what a client's era needs, such as `resultType`).
#[derive(serde::Serialize)]
struct Listed<'a> {
    tools: &'a [Tool],
}

struct Entry {
    generation: u64,
    sources: Sources,
    tools: Arc<Vec<Tool>>,
    /// The list as the JSON of a `tools/list` result, made on first use.
    json: JsonCell,
}

/// Merged, filtered and qualified tool lists by client.
#[derive(Default)]
pub(crate) struct ToolsCache {
    entries: Mutex<HashMap<String, Entry>>,
}

fn same(a: &Sources, b: &Sources) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((n1, t1), (n2, t2))| n1 == n2 && Arc::ptr_eq(t1, t2))
}

impl ToolsCache {
    /// The entry built for `client` from exactly these inputs: its list and
    /// the cell of its JSON form.
    fn lookup(
        &self,
        client: &str,
        generation: u64,
        sources: &Sources,
    ) -> Option<(Arc<Vec<Tool>>, JsonCell)> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(client)
            .filter(|e| e.generation == generation && same(&e.sources, sources))
            .map(|e| (e.tools.clone(), e.json.clone()))
    }

    /// The list built for `client` from exactly these inputs as the JSON of
    /// a `tools/list` result, with the number of tools, if it is cached.
    pub fn get_json(
        &self,
        client: &str,
        generation: u64,
        sources: &Sources,
    ) -> Option<(Box<RawValue>, usize)> {
        let (tools, json) = self.lookup(client, generation, sources)?;
        // Serialized outside the lock, once per entry.
        let raw = json.get_or_init(|| {
            serde_json::value::to_raw_value(&Listed { tools: &tools })
                .unwrap_or_else(|_| crate::wire::raw(&serde_json::json!({ "tools": [] })))
        });
        Some((raw.clone(), tools.len()))
    }

    /// Keeps `tools`, built for `client` from these inputs.
    pub fn put(&self, client: &str, generation: u64, sources: Sources, tools: Arc<Vec<Tool>>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CLIENTS && !entries.contains_key(client) {
            entries.clear();
        }
        entries.insert(
            client.to_owned(),
            Entry {
                generation,
                sources,
                tools,
                json: Arc::default(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str) -> Tool {
        Tool::new(name.to_owned(), "d", Arc::new(serde_json::Map::new()))
    }

    #[test]
    fn an_entry_holds_only_for_its_inputs() {
        let cache = ToolsCache::default();
        let a = Arc::new(vec![tool("x")]);
        let sources: Sources = vec![("a".into(), a.clone())];
        let merged = Arc::new(vec![tool("a__x")]);
        cache.put("c", 1, sources.clone(), merged.clone());
        let (json, items) = cache.get_json("c", 1, &sources).expect("cached");
        assert_eq!(items, 1);
        assert!(json.get().contains("a__x"));
        assert!(!json.get().contains("resultType"));
        // Another client, another policy generation, a refreshed list, a server gone.
        assert!(cache.get_json("d", 1, &sources).is_none());
        assert!(cache.get_json("c", 2, &sources).is_none());
        let refreshed: Sources = vec![("a".into(), Arc::new(vec![tool("x")]))];
        assert!(cache.get_json("c", 1, &refreshed).is_none());
        assert!(cache.get_json("c", 1, &Vec::new()).is_none());
    }
}
