//! `switchboard serve`.

use std::{net::SocketAddr, path::Path, time::Instant};

use clap::Args;
use switchboard_gateway::{Gateway, GatewayConfig};

use crate::error::CliError;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on: loopback, or with --tls-cert/--tls-key and --allowed-host
    /// any address (e.g. 0.0.0.0:7443 for a team).
    #[arg(long, default_value = "127.0.0.1:7331", env = "SWITCHBOARD_LISTEN")]
    listen: SocketAddr,
    /// PEM certificate chain to serve over TLS (with --tls-key).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        env = "SWITCHBOARD_TLS_CERT"
    )]
    tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of the certificate.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_cert",
        env = "SWITCHBOARD_TLS_KEY"
    )]
    tls_key: Option<std::path::PathBuf>,
    /// A host name (or address) clients use to reach a TLS gateway; requests naming any
    /// other Host are refused. Repeat for several.
    #[arg(long = "allowed-host", value_name = "HOST")]
    allowed_hosts: Vec<String>,
}

pub async fn run(data_dir: &Path, args: ServeArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let store = crate::database::open_store(data_dir).await?;
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(switchboard_gateway::http::TlsFiles { cert, key }),
        _ => None,
    };
    let config = GatewayConfig {
        listen: args.listen,
        tls,
        allowed_hosts: args.allowed_hosts,
        sandbox_launcher: std::env::current_exe().ok(),
        ..GatewayConfig::default()
    };
    let gateway = Gateway::start(store.clone(), config).await?;
    let info = gateway.info();
    // The control API and the web UI, behind the gateway's own routes.
    let access = std::sync::Arc::new(
        switchboard_api::http::WebAccess::new(info.control_token.clone(), info.listen.port())
            .with_hosts(gateway.host_check()),
    );
    gateway.mount(switchboard_api::http::router(
        switchboard_api::Api::new(store, &gateway),
        access.clone(),
        switchboard_api::http::default_ui_dir(),
    ));
    println!(
        "Switchboard is ready ({} ms)",
        started.elapsed().as_millis()
    );
    println!("  MCP endpoint:  {}", info.mcp_url);
    if let Some(public) = &info.public_url {
        println!("  Over TLS:      {public}");
    }
    println!("  Control:       {}", info.control_url);
    println!("  Data:          {}", data_dir.display());
    if let switchboard_store::Database::Postgres(url) = crate::database::chosen() {
        println!("  Database:      {url} (PostgreSQL)");
    }
    println!("  Secrets:       {}", secrets_line(data_dir).await);
    // The fragment never reaches a server or a log; the code works once.
    println!(
        "  Control panel: http://{}/#login={}",
        info.listen,
        access.login_code()
    );
    println!("Add a client token with `switchboard clients add NAME`; stop with Ctrl-C.");
    wait_for_signal().await;
    tracing::info!("shutting down");
    gateway.shutdown().await?;
    Ok(())
}

/// Where OAuth tokens and server secrets go, or clearly why they cannot be
/// kept and what to do (never a silent fallback).
async fn secrets_line(data_dir: &Path) -> String {
    let store = match switchboard_auth::SecretStore::from_env(data_dir) {
        Ok(store) => store,
        Err(e) => return format!("unusable: {e}"),
    };
    let probe = store.clone();
    let checked = tokio::task::spawn_blocking(move || probe.check()).await;
    match checked {
        Ok(Ok(())) => store.describe(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "no secret store");
            format!(
                "NOT AVAILABLE: {e}\n                 OAuth sign-ins and secret headers cannot be kept. Start and unlock a keyring\n                 (GNOME Keyring, KWallet), or restart with {}=file to keep them in\n                 {} (mode 0600, readable by anyone who can read your files).",
                switchboard_auth::SECRET_STORE_ENV,
                data_dir.join(switchboard_auth::SECRETS_FILE).display()
            )
        }
        Err(e) => format!("unknown ({e})"),
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
