//! How `/mcp` offers a client its tools: every tool it may use, or (in
//! search mode, or in auto mode past its budget) `search_tools`,
//! `call_tool` and the tools it keeps always listed. What a client's view
//! costs in tokens, per tool and per server.

use std::{collections::BTreeMap, sync::Arc};

use serde_json::{Map, Value};
use switchboard_context::{Listing, meta};
use switchboard_store::Permission;

use super::{
    Core,
    tools_cache::{Sources, View, qualified},
};
use crate::policy::{Offer, Policy};

/// The view of `client` built from `sources` under `policy`: every tool of
/// a server its profile includes that it is not denied, names qualified.
pub(crate) fn build_view(
    policy: &Policy,
    client: &str,
    generation: u64,
    sources: &Sources,
) -> View {
    let mut tools = Vec::new();
    for (i, (server, list)) in sources.iter().enumerate() {
        if policy.server_visible(client, server).is_err() {
            continue;
        }
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        for tool in list.iter() {
            if policy.tool_verdict(client, server, tool).permission == Permission::Deny {
                continue;
            }
            tools.push((i, qualified(server, tool)));
        }
    }
    View::new(generation, sources.clone(), tools)
}

impl Core {
    /// The view of `client` now (cached until the policy or a list changes).
    pub(crate) fn view(&self, client: &str) -> Arc<View> {
        let generation = self.policy.generation();
        let sources = self.tool_sources();
        self.tools_cache
            .view(client, generation, &sources, || {
                build_view(&self.policy, client, generation, &sources)
            })
            .0
    }
}

/// What `client` is listed with `offer` and this view.
pub(crate) fn listing(offer: &Offer, view: &View) -> Listing {
    offer
        .mode
        .listing(offer.budget, view.tools.len(), || view.total_tokens())
}

/// Runs `work` on the blocking pool: counting the tokens of thousands of
/// definitions, or indexing them, takes longer than a runtime thread may be
/// held.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(work).await.ok()
}

/// The `tools/list` result of `/mcp` for `client`. In search mode the view's
/// index is built meanwhile, so the client's first search finds it ready.
pub(super) async fn tools_list(core: &Core, client: &str) -> Box<serde_json::value::RawValue> {
    let view = core.view(client);
    let offer = core.policy.offer(client);
    // Answered from the view, without a typed session on either side.
    core.direct
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let decided = {
        let (view, offer) = (view.clone(), offer.clone());
        match offer.budget.tokens.is_some() && !view.counted() {
            true => blocking(move || listing(&offer, &view)).await,
            false => Some(listing(&offer, &view)),
        }
    };
    match decided.unwrap_or(Listing::Full) {
        Listing::Full => view.json(),
        Listing::Search => {
            if !view.indexed() {
                let view = view.clone();
                tokio::task::spawn_blocking(move || {
                    view.index();
                });
            }
            view.search_json(&offer.always_listed)
        }
    }
}

/// Answers `search_tools`: the client's own tools that match, best first.
pub(super) async fn search(
    core: &Core,
    client: &str,
    arguments: Option<&Map<String, Value>>,
) -> Value {
    let args = match meta::search_args(arguments) {
        Ok(args) => args,
        Err(e) => return meta::tool_error(&e.to_string()),
    };
    let view = core.view(client);
    blocking(move || {
        let hits = view.index().search(&args.query, args.limit);
        let found: Vec<_> = hits.iter().map(|h| &view.tools[h.index]).collect();
        meta::search_result(&found)
    })
    .await
    .unwrap_or_else(|| meta::tool_error("the search was interrupted; try again"))
}

/// One tool's cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCost {
    /// Its server.
    pub server: String,
    /// Its name on `/mcp` (`SERVER__TOOL`).
    pub name: String,
    /// Tokens of its definition.
    pub tokens: usize,
    /// Whether it is listed whatever the mode.
    pub always_listed: bool,
}

