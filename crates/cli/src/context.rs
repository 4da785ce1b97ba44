//! `switchboard clients set` and `clients list`: each client's tool mode,
//! budget, and what its view of the tools costs.

use std::{io::Write as _, path::Path};

use clap::Args;
use serde::Serialize;
use switchboard_api::context::ClientContext;
use switchboard_store::{ContextUpdate, Store};

use crate::{error::CliError, remote::Remote};

/// `clients set NAME …`
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The client.
    name: String,
    /// How `/mcp` lists it tools: passthrough (every tool), search
    /// (`search_tools` and `call_tool`), auto (search past the budget), or
    /// default (its kind's).
    #[arg(long, value_name = "MODE", value_parser = ["passthrough", "search", "auto", "default"])]
    tool_mode: Option<String>,
    /// Tools it should be listed at most (a number, or `default`).
    #[arg(long, value_name = "N|default")]
    budget_tools: Option<String>,
    /// Tokens of tool definitions it should be listed at most (a number, or `default`).
    #[arg(long, value_name = "N|default")]
    budget_tokens: Option<String>,
    /// A tool (SERVER__TOOL) to list whatever the mode (repeat for more).
    #[arg(long = "always-list", value_name = "TOOL")]
    always_list: Vec<String>,
    /// A tool to take off the always-listed ones (repeat for more).
    #[arg(long = "unlist", value_name = "TOOL")]
    unlist: Vec<String>,
}

fn limit(value: Option<&str>, what: &str) -> Result<Option<Option<u32>>, CliError> {
    match value {
        None => Ok(None),
        Some("default") => Ok(Some(None)),
        Some(n) => n.parse().map(|n| Some(Some(n))).map_err(|_| {
            CliError::Usage(format!("{what} must be a number or `default`, got {n:?}"))
        }),
    }
}

/// `clients set`: changes the store; a running gateway applies it within a second.
pub async fn set(store: &Store, args: SetArgs) -> Result<(), CliError> {
    for tool in args.always_list.iter().chain(&args.unlist) {
        if switchboard_gateway::names::split_qualified(tool).is_none() {
            return Err(CliError::Usage(format!(
                "{tool:?} is not a tool as /mcp names it: SERVER__TOOL"
            )));
        }
    }
    let update = ContextUpdate {
        tool_mode: args.tool_mode.map(|m| (m != "default").then_some(m)),
        budget_tools: limit(args.budget_tools.as_deref(), "--budget-tools")?,
        budget_tokens: limit(args.budget_tokens.as_deref(), "--budget-tokens")?,
        list: args.always_list,
        unlist: args.unlist,
    };
    if update == ContextUpdate::default() {
        return Err(CliError::Usage(
            "nothing to change: give --tool-mode, --budget-tools, --budget-tokens, --always-list or --unlist".into(),
        ));
    }
    let context = store.set_client_context(&args.name, update).await?;
    let offer = switchboard_gateway::policy::Offer::of(&args.name, &context);
    let budget = describe_budget(offer.budget.tools, offer.budget.tokens);
    eprintln!(
        "client \"{}\": tool mode {}{}, budget {budget}",
        args.name,
        offer.mode,
        if offer.mode_default {
            " (its kind's default)"
        } else {
            ""
        },
    );
    if !offer.always_listed.is_empty() {
        eprintln!("always listed: {}", offer.always_listed.join(", "));
    }
    Ok(())
}

fn describe_budget(tools: Option<u32>, tokens: Option<u32>) -> String {
    match (tools, tokens) {
        (None, None) => "none".into(),
        (Some(t), None) => format!("{t} tools"),
        (None, Some(k)) => format!("{k} tokens"),
        (Some(t), Some(k)) => format!("{t} tools, {k} tokens"),
    }
}

