//! Admin commands. They edit the store directly, so they work whether or not
//! a gateway runs; a running gateway notices the change within a second.

use std::{collections::BTreeMap, io::Write as _, path::Path};

use clap::Subcommand;
use serde::Serialize;
use switchboard_gateway::{GatewayConfig, upstream::UpstreamStatus};
use switchboard_store::{ServerRecord, TransportConfig};

use crate::{error::CliError, import, remote::Remote};

/// `switchboard servers …`
#[derive(Debug, Subcommand)]
pub enum ServersCommand {
    /// Add a server: a command (stdio) or a URL (streamable HTTP, or legacy SSE with --sse).
    #[command(group(clap::ArgGroup::new("kind").required(true).args(["command", "url"])))]
    Add {
        /// Name (letters, digits, `-`, `_`; used in tool names as NAME__tool).
        name: String,
        /// Program to run (found on your login shell's PATH).
        #[arg(long)]
        command: Option<String>,
        /// Argument for the program (repeat for more).
        #[arg(
            long = "arg",
            value_name = "ARG",
            allow_hyphen_values = true,
            requires = "command"
        )]
        args: Vec<String>,
        /// Environment variable K=V for the program (repeat for more).
        #[arg(long = "env", value_name = "K=V", requires = "command")]
        env: Vec<String>,
        /// Working directory of the program.
        #[arg(long, requires = "command")]
        cwd: Option<String>,
        /// URL of a remote server.
        #[arg(long)]
        url: Option<String>,
        /// HTTP header K=V sent to the remote server (repeat for more).
        #[arg(long = "header", value_name = "K=V", requires = "url")]
        headers: Vec<String>,
        /// The URL is a legacy HTTP+SSE endpoint.
        #[arg(long, requires = "url")]
        sse: bool,
    },
    /// List servers (with live status when a gateway runs).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a server.
    Remove {
        /// Name.
        name: String,
    },
    /// Show or change a stdio server's sandbox: what it may read and write, its network.
    Sandbox(crate::sandbox::SandboxArgs),
    /// Approve the command a stdio server runs (needed after import or a change).
    Approve {
        /// Name.
        name: String,
    },
    /// Enable a server.
    Enable {
        /// Name.
        name: String,
    },
    /// Disable a server (it stops, its configuration stays).
    Disable {
        /// Name.
        name: String,
    },
    /// Import servers from a Claude-Desktop (`mcpServers`) or VS Code (`servers`) JSON file.
    Import {
        /// The file.
        file: std::path::PathBuf,
    },
}

/// `switchboard clients …`
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Create a client and print its token (shown only this once).
    Add {
        /// Name (e.g. claude-desktop, cursor).
        name: String,
    },
    /// List clients.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set how /mcp lists a client its tools: tool mode, budget, always-listed tools.
    Set(crate::context::SetArgs),
    /// Show which clients can read private data, receive untrusted content
    /// and send data out (a toxic flow), naming the tools.
    Flows {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a client; its token stops working at once.
    Remove {
        /// Name.
        name: String,
    },
    /// Find the MCP clients on this machine and their config files.
    Detect(crate::integrations::DetectArgs),
    /// Import the servers a client already has (KIND, or `all`).
    Import(crate::integrations::ImportArgs),
    /// Point a client at Switchboard (keeps a backup of its config).
    Install(crate::integrations::InstallArgs),
    /// Undo `install`: put the client's config back.
    Uninstall(crate::integrations::UninstallArgs),
}

/// `switchboard tools …`
#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// List the tools of the configured servers.
    List {
        /// Only this server.
        #[arg(long)]
        server: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also show what each definition costs in tokens, as /mcp lists it
        /// (o200k_base encoding; an estimate for other model families).
        #[arg(long)]
        tokens: bool,
    },
    /// Set what a client may do with a tool: allow, ask or deny.
    Set {
        /// Server ("*": every server).
        server: String,
        /// Tool as the server names it ("*": every tool of the server).
        tool: String,
        /// allow, ask or deny.
        permission: String,
        /// Only for this client.
        #[arg(long, conflicts_with = "profile")]
        client: Option<String>,
        /// Only for clients using this profile.
        #[arg(long)]
        profile: Option<String>,
    },
    /// Remove a permission set with `tools set` (the defaults apply again).
    Clear {
        /// Server ("*": every server).
        server: String,
        /// Tool ("*": every tool of the server).
        tool: String,
        /// The client it was set for.
        #[arg(long, conflicts_with = "profile")]
        client: Option<String>,
        /// The profile it was set for.
        #[arg(long)]
        profile: Option<String>,
    },
    /// Show how a tool's definition changed since it was approved.
    Diff {
        /// Server.
        server: String,
        /// Tool.
        tool: String,
    },
    /// Approve a tool's changed definition (it is blocked until then).
    Approve {
        /// Server.
        server: String,
        /// Tool.
        tool: String,
    },
    /// Say what a tool does in a flow (private data, untrusted content,
    /// outbound), whatever is inferred; with no flags, show it.
    Flow(crate::flows::FlowArgs),
}

