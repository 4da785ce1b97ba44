//! `switchboard doctor`: what is wrong, and how to fix it.

use std::{collections::BTreeMap, io::Write as _, net::SocketAddr, path::Path, sync::Arc};

use clap::Args;
use switchboard_clients::doctor::{self, ContextState, GatewayProbe, Input, ServerState, Severity};
use switchboard_gateway::RuntimeInfo;

use crate::{
    error::CliError,
    integrations::{HomeArgs, platform},
    remote::Remote,
};

/// `doctor`
#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Also list what is fine.
    #[arg(long, short)]
    verbose: bool,
}

async fn probe(data_dir: &Path) -> GatewayProbe {
    match Remote::find(data_dir).await {
        Some((remote, report)) => GatewayProbe::Running {
            mcp_url: remote.mcp_url().to_owned(),
            servers: report
                .servers
                .into_iter()
                .map(|(name, status)| {
                    let state = serde_json::to_value(status.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    (
                        name,
                        ServerState {
                            state,
                            error: status.error,
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        },
        None => match RuntimeInfo::read(data_dir) {
            Some(info) => GatewayProbe::Stale {
                mcp_url: info.mcp_url,
            },
            None => GatewayProbe::NotRunning,
        },
    }
}

/// Each client's view against its budget, from the running gateway.
async fn contexts(data_dir: &Path) -> Vec<ContextState> {
    let Some((remote, _)) = Remote::find(data_dir).await else {
        return Vec::new();
    };
    let Ok(value) = remote.rpc("contexts_list", serde_json::Value::Null).await else {
        return Vec::new();
    };
    let list: Vec<switchboard_api::context::ClientContext> =
        serde_json::from_value(value).unwrap_or_default();
    list.into_iter()
        .map(switchboard_api::context::doctor_state)
        .collect()
}

/// The audit log's space and key, when it exists (the doctor creates nothing).
async fn audit_state(
    data_dir: &Path,
    store: Option<&switchboard_store::Store>,
    secrets: Option<&switchboard_auth::SecretStore>,
) -> Option<doctor::AuditState> {
    let database = crate::database::chosen();
    if *database == switchboard_store::Database::Sqlite
        && !data_dir.join(switchboard_audit::AUDIT_DB_FILE).exists()
    {
        return None;
    }
    let db = crate::database::open_audit(data_dir).await.ok()?;
    let settings = store?
        .get_setting::<switchboard_audit::AuditSettings>(switchboard_gateway::AUDIT_SETTINGS_KEY)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let vault = secrets.map(|s| {
        Arc::new(switchboard_gateway::KeyringVault(s.clone())) as Arc<dyn switchboard_audit::Vault>
    });
    switchboard_api::storage::doctor_state(&db, &settings, None, vault).await
}

/// `switchboard doctor`: prints the report; fails when it found problems.
pub async fn run(data_dir: &Path, args: DoctorArgs) -> Result<(), CliError> {
    let platform = platform(args.home.home.as_deref())?;
    let store = crate::database::open_store(data_dir)
        .await
        .map_err(|e| e.to_string());
    let secrets = switchboard_auth::SecretStore::from_env(data_dir).map_err(|e| e.to_string());
    let listen: SocketAddr = std::env::var("SWITCHBOARD_LISTEN")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 7331)));
    let path = tokio::task::spawn_blocking(doctor::login_path)
        .await
        .unwrap_or_default();
    let report = doctor::run(Input {
        data_dir,
        platform: &platform,
        store: store.as_ref().map_err(Clone::clone),
        secrets: secrets.as_ref().map_err(Clone::clone),
        gateway: probe(data_dir).await,
        listen,
        path,
        contexts: contexts(data_dir).await,
        sandbox: sandbox_support().await,
        audit: audit_state(data_dir, store.as_ref().ok(), secrets.as_ref().ok()).await,
    })
    .await;
    if args.json {
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| CliError::Usage(e.to_string()))?;
        writeln!(std::io::stdout(), "{text}")?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "Switchboard doctor (data: {})", data_dir.display())?;
        let shown = if args.verbose {
            Severity::Ok
        } else {
            Severity::Info
        };
        for check in report.at_least(shown) {
            let label = match check.severity {
                Severity::Ok => "ok",
                Severity::Info => "info",
                Severity::Warning => "WARNING",
                Severity::Problem => "PROBLEM",
            };
            writeln!(
                out,
                "  {label:<8} {:<8} {}: {}",
                check.area, check.subject, check.detail
            )?;
            if let Some(fix) = &check.fix
                && check.severity >= Severity::Warning
            {
                writeln!(out, "  {:<8} {:<8} fix: {fix}", "", "")?;
            }
        }
        let ok = report
            .checks
            .iter()
            .filter(|c| c.severity == Severity::Ok)
            .count();
        let warnings = report
            .checks
            .iter()
            .filter(|c| c.severity == Severity::Warning)
            .count();
        writeln!(
            out,
            "{} problem(s), {warnings} warning(s), {ok} check(s) fine{}.",
            report.problems(),
            if args.verbose { "" } else { " (-v lists them)" }
        )?;
    }
    if report.problems() > 0 {
        return Err(CliError::Usage(format!(
            "doctor found {} problem(s)",
            report.problems()
        )));
    }
    Ok(())
}

/// What the kernel supports, probed by this executable as the sandbox launcher.
async fn sandbox_support() -> Result<switchboard_sandbox::Support, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || switchboard_sandbox::probe(&exe).map_err(|e| e.to_string()))
        .await
        .map_err(|e| e.to_string())?
}
