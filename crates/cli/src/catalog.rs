//! `switchboard catalog search | show | add`: popular servers in the MCP
//! registry's format, from the bundled snapshot or a registry the user names.

use std::{io::Write as _, path::Path};

use clap::{Args, Subcommand};
use switchboard_clients::{
    catalog::{self, Answers, Catalog, Choice, FieldKind},
    import::store_secrets_where,
};
use switchboard_store::{ServerRecord, TransportConfig};

use crate::{error::CliError, integrations::secret_store};

/// Which catalog to read.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Read this registry file or URL (a `server.json`, a list of them, or a
    /// registry answer such as https://registry.modelcontextprotocol.io/v0/servers)
    /// instead of the bundled catalog.
    #[arg(long, value_name = "FILE|URL")]
    from: Option<String>,
}

/// `switchboard catalog …`
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Find servers by words in their name, title, description or package.
    Search {
        /// Words to look for (none: list everything).
        text: Vec<String>,
        #[command(flatten)]
        source: SourceArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show what adding a server asks for.
    Show {
        /// The server (registry name, its last part, a package name or the title).
        id: String,
        #[command(flatten)]
        source: SourceArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a server from the catalog, filling in its form.
    Add(Box<AddArgs>),
}

/// `catalog add`
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The server (registry name, its last part, a package name or the title).
    id: String,
    #[command(flatten)]
    source: SourceArgs,
    /// Name of the new server (default: from the registry name).
    #[arg(long)]
    name: Option<String>,
    /// Run package N locally (see `catalog show`; default: the first usable option).
    #[arg(long, value_name = "N", conflicts_with = "remote")]
    package: Option<usize>,
    /// Use hosted remote N instead.
    #[arg(long, value_name = "N")]
    remote: Option<usize>,
    /// An environment variable K=V (repeat for more).
    #[arg(long = "env", value_name = "K=V")]
    env: Vec<String>,
    /// A header K=V (repeat for more).
    #[arg(long = "header", value_name = "K=V")]
    headers: Vec<String>,
    /// An argument or variable K=V (repeat for more).
    #[arg(long = "var", value_name = "K=V")]
    vars: Vec<String>,
    /// Approve the command now (otherwise `switchboard servers approve NAME` does).
    #[arg(long)]
    approve: bool,
}

fn pairs(
    list: &[String],
    what: &str,
) -> Result<std::collections::BTreeMap<String, String>, CliError> {
    list.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(CliError::Usage(format!(
                "{what} must look like KEY=VALUE, got {p:?}"
            ))),
        })
        .collect()
}

fn catalog_error(error: switchboard_clients::Error) -> CliError {
    match error {
        switchboard_clients::Error::Store(e) => CliError::Store(e),
        other => CliError::Usage(other.to_string()),
    }
}

async fn load(source: &SourceArgs) -> Result<Catalog, CliError> {
    match &source.from {
        Some(location) => Catalog::load(location).await.map_err(catalog_error),
        None => Catalog::bundled().map_err(catalog_error),
    }
}

fn one_line(text: &str, width: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > width {
        line.chars()
            .take(width.saturating_sub(1))
            .collect::<String>()
            + "…"
    } else {
        line.to_owned()
    }
}