/// One row of `clients list`.
#[derive(Serialize)]
struct Row {
    name: String,
    profile: Option<String>,
    created_at: i64,
    last_seen_at: Option<i64>,
    tool_mode: String,
    budget_tools: Option<u32>,
    budget_tokens: Option<u32>,
    always_listed: Vec<String>,
    /// Its view and what it is listed now (None: no gateway runs to measure).
    view: Option<ViewSize>,
}

#[derive(Serialize)]
struct ViewSize {
    tools: u32,
    tokens: u32,
    listed_tools: u32,
    listed_tokens: u32,
    searching: bool,
    over_budget: bool,
    encoding: String,
}

/// `clients list`, with the size of each client's view when a gateway runs.
pub async fn list(data_dir: &Path, store: &Store, json: bool) -> Result<(), CliError> {
    let contexts: Vec<ClientContext> = match Remote::find(data_dir).await {
        Some((remote, _)) => {
            serde_json::from_value(remote.rpc("contexts_list", serde_json::Value::Null).await?)
                .map_err(|e| CliError::Remote(e.to_string()))?
        }
        None => Vec::new(),
    };
    let measured = !contexts.is_empty();
    let stored = store.client_contexts().await?;
    let mut rows = Vec::new();
    for client in store.list_clients().await? {
        let context = stored
            .iter()
            .find(|(n, _)| *n == client.name)
            .map(|(_, c)| c.clone())
            .unwrap_or_default();
        let offer = switchboard_gateway::policy::Offer::of(&client.name, &context);
        let view = contexts
            .iter()
            .find(|c| c.client == client.name)
            .map(|c| ViewSize {
                tools: c.view_tools,
                tokens: c.view_tokens,
                listed_tools: c.listed_tools,
                listed_tokens: c.listed_tokens,
                searching: c.searching,
                over_budget: c.over_tools || c.over_tokens,
                encoding: c.encoding.clone(),
            });
        rows.push(Row {
            name: client.name,
            profile: client.profile,
            created_at: client.created_at,
            last_seen_at: client.last_seen_at,
            tool_mode: offer.mode.to_string(),
            budget_tools: offer.budget.tools,
            budget_tokens: offer.budget.tokens,
            always_listed: offer.always_listed,
            view,
        });
    }
    if json {
        let text =
            serde_json::to_string_pretty(&rows).map_err(|e| CliError::Remote(e.to_string()))?;
        writeln!(std::io::stdout(), "{text}")?;
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    if rows.is_empty() {
        writeln!(
            out,
            "No clients yet. Create one with `switchboard clients add NAME`."
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<20} {:<12} {:>6} {:>8} {:>16} {:<20} LAST SEEN",
        "CLIENT", "MODE", "TOOLS", "TOKENS", "LISTED", "BUDGET"
    )?;
    for row in &rows {
        let seen = row
            .last_seen_at
            .map(|t| format!("unix ms {t}"))
            .unwrap_or_else(|| "never used".into());
        let (tools, tokens, listed) = match &row.view {
            Some(v) => (
                v.tools.to_string(),
                v.tokens.to_string(),
                format!(
                    "{} / {}{}",
                    v.listed_tools,
                    v.listed_tokens,
                    if v.searching { " search" } else { "" }
                ),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let over = row.view.as_ref().is_some_and(|v| v.over_budget);
        writeln!(
            out,
            "{:<20} {:<12} {:>6} {:>8} {:>16} {:<20} {seen}",
            row.name,
            row.tool_mode,
            tools,
            tokens,
            listed,
            format!(
                "{}{}",
                describe_budget(row.budget_tools, row.budget_tokens),
                if over { " (past)" } else { "" }
            ),
        )?;
    }
    if measured {
        writeln!(
            out,
            "Tokens: {} encoding (an estimate for other model families).",
            switchboard_context::ENCODING
        )?;
    } else {
        writeln!(
            out,
            "No gateway runs: start it (`switchboard serve` or the app) to see what each client's tools cost."
        )?;
    }
    Ok(())
}
