//! What each client's tools cost, its budget and its tool mode: the types
//! of the context commands and the commands themselves.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
};

use rmcp::model::Tool;
use serde::{Deserialize, Serialize};
use switchboard_gateway::ContextReport;
use switchboard_store::ContextUpdate;
use ts_rs::TS;

use crate::{Api, schema::ApiError};

/// How `/mcp` offers a client its tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum ToolMode {
    /// Every tool it may use.
    Passthrough,
    /// `search_tools` and `call_tool`, plus the always-listed tools.
    Search,
    /// Every tool within the budget, search past it.
    Auto,
}

impl From<switchboard_context::ToolMode> for ToolMode {
    fn from(m: switchboard_context::ToolMode) -> Self {
        match m {
            switchboard_context::ToolMode::Passthrough => ToolMode::Passthrough,
            switchboard_context::ToolMode::Search => ToolMode::Search,
            switchboard_context::ToolMode::Auto => ToolMode::Auto,
        }
    }
}

impl ToolMode {
    fn stored(self) -> String {
        match self {
            ToolMode::Passthrough => "passthrough",
            ToolMode::Search => "search",
            ToolMode::Auto => "auto",
        }
        .to_owned()
    }
}

/// A client's budget (None: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Budget {
    /// Tools listed at most.
    pub tools: Option<u32>,
    /// Tokens of tool definitions at most.
    pub tokens: Option<u32>,
}

impl From<switchboard_context::Budget> for Budget {
    fn from(b: switchboard_context::Budget) -> Self {
        Self {
            tools: b.tools,
            tokens: b.tokens,
        }
    }
}

/// One server's share of a client's view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ServerTokens {
    /// Server.
    pub server: String,
    /// Its tools in the view.
    pub tools: u32,
    /// Tokens of their definitions.
    pub tokens: u32,
}

/// One tool's cost in a client's view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ToolTokens {
    /// Server.
    pub server: String,
    /// Name on `/mcp` (`SERVER__TOOL`).
    pub name: String,
    /// Tokens of its definition.
    pub tokens: u32,
    /// Listed whatever the mode.
    pub always_listed: bool,
}

/// What a client's tools cost and how they are offered to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ClientContext {
    /// Client.
    pub client: String,
    /// Its tool mode.
    pub mode: ToolMode,
    /// Whether the mode is its kind's default (not set for it).
    pub mode_default: bool,
    /// Its budget.
    pub budget: Budget,
    /// Its kind's budget.
    pub default_budget: Budget,
    /// Where its kind's defaults come from.
    pub defaults_reason: String,
    /// True when `/mcp` lists it the search tools now.
    pub searching: bool,
    /// Tools in its full view.
    pub view_tools: u32,
    /// Tokens of its full view.
    pub view_tokens: u32,
    /// Tools it is listed now.
    pub listed_tools: u32,
    /// Tokens of what it is listed now.
    pub listed_tokens: u32,
    /// Past its tool budget.
    pub over_tools: bool,
    /// Past its token budget.
    pub over_tokens: bool,
    /// Its servers, most tokens first.
    pub servers: Vec<ServerTokens>,
    /// Its tools.
    pub tools: Vec<ToolTokens>,
    /// The tokenizer's encoding (an estimate for other model families).
    pub encoding: String,
}