/// `switchboard catalog …`
pub async fn run(data_dir: &Path, command: CatalogCommand) -> Result<(), CliError> {
    match command {
        CatalogCommand::Search { text, source, json } => {
            let catalog = load(&source).await?;
            let hits = catalog.search(&text.join(" "));
            if json {
                let servers: Vec<_> = hits.iter().map(|h| h.server).collect();
                let text = serde_json::to_string_pretty(&servers)
                    .map_err(|e| CliError::Usage(e.to_string()))?;
                writeln!(std::io::stdout(), "{text}")?;
                return Ok(());
            }
            let mut out = std::io::stdout().lock();
            if hits.is_empty() {
                writeln!(
                    out,
                    "Nothing in {} matches {:?}.",
                    catalog.source,
                    text.join(" ")
                )?;
                return Ok(());
            }
            for hit in &hits {
                let s = hit.server;
                let kinds: Vec<&str> = s
                    .packages
                    .iter()
                    .map(|p| p.registry_type.as_str())
                    .chain(s.remotes.iter().map(|_| "remote"))
                    .collect();
                writeln!(
                    out,
                    "{:<44} {:<14} {}",
                    s.name,
                    kinds.join(","),
                    one_line(&s.description, 70)
                )?;
            }
            writeln!(
                out,
                "{} found in {}. Add one with `switchboard catalog add NAME`.",
                hits.len(),
                catalog.source
            )?;
        }
        CatalogCommand::Show { id, source, json } => {
            let catalog = load(&source).await?;
            let server = catalog.find(&id).map_err(catalog_error)?;
            let form = catalog::form(server);
            if json {
                let text = serde_json::to_string_pretty(&form)
                    .map_err(|e| CliError::Usage(e.to_string()))?;
                writeln!(std::io::stdout(), "{text}")?;
                return Ok(());
            }
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}: {}", server.name, server.description)?;
            writeln!(
                out,
                "Added as \"{}\" unless you pass --name.",
                form.suggested_name
            )?;
            for option in &form.options {
                let (flag, index) = match option.choice {
                    Choice::Package(i) => ("--package", i),
                    Choice::Remote(i) => ("--remote", i),
                };
                let default = if Some(option.choice) == form.default_choice {
                    " (default)"
                } else {
                    ""
                };
                writeln!(out, "  {flag} {index}: {}{default}", option.summary)?;
                if let Some(why) = &option.unsupported {
                    writeln!(out, "      cannot be used: {why}")?;
                }
                for field in &option.fields {
                    let flag = match field.kind {
                        FieldKind::Env => "--env",
                        FieldKind::Header => "--header",
                        FieldKind::Var => "--var",
                    };
                    let mut notes = Vec::new();
                    if field.required {
                        notes.push("required".to_owned());
                    }
                    if field.secret {
                        notes.push("secret: kept in the keyring".to_owned());
                    }
                    if let Some(d) = &field.default {
                        notes.push(format!("default {d}"));
                    }
                    if !field.choices.is_empty() {
                        notes.push(format!("one of {}", field.choices.join("|")));
                    }
                    writeln!(
                        out,
                        "      {flag} {}=…  {}{}",
                        field.key,
                        field
                            .description
                            .as_deref()
                            .map(|d| one_line(d, 60))
                            .unwrap_or_default(),
                        if notes.is_empty() {
                            String::new()
                        } else {
                            format!(" [{}]", notes.join(", "))
                        }
                    )?;
                }
            }
        }
        CatalogCommand::Add(args) => add(data_dir, *args).await?,
    }
    Ok(())
}

async fn add(data_dir: &Path, args: AddArgs) -> Result<(), CliError> {
    let catalog = load(&args.source).await?;
    let server = catalog.find(&args.id).map_err(catalog_error)?;
    let form = catalog::form(server);
    let choice = match (args.package, args.remote) {
        (Some(i), _) => Choice::Package(i),
        (None, Some(i)) => Choice::Remote(i),
        (None, None) => form.default_choice.ok_or_else(|| {
            CliError::Usage(format!(
                "{} has no package or remote Switchboard can use",
                server.name
            ))
        })?,
    };
    let answers = Answers {
        env: pairs(&args.env, "--env")?,
        headers: pairs(&args.headers, "--header")?,
        vars: pairs(&args.vars, "--var")?,
    };
    let built = catalog::build(server, choice, &answers).map_err(catalog_error)?;
    let name = args.name.unwrap_or(form.suggested_name);
    switchboard_store::validate_server_name(&name)?;
    let store = crate::database::open_store(data_dir).await?;
    if store.get_server(&name).await?.is_some() {
        return Err(switchboard_store::Error::ServerExists(name).into());
    }
    let secrets = secret_store(data_dir)?;
    let has_secrets = !switchboard_clients::import::secret_values(&built.transport).is_empty()
        || !built.secret_keys.is_empty();
    if has_secrets {
        secrets
            .check()
            .map_err(|e| CliError::Usage(e.to_string()))?;
    }
    let transport = store_secrets_where(&secrets, &name, &built.transport, &built.secret_keys)
        .map_err(catalog_error)?;
    let mut record = ServerRecord {
        sandbox: built.sandbox.clone(),
        ..ServerRecord::new(&name, transport)
    };
    if args.approve {
        record = record.approve_launch();
    }
    store.add_server(&record).await?;
    let mut out = std::io::stdout().lock();
    let what = match &record.transport {
        TransportConfig::Stdio { command, args, .. } => format!(
            "runs `{}`",
            std::iter::once(command.as_str())
                .chain(args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        TransportConfig::Http { url, .. } => format!("reaches {url} (streamable HTTP)"),
        TransportConfig::Sse { url, .. } => format!("reaches {url} (SSE)"),
    };
    writeln!(out, "Added server \"{name}\" from {}: {what}.", server.name)?;
    if has_secrets {
        writeln!(
            out,
            "Its secrets are in the {}, not in the database.",
            secrets.describe()
        )?;
    }
    if !record.launch_approved() {
        writeln!(
            out,
            "It starts once you approve its command: `switchboard servers approve {name}`."
        )?;
    }
    Ok(())
}