fn key_value(pair: &str, what: &str) -> Result<(String, String), CliError> {
    match pair.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(CliError::Usage(format!(
            "{what} must look like KEY=VALUE, got {pair:?}"
        ))),
    }
}

fn pairs(list: &[String], what: &str) -> Result<BTreeMap<String, String>, CliError> {
    list.iter().map(|p| key_value(p, what)).collect()
}

pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Remote(e.to_string()))?;
    writeln!(std::io::stdout(), "{text}")?;
    Ok(())
}

#[derive(Serialize)]
struct ServerRow {
    name: String,
    enabled: bool,
    transport: TransportConfig,
    /// For a stdio server: its sandbox settings and what it gets.
    #[serde(skip_serializing_if = "Option::is_none")]
    sandbox: Option<crate::sandbox::SandboxView>,
    status: Option<UpstreamStatus>,
}

pub async fn servers(data_dir: &Path, command: ServersCommand) -> Result<(), CliError> {
    let store = crate::database::open_store(data_dir).await?;
    match command {
        ServersCommand::Add {
            name,
            command,
            args,
            env,
            cwd,
            url,
            headers,
            sse,
        } => {
            let transport = match (command, url) {
                (Some(command), None) => TransportConfig::Stdio {
                    command,
                    args,
                    env: pairs(&env, "--env")?,
                    cwd,
                },
                (None, Some(url)) => {
                    url::Url::parse(&url)
                        .map_err(|e| CliError::Usage(format!("invalid --url {url}: {e}")))?;
                    let headers = pairs(&headers, "--header")?;
                    if sse {
                        TransportConfig::Sse { url, headers }
                    } else {
                        TransportConfig::Http { url, headers }
                    }
                }
                _ => return Err(CliError::Usage("give either --command or --url".into())),
            };
            // Secret-looking env values and headers go to the keyring; the
            // database keeps placeholders.
            let secrets = crate::integrations::secret_store(data_dir)?;
            let transport = switchboard_clients::import::store_secrets(&secrets, &name, &transport)
                .map_err(crate::integrations::clients_error)?;
            store
                // The user typed this command: that is the approval of its launch.
                .add_server(&ServerRecord::new(&name, transport).approve_launch())
                .await?;
            eprintln!("added server \"{name}\"");
        }
        ServersCommand::List { json } => {
            let statuses = match Remote::find(data_dir).await {
                Some((_, report)) => Some(report.servers),
                None => None,
            };
            let rows: Vec<ServerRow> = store
                .list_servers()
                .await?
                .into_iter()
                .map(|s| ServerRow {
                    status: statuses.as_ref().and_then(|m| m.get(&s.name).cloned()),
                    sandbox: crate::sandbox::SandboxView::of(&s, data_dir),
                    name: s.name,
                    enabled: s.enabled,
                    transport: s.transport,
                })
                .collect();
            if json {
                print_json(&rows)?;
            } else {
                print_servers(&rows, statuses.is_some())?;
            }
        }
        ServersCommand::Remove { name } => {
            let record = store.get_server(&name).await?;
            store.remove_server(&name).await?;
            if let Some(record) = record {
                crate::integrations::forget_secrets(data_dir, &record.transport);
            }
            eprintln!("removed server \"{name}\"");
        }
        ServersCommand::Enable { name } => {
            store.set_server_enabled(&name, true).await?;
            eprintln!("enabled server \"{name}\"");
        }
        ServersCommand::Disable { name } => {
            store.set_server_enabled(&name, false).await?;
            eprintln!("disabled server \"{name}\"");
        }
        ServersCommand::Sandbox(args) => crate::sandbox::run(data_dir, &store, args).await?,
        ServersCommand::Approve { name } => {
            store.approve_server_launch(&name).await?;
            eprintln!("approved the command of \"{name}\"");
        }
        ServersCommand::Import { file } => {
            let found = import::read_config(&file)?;
            let (mut added, mut skipped) = (0, 0);
            for record in found {
                match store.add_server(&record).await {
                    Ok(()) => {
                        eprintln!("imported \"{}\" ({})", record.name, record.transport.kind());
                        added += 1;
                    }
                    Err(switchboard_store::Error::ServerExists(name)) => {
                        eprintln!("skipped \"{name}\": a server with that name exists");
                        skipped += 1;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            eprintln!("{added} imported, {skipped} skipped");
            if added > 0 {
                eprintln!(
                    "Imported stdio servers start once you have reviewed and approved their commands: \
                     `switchboard servers list`, then `switchboard servers approve NAME`."
                );
            }
        }
    }
    Ok(())
}

fn print_servers(rows: &[ServerRow], running: bool) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if rows.is_empty() {
        writeln!(
            out,
            "No servers yet. Add one with `switchboard servers add NAME --command CMD` or `--url URL`."
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<20} {:<6} {:<9} {:<13} {:>5}  {:<10}  DETAIL",
        "NAME", "TYPE", "ENABLED", "STATUS", "TOOLS", "PROTOCOL"
    )?;
    for row in rows {
        let (state, tools, detail) = match &row.status {
            Some(s) => (
                serde_json::to_value(s.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                s.tools.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
                s.error.clone().unwrap_or_default(),
            ),
            None if !row.enabled => ("disabled".into(), "-".into(), String::new()),
            None if running => ("-".into(), "-".into(), String::new()),
            None => ("-".into(), "-".into(), "no gateway running".into()),
        };
        let protocol = row
            .status
            .as_ref()
            .and_then(|s| s.protocol_version.clone())
            .unwrap_or_else(|| "-".into());
        let mut detail = if detail.is_empty() {
            row.transport.target()
        } else {
            detail
        };
        if row.sandbox.as_ref().is_some_and(|s| !s.settings.enabled) {
            detail.push_str("  [unsandboxed]");
        }
        writeln!(
            out,
            "{:<20} {:<6} {:<9} {:<13} {:>5}  {:<10}  {}",
            row.name,
            row.transport.kind(),
            if row.enabled { "yes" } else { "no" },
            state,
            tools,
            protocol,
            detail
        )?;
    }
    Ok(())
}

pub async fn clients(data_dir: &Path, command: ClientsCommand) -> Result<(), CliError> {
    let store = crate::database::open_store(data_dir).await?;
    match command {
        ClientsCommand::Add { name } => {
            switchboard_store::validate_client_name(&name)?;
            let token = switchboard_auth::new_client_token();
            store
                .add_client(&name, &switchboard_auth::hash_token(token.expose()))
                .await?;
            eprintln!("Client \"{name}\" created. Its token (shown only now):");
            writeln!(std::io::stdout(), "{}", token.expose())?;
            let url = match Remote::find(data_dir).await {
                Some((remote, _)) => remote.mcp_url().to_owned(),
                None => "http://127.0.0.1:7331/mcp".into(),
            };
            eprintln!("Point the client at {url} with the header `Authorization: Bearer <token>`.");
        }
        ClientsCommand::List { json } => crate::context::list(data_dir, &store, json).await?,
        ClientsCommand::Set(args) => crate::context::set(&store, args).await?,
        ClientsCommand::Flows { json } => crate::flows::list(data_dir, json).await?,
        ClientsCommand::Remove { name } => {
            store.remove_client(&name).await?;
            eprintln!("removed client \"{name}\"; its token no longer works");
        }
        ClientsCommand::Detect(args) => crate::integrations::detect(data_dir, args).await?,
        ClientsCommand::Import(args) => crate::integrations::import(data_dir, args).await?,
        ClientsCommand::Install(args) => crate::integrations::install(data_dir, args).await?,
        ClientsCommand::Uninstall(args) => crate::integrations::uninstall(data_dir, args).await?,
    }
    Ok(())
}

pub async fn tools(data_dir: &Path, command: ToolsCommand) -> Result<(), CliError> {
    let (server, json, with_tokens) = match command {
        ToolsCommand::List {
            server,
            json,
            tokens,
        } => (server, json, tokens),
        other => return crate::policy::tools(data_dir, other).await,
    };
    let store = crate::database::open_store(data_dir).await?;
    if let Some(name) = &server
        && store.get_server(name).await?.is_none()
    {
        return Err(switchboard_store::Error::NoSuchServer(name.clone()).into());
    }
    let per_server: BTreeMap<String, Result<Vec<rmcp::model::Tool>, String>> =
        match Remote::find(data_dir).await {
            Some((remote, report)) => {
                let tools = remote.tools(server.as_deref()).await?;
                tools
                    .into_iter()
                    .map(|(name, list)| {
                        let failed = report
                            .servers
                            .get(&name)
                            .and_then(|s| s.error.clone())
                            .filter(|_| list.is_empty());
                        (name, failed.map_or(Ok(list), Err))
                    })
                    .collect()
            }
            // No gateway: connect to the servers just for this listing.
            None => {
                let config = GatewayConfig {
                    sandbox_launcher: std::env::current_exe().ok(),
                    ..GatewayConfig::default()
                };
                switchboard_gateway::collect_tools(&store, server.as_deref(), &config).await?
            }
        };
    let catalog: BTreeMap<String, Vec<rmcp::model::Tool>> = per_server
        .iter()
        .filter_map(|(name, r)| r.as_ref().ok().map(|t| (name.clone(), t.clone())))
        .collect();
    let flags = switchboard_gateway::policy::flag_tools(&catalog);
    let flags_of = |server: &str, tool: &str| {
        flags
            .get(server)
            .and_then(|m| m.get(tool))
            .cloned()
            .unwrap_or_default()
    };
    let tokens_of = switchboard_gateway::listed_tokens;
    if json {
        let value: BTreeMap<_, _> = per_server
            .into_iter()
            .map(|(name, r)| match r {
                Ok(tools) => {
                    let mut total = 0;
                    let tools: Vec<_> = tools
                        .iter()
                        .map(|t| {
                            let mut v = serde_json::to_value(t).unwrap_or_default();
                            v["flags"] =
                                serde_json::to_value(flags_of(&name, &t.name)).unwrap_or_default();
                            if with_tokens {
                                let n = tokens_of(&name, t);
                                total += n;
                                v["tokens"] = n.into();
                            }
                            v
                        })
                        .collect();
                    let mut entry = serde_json::json!({ "tools": tools });
                    if with_tokens {
                        entry["tokens"] = total.into();
                        entry["encoding"] = switchboard_context::ENCODING.into();
                    }
                    (name, entry)
                }
                Err(e) => (name, serde_json::json!({ "error": e })),
            })
            .collect();
        return print_json(&value);
    }
    let mut out = std::io::stdout().lock();
    for (name, result) in per_server {
        match result {
            Ok(tools) => {
                let counts: Vec<usize> = if with_tokens {
                    tools.iter().map(|t| tokens_of(&name, t)).collect()
                } else {
                    Vec::new()
                };
                match with_tokens {
                    true => writeln!(
                        out,
                        "{name} ({} tools, {} tokens)",
                        tools.len(),
                        counts.iter().sum::<usize>()
                    )?,
                    false => writeln!(out, "{name} ({} tools)", tools.len())?,
                }
                for (i, tool) in tools.iter().enumerate() {
                    let description = tool
                        .description
                        .as_deref()
                        .unwrap_or("")
                        .lines()
                        .next()
                        .unwrap_or("");
                    match counts.get(i) {
                        Some(n) => {
                            writeln!(out, "  {name}__{:<32} {n:>6}  {description}", tool.name)?
                        }
                        None => writeln!(out, "  {name}__{:<32} {description}", tool.name)?,
                    }
                    for flag in flags_of(&name, &tool.name) {
                        let level = serde_json::to_value(flag.severity)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default();
                        writeln!(out, "      ! {level}: {} ({})", flag.rule, flag.detail)?;
                    }
                }
            }
            Err(e) => writeln!(out, "{name}: unavailable: {e}")?,
        }
    }
    if with_tokens {
        writeln!(
            out,
            "Tokens: {} encoding, each definition as /mcp lists it (an estimate for other model families).",
            switchboard_context::ENCODING
        )?;
    }
    Ok(())
}
