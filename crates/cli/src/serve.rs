//! `switchboard serve`.

use std::{net::SocketAddr, path::Path, time::Instant};

use clap::Args;
use switchboard_gateway::{Gateway, GatewayConfig};
use switchboard_store::Store;

use crate::error::CliError;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:7331", env = "SWITCHBOARD_LISTEN")]
    listen: SocketAddr,
}

pub async fn run(data_dir: &Path, args: ServeArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let store = Store::open(data_dir).await?;
    let config = GatewayConfig {
        listen: args.listen,
        ..GatewayConfig::default()
    };
    let gateway = Gateway::start(store.clone(), config).await?;
    let info = gateway.info();
    // The control API and the web UI, behind the gateway's own routes.
    let access = std::sync::Arc::new(switchboard_api::http::WebAccess::new(
        info.control_token.clone(),
        info.listen.port(),
    ));
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
    println!("  Control:       {}", info.control_url);
    println!("  Data:          {}", data_dir.display());
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
