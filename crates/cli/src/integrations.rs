//! `switchboard clients detect | import | install | uninstall`: the MCP
//! clients on this machine, their servers, and pointing them at Switchboard.

use std::{io::Write as _, path::Path, path::PathBuf};

use clap::Args;
use switchboard_auth::SecretStore;
use switchboard_clients::{
    ClientKind, Detected, FileState, Platform, Scope,
    import::{self, Action, Applied, ImportPlan, Resolver},
    install::{self, InstallRequest, InstallStatus, Mode, Restored},
};
use switchboard_store::TransportConfig;

use crate::{error::CliError, remote::Remote};

/// Where client configs are looked for.
#[derive(Debug, Args)]
pub struct HomeArgs {
    /// Look for client configs under DIR instead of your home directory.
    #[arg(long, value_name = "DIR", env = switchboard_clients::HOME_OVERRIDE_ENV)]
    pub home: Option<PathBuf>,
}

/// `clients detect`
#[derive(Debug, Args)]
pub struct DetectArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Also read the project configs of this folder (.mcp.json, .vscode/mcp.json, ...).
    #[arg(long, value_name = "DIR")]
    project: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `clients import`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The client (claude-desktop, claude-code, cursor, vscode, windsurf, codex, gemini, zed) or `all`.
    kind: String,
    #[command(flatten)]
    home: HomeArgs,
    /// Also read the project configs of this folder.
    #[arg(long, value_name = "DIR")]
    project: Option<PathBuf>,
    /// Show what would be imported; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Import remote servers whose URL or headers take values from this
    /// shell's environment (the dry run names each variable).
    #[arg(long)]
    allow_env: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `clients install`
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The client (claude-desktop, claude-code, cursor, vscode, windsurf, codex, gemini, zed).
    kind: String,
    #[command(flatten)]
    home: HomeArgs,
    /// Show the change to the config; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Use the `switchboard connect` stdio bridge even if the client speaks HTTP.
    #[arg(long)]
    stdio: bool,
    /// Leave the client's own servers in its config (they are still imported).
    #[arg(long)]
    keep_servers: bool,
    /// Name of the Switchboard client whose token the config gets (default: the kind).
    #[arg(long, value_name = "NAME")]
    client: Option<String>,
    /// The gateway URL to write (default: the running gateway's, else http://127.0.0.1:7331/mcp).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Write the config even if the client does not seem to be installed.
    #[arg(long)]
    force: bool,
    /// Import remote servers whose URL or headers take values from this
    /// shell's environment (the dry run names each variable).
    #[arg(long)]
    allow_env: bool,
}

/// `clients uninstall`
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// The client.
    kind: String,
    #[command(flatten)]
    home: HomeArgs,
}

/// Deletes the keyring entries a removed server's placeholders point to.
/// Failures are reported, not fatal: the server is already gone.
pub fn forget_secrets(data_dir: &Path, transport: &switchboard_store::TransportConfig) {
    let values: Vec<&String> = transport.pairs().values().collect();
    let refs: Vec<_> = values
        .into_iter()
        .filter_map(|v| switchboard_auth::SecretRef::parse(v))
        .collect();
    if refs.is_empty() {
        return;
    }
    let store = match secret_store(data_dir) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("warning: could not remove the server's secrets: {e}");
            return;
        }
    };
    for secret in refs {
        if let Err(e) = store.delete(&secret) {
            eprintln!("warning: could not remove a secret of the server: {e}");
        }
    }
}

/// A clients-crate error as the CLI reports it.
pub fn clients_error(error: switchboard_clients::Error) -> CliError {
    match error {
        switchboard_clients::Error::Store(e) => CliError::Store(e),
        other => CliError::Usage(other.to_string()),
    }
}

/// The platform, with `--home` (or `SWITCHBOARD_HOME_OVERRIDE`) applied.
pub fn platform(home: Option<&Path>) -> Result<Platform, CliError> {
    match home {
        Some(dir) => Ok(Platform::with_home(
            switchboard_clients::Os::current(),
            dir.to_owned(),
        )),
        None => Platform::current().map_err(clients_error),
    }
}

fn kind(text: &str) -> Result<ClientKind, CliError> {
    text.parse::<ClientKind>().map_err(clients_error)
}

/// The secret store the user chose; None when it cannot be set up at all.
pub fn secret_store(data_dir: &Path) -> Result<SecretStore, CliError> {
    SecretStore::from_env(data_dir).map_err(|e| CliError::Usage(e.to_string()))
}