/// One server's share of a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCost {
    /// The server.
    pub server: String,
    /// Its tools in the view.
    pub tools: usize,
    /// Their tokens.
    pub tokens: usize,
}

/// What a client's tools cost and how they are offered to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextReport {
    /// The client.
    pub client: String,
    /// Its mode, budget and always-listed tools.
    pub offer: Offer,
    /// What it is listed now.
    pub listing: Listing,
    /// Tools in its full view (passthrough).
    pub view_tools: usize,
    /// Tokens of its full view.
    pub view_tokens: usize,
    /// Tools it is listed now.
    pub listed_tools: usize,
    /// Tokens of what it is listed now.
    pub listed_tokens: usize,
    /// Past its tool budget.
    pub over_tools: bool,
    /// Past its token budget.
    pub over_tokens: bool,
    /// Its servers, most tokens first.
    pub servers: Vec<ServerCost>,
    /// Its tools, in server order.
    pub tools: Vec<ToolCost>,
}

/// The report of `client` for this view.
pub(crate) fn report(client: &str, offer: Offer, view: &View) -> ContextReport {
    let listing = listing(&offer, view);
    let tokens = view.tokens();
    let mut servers: BTreeMap<&str, ServerCost> = BTreeMap::new();
    let mut tools = Vec::with_capacity(view.tools.len());
    for (i, tool) in view.tools.iter().enumerate() {
        let server = view.server_of(i);
        let n = tokens.get(i).copied().unwrap_or(0) as usize;
        let entry = servers.entry(server).or_insert_with(|| ServerCost {
            server: server.to_owned(),
            tools: 0,
            tokens: 0,
        });
        entry.tools += 1;
        entry.tokens += n;
        tools.push(ToolCost {
            server: server.to_owned(),
            name: tool.name.to_string(),
            tokens: n,
            always_listed: offer.always_listed.iter().any(|a| a == tool.name.as_ref()),
        });
    }
    let mut servers: Vec<ServerCost> = servers.into_values().collect();
    servers.sort_by(|a, b| b.tokens.cmp(&a.tokens).then(a.server.cmp(&b.server)));
    let view_tokens = view.total_tokens();
    let (listed_tools, listed_tokens) = match listing {
        Listing::Full => (view.tools.len(), view_tokens),
        Listing::Search => {
            let list = view.search_listing(&offer.always_listed);
            let n: usize = list
                .iter()
                .map(|t| switchboard_context::tool_tokens(t))
                .sum();
            (
                list.len(),
                n + switchboard_context::tokens::list_overhead(list.len()),
            )
        }
    };
    let (over_tools, over_tokens) = offer.budget.exceeded(switchboard_context::View {
        tools: view.tools.len(),
        tokens: view_tokens,
    });
    ContextReport {
        client: client.to_owned(),
        offer,
        listing,
        view_tools: view.tools.len(),
        view_tokens,
        listed_tools,
        listed_tokens,
        over_tools,
        over_tokens,
        servers,
        tools,
    }
}

impl Core {
    /// What `client`'s tools cost and how they are offered to it now.
    pub(crate) fn report(&self, client: &str) -> ContextReport {
        let view = self.view(client);
        report(client, self.policy.offer(client).as_ref().clone(), &view)
    }
}

/// The reports of `clients` with the tools of `servers`, under `policy`
/// (for the CLI when no gateway runs).
pub fn reports(
    policy: &Policy,
    clients: &[String],
    servers: &BTreeMap<String, Vec<rmcp::model::Tool>>,
) -> Vec<ContextReport> {
    let sources: Sources = servers
        .iter()
        .map(|(name, tools)| (name.clone(), Arc::new(tools.clone())))
        .collect();
    let sources = &sources;
    let generation = policy.generation();
    clients
        .iter()
        .map(|c| {
            let view = build_view(policy, c, generation, sources);
            report(c, policy.offer(c).as_ref().clone(), &view)
        })
        .collect()
}
