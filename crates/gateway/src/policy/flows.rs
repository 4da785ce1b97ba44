//! Toxic flows at the enforcement point: each tool's labels (private data,
//! untrusted content, outbound), which sessions have received a result of an
//! untrusted-content tool, and the guard that makes their outbound calls ask
//! first.
//!
//! A session is known by its key; a 2026-07-28 client, which has no session,
//! by its name (so all of its requests share one taint).

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, OnceLock},
};

use rmcp::model::Tool;
use switchboard_policy::flows::{FlowClassifier, FlowLabels};
use switchboard_store::Permission;

use super::{Policy, Verdict, flags::definition};
use crate::session::SessionKey;

/// Sessions remembered as tainted at most; past that the oldest is forgotten.
const MAX_TAINTED: usize = 65_536;

/// Whose calls a taint applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlowKey {
    /// One MCP session.
    Session(SessionKey),
    /// Every request of a client without sessions.
    Client(String),
}

/// The untrusted tool whose result a session received.
#[derive(Debug, Clone)]
struct Taint {
    tool: String,
}

#[derive(Debug, Default)]
struct Taints {
    by_key: HashMap<FlowKey, Taint>,
    order: VecDeque<FlowKey>,
}

/// Labels by server and tool, valid for one policy generation.
#[derive(Debug, Default)]
struct LabelCache {
    generation: u64,
    by_tool: HashMap<(String, String), Arc<FlowLabels>>,
}

/// The gateway's flow state.
#[derive(Debug, Default)]
pub(crate) struct Flows {
    labels: Mutex<LabelCache>,
    tainted: Mutex<Taints>,
}

/// Compiling the rules takes a moment; it happens on first use.
fn classifier() -> &'static FlowClassifier {
    static CLASSIFIER: OnceLock<FlowClassifier> = OnceLock::new();
    CLASSIFIER.get_or_init(FlowClassifier::builtin)
}

/// The key of an override: the tool's name on `/mcp`.
pub fn override_key(server: &str, tool: &str) -> String {
    crate::names::qualify(server, tool)
}

impl Policy {
    /// The labels of `tool` (named as its server names it) of `server`, the
    /// user's overrides applied.
    pub fn flow_labels(&self, server: &str, tool: &Tool) -> Arc<FlowLabels> {
        let generation = self.generation();
        let key = (server.to_owned(), tool.name.to_string());
        {
            let cache = self.flows.labels.lock().unwrap_or_else(|e| e.into_inner());
            if cache.generation == generation
                && let Some(labels) = cache.by_tool.get(&key)
            {
                return labels.clone();
            }
        }
        let snapshot = self.snapshot();
        let overrides = snapshot
            .settings
            .flow_overrides
            .get(&override_key(server, &tool.name));
        let labels = Arc::new(classifier().classify(&definition(server, tool), overrides));
        let mut cache = self.flows.labels.lock().unwrap_or_else(|e| e.into_inner());
        if cache.generation != generation {
            cache.generation = generation;
            cache.by_tool.clear();
        }
        cache.by_tool.insert(key, labels.clone());
        labels
    }

    /// `verdict` under the toxic-flow guard: an outbound tool that would run
    /// without asking asks first once `key` received untrusted content.
    pub fn flow_verdict(
        &self,
        verdict: Verdict,
        key: &FlowKey,
        server: &str,
        tool: &Tool,
    ) -> Verdict {
        if verdict.permission != Permission::Allow || !self.snapshot().settings.flow_guard {
            return verdict;
        }
        let Some(source) = self.taint_of(key) else {
            return verdict;
        };
        if !self.flow_labels(server, tool).outbound {
            return verdict;
        }
        Verdict {
            permission: Permission::Ask,
            rule: format!(
                "toxic-flow guard: this session received untrusted content from \"{source}\", \
                 so outbound tools ask first"
            ),
        }
    }

    /// Whether the user set any label of `server`'s `tool`.
    pub fn flow_overridden(&self, server: &str, tool: &str) -> bool {
        self.snapshot()
            .settings
            .flow_overrides
            .contains_key(&override_key(server, tool))
    }

    /// A call of `tool` answered `key`: remembered when the tool carries
    /// untrusted content.
    pub fn flow_received(&self, key: &FlowKey, server: &str, tool: &Tool) {
        if !self.flow_labels(server, tool).untrusted_content {
            return;
        }
        let mut taints = self.flows.tainted.lock().unwrap_or_else(|e| e.into_inner());
        let taint = Taint {
            tool: override_key(server, &tool.name),
        };
        if taints.by_key.insert(key.clone(), taint).is_none() {
            taints.order.push_back(key.clone());
            while taints.order.len() > MAX_TAINTED {
                if let Some(old) = taints.order.pop_front() {
                    taints.by_key.remove(&old);
                }
            }
        }
    }

    /// The untrusted tool `key` received a result of, if any.
    pub fn taint_of(&self, key: &FlowKey) -> Option<String> {
        let taints = self.flows.tainted.lock().unwrap_or_else(|e| e.into_inner());
        taints.by_key.get(key).map(|t| t.tool.clone())
    }

    /// A session ended: its taint goes with it.
    pub fn flow_forget(&self, key: &FlowKey) {
        let mut taints = self.flows.tainted.lock().unwrap_or_else(|e| e.into_inner());
        if taints.by_key.remove(key).is_some() {
            taints.order.retain(|k| k != key);
        }
    }
}