fn tilde(path: &Path, platform: &Platform) -> String {
    match path.strip_prefix(&platform.home) {
        Ok(rest) => format!("~/{}", rest.display()),
        Err(_) => path.display().to_string(),
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Usage(e.to_string()))?;
    writeln!(std::io::stdout(), "{text}")?;
    Ok(())
}

/// `clients detect`: every known client, its config files and install state.
pub async fn detect(data_dir: &Path, args: DetectArgs) -> Result<(), CliError> {
    let platform = platform(args.home.home.as_deref())?;
    let found = switchboard_clients::detect(&platform, data_dir, args.project.as_deref());
    if args.json {
        return print_json(&found);
    }
    let mut out = std::io::stdout().lock();
    for client in &found {
        print_detected(&mut out, client, &platform)?;
    }
    let installed = found.iter().filter(|c| c.installed).count();
    writeln!(
        out,
        "{installed} of {} known clients found. Import their servers with `switchboard clients import KIND --dry-run`.",
        found.len()
    )?;
    Ok(())
}

fn print_detected(
    out: &mut impl std::io::Write,
    client: &Detected,
    platform: &Platform,
) -> Result<(), CliError> {
    let state = match &client.switchboard {
        InstallStatus::NotInstalled => "Switchboard not installed".to_owned(),
        InstallStatus::Installed { mode, .. } => format!(
            "Switchboard installed{}",
            match mode {
                Some(Mode::Http) => " (HTTP)",
                Some(Mode::Stdio) => " (stdio bridge)",
                None => "",
            }
        ),
        InstallStatus::EntryMissing => "Switchboard entry missing (run install again)".into(),
    };
    writeln!(
        out,
        "{} ({}): {}{}",
        client.name,
        client.kind,
        if client.installed {
            "found"
        } else {
            "not found"
        },
        if client.installed {
            format!("; {state}")
        } else {
            String::new()
        }
    )?;
    for file in &client.files {
        let scope = match &file.scope {
            Scope::User => "user",
            Scope::Project { .. } => "project",
        };
        let what = match &file.state {
            FileState::Missing => "no file".to_owned(),
            FileState::Ok {
                servers,
                unsupported,
            } => {
                let mut text = format!(
                    "{} server{}",
                    servers.len(),
                    if servers.len() == 1 { "" } else { "s" }
                );
                if !servers.is_empty() {
                    text.push_str(&format!(" ({})", servers.join(", ")));
                }
                if !unsupported.is_empty() {
                    text.push_str(&format!("; cannot import: {}", unsupported.join(", ")));
                }
                text
            }
            FileState::Malformed { error } => format!("MALFORMED: {error}"),
        };
        writeln!(out, "  {scope:<8} {}: {what}", tilde(&file.path, platform))?;
    }
    Ok(())
}

fn describe(transport: &TransportConfig) -> String {
    let text = transport.target();
    if text.chars().count() > 60 {
        return text.chars().take(59).collect::<String>() + "…";
    }
    text
}

fn print_plan(out: &mut impl std::io::Write, plan: &ImportPlan) -> Result<(), CliError> {
    for problem in &plan.problems {
        writeln!(
            out,
            "  ! {}: {} (not read, left untouched)",
            problem.client, problem.error
        )?;
    }
    for planned in &plan.servers {
        let c = &planned.candidate;
        match &planned.action {
            Action::Add { name, renamed } => {
                let note = if *renamed {
                    format!(" (named \"{name}\": \"{}\" was taken)", c.origin.entry)
                } else {
                    String::new()
                };
                let off = if c.enabled { "" } else { " [disabled]" };
                writeln!(
                    out,
                    "  + {name:<20} {:<5} {}  from {}{note}{off}",
                    c.transport.kind(),
                    describe(&c.transport),
                    c.origin
                )?;
            }
            Action::Merge { into } => writeln!(
                out,
                "  = {:<20} same as the server \"{into}\": merged  from {}",
                c.origin.entry, c.origin
            )?,
        }
        for warning in &c.warnings {
            writeln!(out, "      note: {warning}")?;
        }
        for used in &c.from_env {
            writeln!(
                out,
                "      from your environment: ${{{}}} into the {} (sent to the server)",
                used.variable, used.into
            )?;
        }
    }
    for skipped in &plan.skipped {
        writeln!(
            out,
            "  - {:<20} skipped: {}  ({})",
            skipped.origin.entry, skipped.reason, skipped.origin
        )?;
    }
    Ok(())
}

