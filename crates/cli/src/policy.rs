//! Policy commands: tool permissions, pinned definitions, profiles, approvals.

use std::{io::Write as _, path::Path};

use clap::Subcommand;
use switchboard_store::{Permission, PermissionEntry, Scope, Store};

use crate::{admin::ToolsCommand, error::CliError};

fn scope(client: Option<String>, profile: Option<String>) -> Scope {
    match (client, profile) {
        (Some(c), _) => Scope::Client(c),
        (None, Some(p)) => Scope::Profile(p),
        (None, None) => Scope::Everyone,
    }
}

fn describe(scope: &Scope) -> String {
    match scope {
        Scope::Everyone => "everyone".into(),
        Scope::Profile(p) => format!("profile \"{p}\""),
        Scope::Client(c) => format!("client \"{c}\""),
    }
}

pub async fn tools(data_dir: &Path, command: ToolsCommand) -> Result<(), CliError> {
    let store = crate::database::open_store(data_dir).await?;
    match command {
        ToolsCommand::List { .. } => Ok(()),
        ToolsCommand::Flow(args) => crate::flows::set(data_dir, args).await,
        ToolsCommand::Set {
            server,
            tool,
            permission,
            client,
            profile,
        } => {
            let permission = Permission::parse(&permission)?;
            if server != "*" && store.get_server(&server).await?.is_none() {
                return Err(switchboard_store::Error::NoSuchServer(server).into());
            }
            let scope = scope(client, profile);
            if let Scope::Client(c) = &scope
                && !store.list_clients().await?.iter().any(|x| &x.name == c)
            {
                return Err(switchboard_store::Error::NoSuchClient(c.clone()).into());
            }
            if let Scope::Profile(p) = &scope
                && !store.list_profiles().await?.iter().any(|x| &x.name == p)
            {
                return Err(CliError::Usage(format!("no profile named \"{p}\"")));
            }
            let who = describe(&scope);
            store
                .set_permission(&PermissionEntry {
                    scope,
                    server: server.clone(),
                    tool: tool.clone(),
                    permission,
                })
                .await?;
            eprintln!("{server} {tool}: {} for {who}", permission.as_str());
            Ok(())
        }
        ToolsCommand::Clear {
            server,
            tool,
            client,
            profile,
        } => {
            let scope = scope(client, profile);
            if !store.clear_permission(&scope, &server, &tool).await? {
                return Err(CliError::Usage(format!(
                    "no permission set for {server} {tool} ({})",
                    describe(&scope)
                )));
            }
            eprintln!("cleared {server} {tool} for {}", describe(&scope));
            Ok(())
        }
        ToolsCommand::Diff { server, tool } => {
            let pin = store
                .list_pins()
                .await?
                .into_iter()
                .find(|p| p.server == server && p.tool == tool)
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "no definition of {server} {tool} has been seen yet"
                    ))
                })?;
            let mut out = std::io::stdout().lock();
            let Some(pending) = &pin.pending_definition else {
                writeln!(out, "{server} {tool}: unchanged since it was approved")?;
                return Ok(());
            };
            writeln!(out, "--- {server} {tool} (approved)")?;
            writeln!(
                out,
                "+++ {server} {tool} (served now, blocked until approved)"
            )?;
            for line in switchboard_policy::diff::definition_diff(&pin.definition, pending) {
                writeln!(out, "{line}")?;
            }
            Ok(())
        }
        ToolsCommand::Approve { server, tool } => {
            if !store.approve_pending_tool(&server, &tool).await? {
                return Err(CliError::Usage(format!(
                    "{server} {tool} has no changed definition to approve"
                )));
            }
            eprintln!("approved the new definition of {server} {tool}");
            Ok(())
        }
    }
}

/// `switchboard profiles …`
#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// Create a profile: a set of servers (all when none is given).
    Add {
        /// Name.
        name: String,
        /// A server the profile includes (repeat for more).
        #[arg(long = "server")]
        servers: Vec<String>,
    },
    /// List profiles and their clients.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bind a client to a profile.
    Assign {
        /// Client.
        client: String,
        /// Profile ("none" to unbind).
        profile: String,
    },
    /// Remove a profile (its clients are unbound).
    Remove {
        /// Name.
        name: String,
    },
}

