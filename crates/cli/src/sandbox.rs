//! `switchboard servers sandbox NAME …`: a stdio server's sandbox, its
//! inferred and granted paths, and its network.

use std::{io::Write as _, path::Path, path::PathBuf};

use clap::{Args, ValueEnum};
use serde::Serialize;
use switchboard_sandbox::{Access, Plan};
use switchboard_store::{NetworkGrant, SandboxConfig, ServerRecord, Store};

use crate::error::CliError;

/// Arguments of `servers sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// The stdio server.
    name: String,
    /// Let it read PATH (a folder and everything beneath, or a file); repeat for more.
    #[arg(long = "allow-read", value_name = "PATH")]
    allow_read: Vec<PathBuf>,
    /// Let it read and write PATH; repeat for more.
    #[arg(long = "allow-write", value_name = "PATH")]
    allow_write: Vec<PathBuf>,
    /// Take back a grant of PATH (read or write); repeat for more.
    #[arg(long, value_name = "PATH")]
    revoke: Vec<PathBuf>,
    /// Network access: on, off, or inferred (on for npx/uvx and the like, which fetch the package).
    #[arg(long, value_enum)]
    network: Option<Network>,
    /// Run it unsandboxed, with your full rights and environment.
    #[arg(long, conflicts_with = "on")]
    off: bool,
    /// Sandbox it again.
    #[arg(long)]
    on: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Network {
    On,
    Off,
    Inferred,
}

/// A server's sandbox as `servers list --json` and `servers sandbox` show it.
#[derive(Debug, Serialize)]
pub struct SandboxView {
    /// What the user set.
    pub settings: SandboxConfig,
    /// What it gets when it starts now (None: its program is not found).
    pub plan: Option<Plan>,
}

impl SandboxView {
    /// For a stdio server; None for a remote one.
    pub fn of(record: &ServerRecord, data_dir: &Path) -> Option<Self> {
        record.transport.launch_hash()?;
        Some(Self {
            settings: record.sandbox.clone(),
            plan: switchboard_gateway::upstream::sandbox_plan(record, data_dir),
        })
    }
}

pub async fn run(data_dir: &Path, store: &Store, args: SandboxArgs) -> Result<(), CliError> {
    let record = store
        .get_server(&args.name)
        .await?
        .ok_or_else(|| switchboard_store::Error::NoSuchServer(args.name.clone()))?;
    let changes = !args.allow_read.is_empty()
        || !args.allow_write.is_empty()
        || !args.revoke.is_empty()
        || args.network.is_some()
        || args.off
        || args.on;
    let record = if changes {
        let before = record.launch_approved();
        let settings = changed(record.sandbox.clone(), &args)?;
        let stored = store.set_server_sandbox(&args.name, settings).await?;
        if before && !stored.launch_approved() {
            eprintln!(
                "The sandbox of \"{0}\" is wider now: it stays stopped until you approve it with \
                 `switchboard servers approve {0}`.",
                args.name
            );
        }
        stored
    } else {
        record
    };
    let view = SandboxView::of(&record, data_dir).ok_or_else(|| {
        switchboard_store::Error::InvalidValue(format!(
            "\"{}\" is a remote server: only stdio servers run in a sandbox",
            args.name
        ))
    })?;
    if args.json {
        crate::admin::print_json(&view)
    } else {
        print(&args.name, &view)
    }
}

fn changed(mut settings: SandboxConfig, args: &SandboxArgs) -> Result<SandboxConfig, CliError> {
    if args.off {
        settings.enabled = false;
    }
    if args.on {
        settings.enabled = true;
    }
    for path in &args.revoke {
        let path = absolute(path)?;
        settings.allow_read.retain(|p| *p != path);
        settings.allow_write.retain(|p| *p != path);
    }
    for path in &args.allow_read {
        let path = existing(path)?;
        if !settings.allow_read.contains(&path) {
            settings.allow_read.push(path);
        }
    }
    for path in &args.allow_write {
        let path = existing(path)?;
        settings.allow_read.retain(|p| *p != path);
        if !settings.allow_write.contains(&path) {
            settings.allow_write.push(path);
        }
    }
    if let Some(network) = args.network {
        settings.network = match network {
            Network::On => NetworkGrant::On,
            Network::Off => NetworkGrant::Off,
            Network::Inferred => NetworkGrant::Inferred,
        };
    }
    Ok(settings)
}

fn absolute(path: &Path) -> Result<PathBuf, CliError> {
    std::path::absolute(path)
        .map_err(|e| CliError::Usage(format!("bad path {}: {e}", path.display())))
}

/// A grant must name something that exists (the kernel's rules are set on
/// open files), given as its real path.
fn existing(path: &Path) -> Result<PathBuf, CliError> {
    std::fs::canonicalize(path).map_err(|e| {
        switchboard_store::Error::InvalidValue(format!(
            "cannot grant {}: {e} (a grant must name an existing folder or file)",
            path.display()
        ))
        .into()
    })
}

fn print(name: &str, view: &SandboxView) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if !view.settings.enabled {
        writeln!(
            out,
            "\"{name}\" runs unsandboxed, with your full rights and environment."
        )?;
        return Ok(());
    }
    let Some(plan) = &view.plan else {
        writeln!(
            out,
            "\"{name}\" is sandboxed; its program is not found on this PATH, so its grants cannot be shown."
        )?;
        return Ok(());
    };
    writeln!(out, "\"{name}\" is sandboxed.")?;
    writeln!(
        out,
        "  network: {} ({})",
        if plan.network { "on" } else { "off" },
        plan.network_why
    )?;
    writeln!(out, "  temp:    {}", plan.temp_dir.display())?;
    for grant in plan.shown() {
        let access = match grant.access {
            Access::Read => "read ",
            Access::Write => "write",
        };
        let why = serde_json::to_value(grant.why)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let detail = grant
            .detail
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        writeln!(out, "  {access}  {}  [{why}{detail}]", grant.path.display())?;
    }
    writeln!(
        out,
        "  and the system's libraries, programs and configuration (read only)."
    )?;
    Ok(())
}