/// Values of this shell's environment go into a remote server's requests only
/// when the user said so: refused with each variable named otherwise.
fn check_env(plan: &ImportPlan, allowed: bool, again: &str) -> Result<(), CliError> {
    if allowed {
        return Ok(());
    }
    let uses = plan.env_uses();
    if uses.is_empty() {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "nothing imported: remote servers would send values of this shell's environment: {}. \
         Check them (--dry-run), then repeat with --allow-env: {again} --allow-env",
        uses.join(", ")
    )))
}

fn print_applied(
    out: &mut impl std::io::Write,
    applied: &Applied,
    secrets: &SecretStore,
) -> Result<(), CliError> {
    if !applied.secrets.is_empty() {
        writeln!(
            out,
            "Secrets stored in the {}, not in the database: {}",
            secrets.describe(),
            applied.secrets.join(", ")
        )?;
    }
    if !applied.need_approval.is_empty() {
        writeln!(
            out,
            "Imported stdio servers start once you have reviewed and approved their commands \
             (`switchboard servers list`): {}",
            applied
                .need_approval
                .iter()
                .map(|n| format!("`switchboard servers approve {n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    Ok(())
}

/// `clients import KIND|all`: the clients' servers become Switchboard servers.
pub async fn import(data_dir: &Path, args: ImportArgs) -> Result<(), CliError> {
    let platform = platform(args.home.home.as_deref())?;
    let kinds: Vec<ClientKind> = if args.kind == "all" {
        ClientKind::ALL.to_vec()
    } else {
        vec![kind(&args.kind)?]
    };
    let store = crate::database::open_store(data_dir).await?;
    let secrets = secret_store(data_dir)?;
    let scan = import::scan(&platform, &kinds, args.project.as_deref());
    if scan.files.is_empty() && scan.problems.is_empty() {
        let wanted = kinds
            .iter()
            .map(|k| k.display_name())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(CliError::Usage(format!(
            "no config file of {wanted} found (see `switchboard clients detect`)"
        )));
    }
    // A single client whose only config cannot be parsed is an error, not an empty import.
    if kinds.len() == 1
        && scan.files.is_empty()
        && let Some(problem) = scan.problems.first()
    {
        return Err(CliError::Usage(problem.error.clone()));
    }
    let resolver = Resolver::from_env(&platform.home);
    let plan = import::plan(&store, Some(&secrets), scan, &resolver)
        .await
        .map_err(clients_error)?;
    if args.dry_run {
        if args.json {
            return print_json(&plan);
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "Dry run: nothing is changed.")?;
        print_plan(&mut out, &plan)?;
        writeln!(
            out,
            "{} to add, {} merged, {} skipped.",
            plan.added(),
            plan.servers.len() - plan.added(),
            plan.skipped.len()
        )?;
        return Ok(());
    }
    check_env(
        &plan,
        args.allow_env,
        &format!("switchboard clients import {}", args.kind),
    )?;
    let applied = import::apply(&store, Some(&secrets), &plan)
        .await
        .map_err(clients_error)?;
    if args.json {
        return print_json(&serde_json::json!({ "plan": plan, "applied": applied }));
    }
    let mut out = std::io::stdout().lock();
    print_plan(&mut out, &plan)?;
    writeln!(
        out,
        "{} added, {} merged, {} skipped.",
        applied.added.len(),
        plan.servers.len() - plan.added(),
        plan.skipped.len()
    )?;
    print_applied(&mut out, &applied, &secrets)?;
    Ok(())
}

/// The gateway's MCP URL: the running gateway's, else the default listen address.
pub async fn gateway_url(data_dir: &Path) -> String {
    if let Some((remote, _)) = Remote::find(data_dir).await {
        return remote.mcp_url().to_owned();
    }
    let listen = std::env::var("SWITCHBOARD_LISTEN").unwrap_or_else(|_| "127.0.0.1:7331".into());
    format!("http://{listen}/mcp")
}

/// `clients install KIND`: point the client at Switchboard, keeping a backup.
pub async fn install(data_dir: &Path, args: InstallArgs) -> Result<(), CliError> {
    let platform = platform(args.home.home.as_deref())?;
    let kind = kind(&args.kind)?;
    let client_name = args.client.clone().unwrap_or_else(|| kind.id().to_owned());
    switchboard_store::validate_client_name(&client_name)?;
    let store = crate::database::open_store(data_dir).await?;
    let secrets = secret_store(data_dir)?;
    let (connect_program, connect_args) =
        install::connect_command(&install::cli_program(), data_dir);
    let request = InstallRequest {
        kind,
        gateway_url: match args.url {
            Some(url) => url,
            None => gateway_url(data_dir).await,
        },
        connect_program,
        connect_args,
        stdio: args.stdio,
        keep_servers: args.keep_servers,
        client_name,
        force: args.force,
    };
    let resolver = Resolver::from_env(&platform.home);
    let plan = install::plan_install(
        &store,
        Some(&secrets),
        &platform,
        data_dir,
        &request,
        &resolver,
    )
    .await
    .map_err(clients_error)?;
    let mut out = std::io::stdout().lock();
    let path = tilde(&plan.path, &platform);
    if plan.already_installed {
        writeln!(
            out,
            "{} already uses Switchboard ({path}); nothing to do.",
            kind.display_name()
        )?;
        return Ok(());
    }
    let how = match plan.mode {
        Mode::Http => format!("over HTTP at {}", request.gateway_url),
        Mode::Stdio => "through the `switchboard connect` stdio bridge".to_owned(),
    };
    if args.dry_run {
        writeln!(
            out,
            "Dry run: nothing is changed. {} would reach Switchboard {how}.",
            kind.display_name()
        )?;
        print_plan(&mut out, &plan.import)?;
        writeln!(out, "{}", plan.token.note(&request.client_name, false))?;
        write!(out, "{}", plan.diff)?;
        return Ok(());
    }
    check_env(
        &plan.import,
        args.allow_env,
        &format!("switchboard clients install {}", args.kind),
    )?;
    let removed = plan.removed.clone();
    let kept = plan.kept.clone();
    print_plan(&mut out, &plan.import)?;
    let token = plan.token.clone();
    let outcome = install::apply_install(&store, Some(&secrets), data_dir, &request, plan)
        .await
        .map_err(clients_error)?;
    writeln!(
        out,
        "Installed Switchboard in {} ({path}), {how}.",
        kind.display_name()
    )?;
    if let Some(backup) = &outcome.backup {
        writeln!(
            out,
            "The original is kept at {}; `switchboard clients uninstall {kind}` puts it back.",
            tilde(backup, &platform)
        )?;
    }
    if !removed.is_empty() {
        writeln!(
            out,
            "Served by Switchboard now, so taken out of the config: {}",
            removed.join(", ")
        )?;
    }
    for (name, why) in kept {
        writeln!(out, "Left in the config: {name} ({why})")?;
    }
    writeln!(out, "{}", token.note(&request.client_name, true))?;
    print_applied(&mut out, &outcome.applied, &secrets)?;
    writeln!(out, "Restart {} to use it.", kind.display_name())?;
    Ok(())
}

/// `clients uninstall KIND`: put the client's config back.
pub async fn uninstall(data_dir: &Path, args: UninstallArgs) -> Result<(), CliError> {
    let platform = platform(args.home.home.as_deref())?;
    let kind = kind(&args.kind)?;
    let store = crate::database::open_store(data_dir).await?;
    let outcome = install::uninstall(&store, &platform, data_dir, kind)
        .await
        .map_err(clients_error)?;
    let mut out = std::io::stdout().lock();
    let path = tilde(&outcome.path, &platform);
    match &outcome.restored {
        Restored::Exact { backup } => writeln!(
            out,
            "Restored {path} from {} (byte for byte).",
            tilde(backup, &platform)
        )?,
        Restored::Deleted => writeln!(out, "Removed {path}: it did not exist before install.")?,
        Restored::Merged { restored_entries } => writeln!(
            out,
            "{path} changed since install: removed the Switchboard entry{}; your later edits are kept.",
            if restored_entries.is_empty() {
                String::new()
            } else {
                format!(" and put back {}", restored_entries.join(", "))
            }
        )?,
        Restored::EntryRemoved => writeln!(out, "Removed the Switchboard entry from {path}.")?,
    }
    if let Some(client) = &outcome.removed_client {
        writeln!(
            out,
            "Removed client \"{client}\"; its token no longer works."
        )?;
    }
    writeln!(
        out,
        "Servers imported into Switchboard stay there (`switchboard servers list`)."
    )?;
    Ok(())
}