pub async fn profiles(data_dir: &Path, command: ProfilesCommand) -> Result<(), CliError> {
    let store = crate::database::open_store(data_dir).await?;
    match command {
        ProfilesCommand::Add { name, servers } => {
            for s in &servers {
                if store.get_server(s).await?.is_none() {
                    return Err(switchboard_store::Error::NoSuchServer(s.clone()).into());
                }
            }
            let servers = (!servers.is_empty()).then_some(servers);
            store.add_profile(&name, servers.as_deref()).await?;
            eprintln!("added profile \"{name}\"");
        }
        ProfilesCommand::List { json } => {
            let profiles = store.list_profiles().await?;
            let clients = store.list_clients().await?;
            let mut out = std::io::stdout().lock();
            if json {
                let value: Vec<_> = profiles
                    .iter()
                    .map(|p| {
                        let members: Vec<_> = clients
                            .iter()
                            .filter(|c| c.profile.as_deref() == Some(&p.name))
                            .map(|c| c.name.clone())
                            .collect();
                        serde_json::json!({ "name": p.name, "servers": p.servers, "clients": members })
                    })
                    .collect();
                let text = serde_json::to_string_pretty(&value)
                    .map_err(|e| CliError::Remote(e.to_string()))?;
                writeln!(out, "{text}")?;
                return Ok(());
            }
            if profiles.is_empty() {
                writeln!(
                    out,
                    "No profiles. Create one with `switchboard profiles add NAME --server S`."
                )?;
            }
            for p in profiles {
                let servers = p
                    .servers
                    .map(|s| s.join(", "))
                    .unwrap_or_else(|| "every server".into());
                let members: Vec<_> = clients
                    .iter()
                    .filter(|c| c.profile.as_deref() == Some(&p.name))
                    .map(|c| c.name.as_str())
                    .collect();
                writeln!(
                    out,
                    "{:<20} servers: {servers}; clients: {}",
                    p.name,
                    members.join(", ")
                )?;
            }
        }
        ProfilesCommand::Assign { client, profile } => {
            let target = (profile != "none").then_some(profile.as_str());
            store.assign_profile(&client, target).await?;
            eprintln!(
                "client \"{client}\" now uses {}",
                target
                    .map(|p| format!("profile \"{p}\""))
                    .unwrap_or_else(|| "no profile".into())
            );
        }
        ProfilesCommand::Remove { name } => {
            store.remove_profile(&name).await?;
            eprintln!("removed profile \"{name}\"");
        }
    }
    Ok(())
}

/// `switchboard approvals …`
#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// Calls waiting for an answer (with --all: recent answers too).
    List {
        /// Include answered and expired ones.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Let a waiting call run.
    Approve {
        /// Approval id.
        id: i64,
        /// once (this call), session (this client session), always (this tool, this client).
        #[arg(long, default_value = "once", value_parser = ["once", "session", "always"])]
        scope: String,
    },
    /// Refuse a waiting call.
    Deny {
        /// Approval id.
        id: i64,
    },
}

pub async fn approvals(data_dir: &Path, command: ApprovalsCommand) -> Result<(), CliError> {
    let store = crate::database::open_store(data_dir).await?;
    match command {
        ApprovalsCommand::List { all, json } => {
            let list = store.list_approvals(!all, 200).await?;
            let mut out = std::io::stdout().lock();
            if json {
                let text = serde_json::to_string_pretty(&list)
                    .map_err(|e| CliError::Remote(e.to_string()))?;
                writeln!(out, "{text}")?;
                return Ok(());
            }
            if list.is_empty() {
                writeln!(out, "No calls are waiting for approval.")?;
            }
            for a in list {
                let args = a.arguments.unwrap_or_default();
                writeln!(
                    out,
                    "#{:<5} {:<9} {:<16} {}__{}  {}",
                    a.id,
                    a.status,
                    a.client,
                    a.server,
                    a.tool,
                    args.chars().take(120).collect::<String>()
                )?;
                if let Some(reason) = a.reason.as_deref().filter(|r| !r.is_empty()) {
                    writeln!(out, "       asks because: {reason}")?;
                }
            }
        }
        ApprovalsCommand::Approve { id, scope } => {
            answer(&store, id, "allowed", Some(&scope)).await?
        }
        ApprovalsCommand::Deny { id } => answer(&store, id, "denied", None).await?,
    }
    Ok(())
}

async fn answer(store: &Store, id: i64, status: &str, scope: Option<&str>) -> Result<(), CliError> {
    let record = store
        .get_approval(id)
        .await?
        .ok_or_else(|| CliError::Usage(format!("no approval #{id}")))?;
    if !store.answer_approval(id, status, scope).await? {
        return Err(CliError::Usage(format!(
            "approval #{id} is no longer waiting (it is {})",
            record.status
        )));
    }
    eprintln!(
        "#{id} {}__{} for \"{}\": {status}{}",
        record.server,
        record.tool,
        record.client,
        scope.map(|s| format!(" ({s})")).unwrap_or_default()
    );
    Ok(())
}