fn n(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl From<ContextReport> for ClientContext {
    fn from(r: ContextReport) -> Self {
        Self {
            client: r.client,
            mode: r.offer.mode.into(),
            mode_default: r.offer.mode_default,
            budget: r.offer.budget.into(),
            default_budget: r.offer.default_budget.into(),
            defaults_reason: r.offer.why.to_owned(),
            searching: r.listing == switchboard_context::Listing::Search,
            view_tools: n(r.view_tools),
            view_tokens: n(r.view_tokens),
            listed_tools: n(r.listed_tools),
            listed_tokens: n(r.listed_tokens),
            over_tools: r.over_tools,
            over_tokens: r.over_tokens,
            servers: r
                .servers
                .into_iter()
                .map(|s| ServerTokens {
                    server: s.server,
                    tools: n(s.tools),
                    tokens: n(s.tokens),
                })
                .collect(),
            tools: r
                .tools
                .into_iter()
                .map(|t| ToolTokens {
                    server: t.server,
                    name: t.name,
                    tokens: n(t.tokens),
                    always_listed: t.always_listed,
                })
                .collect(),
            encoding: switchboard_context::ENCODING.to_owned(),
        }
    }
}

/// What the doctor needs of a client's context.
pub fn doctor_state(c: ClientContext) -> switchboard_clients::doctor::ContextState {
    switchboard_clients::doctor::ContextState {
        mode: serde_json::to_value(c.mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        client: c.client,
        searching: c.searching,
        tools: c.view_tools,
        tokens: c.view_tokens,
        budget_tools: c.budget.tools,
        budget_tokens: c.budget.tokens,
    }
}

/// A budget limit to change: absent leaves it, null goes back to the kind's
/// default, a number sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "to", content = "value", rename_all = "lowercase")]
pub enum Limit {
    /// Back to the kind's default.
    Default,
    /// This many.
    Set(u32),
}

/// A mode to change to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "to", content = "value", rename_all = "lowercase")]
pub enum ModeChange {
    /// Back to the kind's default.
    Default,
    /// This mode.
    Set(ToolMode),
}

/// Changes how `/mcp` offers a client its tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SetClientTools {
    /// Client.
    pub client: String,
    /// New mode (absent: unchanged).
    #[ts(optional)]
    pub mode: Option<ModeChange>,
    /// New tool budget.
    #[ts(optional)]
    pub budget_tools: Option<Limit>,
    /// New token budget.
    #[ts(optional)]
    pub budget_tokens: Option<Limit>,
    /// Tools (`SERVER__TOOL`) to list whatever the mode.
    #[serde(default)]
    pub always_list: Vec<String>,
    /// Tools to take off that list.
    #[serde(default)]
    pub unlist: Vec<String>,
}

fn limit(l: Option<Limit>) -> Option<Option<u32>> {
    l.map(|l| match l {
        Limit::Default => None,
        Limit::Set(n) => Some(n),
    })
}

impl Api {
    /// Every client's context, by name.
    pub(crate) async fn contexts_list(&self, (): ()) -> Result<Vec<ClientContext>, ApiError> {
        let names = self.client_names().await?;
        Ok(self.contexts_of(&names).await)
    }

    /// Every client's name.
    pub(crate) async fn client_names(&self) -> Result<Vec<String>, ApiError> {
        Ok(self
            .store
            .list_clients()
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect())
    }

    /// Reports for `names`, after the policy has picked up the store.
    pub(crate) async fn contexts_of(&self, names: &[String]) -> Vec<ClientContext> {
        let contexts = self.contexts.clone();
        let names = names.to_vec();
        // Counting thousands of definitions is CPU work: off the runtime.
        tokio::task::spawn_blocking(move || contexts.reports(&names))
            .await
            .unwrap_or_default()
            .into_iter()
            .map(ClientContext::from)
            .collect()
    }

    pub(crate) async fn client_set_tools(
        &self,
        p: SetClientTools,
    ) -> Result<ClientContext, ApiError> {
        let update = ContextUpdate {
            tool_mode: p.mode.map(|m| match m {
                ModeChange::Default => None,
                ModeChange::Set(mode) => Some(mode.stored()),
            }),
            budget_tools: limit(p.budget_tools),
            budget_tokens: limit(p.budget_tokens),
            list: p.always_list,
            unlist: p.unlist,
        };
        self.store.set_client_context(&p.client, update).await?;
        // Applied now, not at the next look at the store.
        self.policy.reload().await?;
        self.contexts_of(std::slice::from_ref(&p.client))
            .await
            .pop()
            .ok_or_else(|| ApiError::not_found(format!("no client named \"{}\"", p.client)))
    }
}

/// Tokens of each server's tool definitions as `/mcp` lists them, counted
/// once per list the server serves.
#[derive(Default)]
pub(crate) struct TokenMemo {
    by_server: Mutex<HashMap<String, Counted>>,
}

/// The list a server served (held weakly) and its tools' tokens.
type Counted = (Weak<Vec<Tool>>, Arc<Vec<u32>>);

impl TokenMemo {
    /// Each tool's tokens, in the order of `tools`.
    pub fn counts(&self, server: &str, tools: &Arc<Vec<Tool>>) -> Arc<Vec<u32>> {
        {
            let memo = self.by_server.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((list, counts)) = memo.get(server)
                && list.upgrade().is_some_and(|l| Arc::ptr_eq(&l, tools))
            {
                return counts.clone();
            }
        }
        let counts: Arc<Vec<u32>> = Arc::new(
            tools
                .iter()
                .map(|t| n(switchboard_gateway::listed_tokens(server, t)))
                .collect(),
        );
        let mut memo = self.by_server.lock().unwrap_or_else(|e| e.into_inner());
        memo.insert(server.to_owned(), (Arc::downgrade(tools), counts.clone()));
        counts
    }
}
