//! The gateway on the app's runtime: started in the background at launch so
//! the window appears at once, drained at quit.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use switchboard_api::{Api, ApiError, ErrorCode};
use switchboard_gateway::{Gateway, GatewayConfig};
use switchboard_store::Store;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::DesktopError;

/// Where the data lives and where the gateway listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The data directory (the same one `switchboard` uses).
    pub data_dir: PathBuf,
    /// The MCP endpoint's address (loopback).
    pub listen: SocketAddr,
}

impl Options {
    /// `--data-dir DIR` from the arguments, else `SWITCHBOARD_DATA_DIR`, else
    /// the OS app-data directory, as the CLI resolves it; `--listen ADDR`, else
    /// `SWITCHBOARD_LISTEN`, else the CLI's default address. Other arguments
    /// are ignored: desktop launchers may add their own.
    pub fn resolve(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, DesktopError> {
        let (mut data_dir, mut listen) = (None, None);
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.split_once('=') {
                Some(("--data-dir", dir)) => data_dir = Some(PathBuf::from(dir)),
                Some(("--listen", addr)) => listen = Some(addr.to_owned()),
                _ if arg == "--data-dir" => data_dir = args.next().map(PathBuf::from),
                _ if arg == "--listen" => listen = args.next(),
                _ => {}
            }
        }
        let data_dir = match data_dir.or_else(|| env("SWITCHBOARD_DATA_DIR").map(PathBuf::from)) {
            Some(dir) => dir,
            None => Store::default_data_dir().ok_or(DesktopError::NoDataDir)?,
        };
        let listen = match listen.or_else(|| env("SWITCHBOARD_LISTEN")) {
            Some(text) => text.parse().map_err(|_| DesktopError::BadListen(text))?,
            None => GatewayConfig::default().listen,
        };
        Ok(Self { data_dir, listen })
    }
}

/// A started gateway as the window and the tray see it.
#[derive(Clone)]
pub struct Running {
    /// The control API over it.
    pub api: Api,
    /// Its MCP endpoint.
    pub mcp_url: String,
}

#[derive(Clone)]
enum Phase {
    Starting,
    Running(Running),
    Failed(String),
}

/// The gateway, the control API over it, and the tasks that follow it. Cheap
/// to clone: every clone is the same host.
#[derive(Clone)]
pub struct Host {
    inner: Arc<Inner>,
}

struct Inner {
    phase: watch::Receiver<Phase>,
    gateway: Mutex<Option<Gateway>>,
    /// Cancelled at quit: the tray follower and every event subscription.
    stop: CancellationToken,
    /// Event subscriptions per webview, ended when its page (re)loads.
    subscriptions: Mutex<HashMap<String, Vec<CancellationToken>>>,
}

/// How long quitting waits for the gateway to drain.
const DRAIN: Duration = Duration::from_secs(15);

impl Host {
    /// Starts the gateway in the background on the app's runtime.
    pub fn launch(options: Options) -> Self {
        let (tx, rx) = watch::channel(Phase::Starting);
        let host = Self {
            inner: Arc::new(Inner {
                phase: rx,
                gateway: Mutex::new(None),
                stop: CancellationToken::new(),
                subscriptions: Mutex::new(HashMap::new()),
            }),
        };
        let this = host.clone();
        tauri::async_runtime::spawn(async move {
            let phase = match start(&options).await {
                Ok((store, gateway)) => {
                    let running = Running {
                        api: Api::new(store, &gateway),
                        mcp_url: gateway.info().mcp_url.clone(),
                    };
                    tracing::info!(
                        mcp = %running.mcp_url,
                        data = %options.data_dir.display(),
                        "gateway ready"
                    );
                    this.lock_gateway().replace(gateway);
                    Phase::Running(running)
                }
                Err(e) => {
                    tracing::error!("the gateway did not start: {e}");
                    Phase::Failed(e.to_string())
                }
            };
            let _ = tx.send(phase);
        });
        host
    }

    fn lock_gateway(&self) -> std::sync::MutexGuard<'_, Option<Gateway>> {
        self.inner
            .gateway
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The running gateway, once it has started.
    pub async fn running(&self) -> Result<Running, ApiError> {
        let mut phase = self.inner.phase.clone();
        let phase = phase
            .wait_for(|p| !matches!(p, Phase::Starting))
            .await
            .map_err(|_| ApiError::new(ErrorCode::Internal, "the app is quitting"))?
            .clone();
        match phase {
            Phase::Running(running) => Ok(running),
            Phase::Failed(why) => Err(ApiError::new(
                ErrorCode::Internal,
                format!("the gateway did not start: {why}"),
            )),
            Phase::Starting => Err(ApiError::new(ErrorCode::Internal, "still starting")),
        }
    }

    /// Cancelled when the app quits.
    pub fn stopping(&self) -> CancellationToken {
        self.inner.stop.clone()
    }

    /// A token for a new event subscription of `webview`.
    pub fn subscription(&self, webview: &str) -> CancellationToken {
        let token = self.inner.stop.child_token();
        self.inner
            .subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(webview.to_owned())
            .or_default()
            .push(token.clone());
        token
    }

    /// Ends the subscriptions of `webview`: its page is gone.
    pub fn unsubscribe_all(&self, webview: &str) {
        let tokens = self
            .inner
            .subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(webview)
            .unwrap_or_default();
        for token in tokens {
            token.cancel();
        }
    }

    /// Stops the followers, then drains the gateway: open sessions end,
    /// servers stop, the audit log commits what it holds.
    pub async fn shutdown(&self) {
        self.inner.stop.cancel();
        let mut phase = self.inner.phase.clone();
        let _ =
            tokio::time::timeout(DRAIN, phase.wait_for(|p| !matches!(p, Phase::Starting))).await;
        let Some(gateway) = self.lock_gateway().take() else {
            return;
        };
        match tokio::time::timeout(DRAIN, gateway.shutdown()).await {
            Ok(Ok(())) => tracing::info!("gateway stopped"),
            Ok(Err(e)) => tracing::warn!("gateway stopped with an error: {e}"),
            Err(_) => tracing::warn!("gateway did not drain within {} s", DRAIN.as_secs()),
        }
    }
}

async fn start(options: &Options) -> Result<(Store, Gateway), DesktopError> {
    // SWITCHBOARD_DATABASE_URL puts the desktop app on a team's database, as
    // `switchboard --database` does for the CLI.
    let database =
        switchboard_store::Database::from_env().map_err(|source| DesktopError::Store {
            path: options.data_dir.clone(),
            source,
        })?;
    let store = Store::open_at(&options.data_dir, &database)
        .await
        .map_err(|source| DesktopError::Store {
            path: options.data_dir.clone(),
            source,
        })?;
    let config = GatewayConfig {
        listen: options.listen,
        sandbox_launcher: std::env::current_exe().ok(),
        ..GatewayConfig::default()
    };
    let gateway = Gateway::start(store.clone(), config).await?;
    // The control API on the gateway's own port, for the CLI (`switchboard
    // auth login`, `clients list`, ...): the same API the window uses, behind
    // the control token of gateway.json. The window itself talks over IPC.
    let info = gateway.info();
    let access = Arc::new(switchboard_api::http::WebAccess::new(
        info.control_token.clone(),
        info.listen.port(),
    ));
    gateway.mount(switchboard_api::http::router(
        Api::new(store.clone(), &gateway),
        access,
        None,
    ));
    Ok((store, gateway))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn data_dir_from_arguments_then_environment() {
        let env = |key: &str| (key == "SWITCHBOARD_DATA_DIR").then(|| "/from/env".to_owned());
        let o = Options::resolve(args(&["app", "--data-dir", "/a"]), env).unwrap();
        assert_eq!(o.data_dir, PathBuf::from("/a"));
        let o = Options::resolve(args(&["app", "--data-dir=/b", "--automation"]), env).unwrap();
        assert_eq!(o.data_dir, PathBuf::from("/b"));
        let o = Options::resolve(args(&["app"]), env).unwrap();
        assert_eq!(o.data_dir, PathBuf::from("/from/env"));
        assert_eq!(o.listen, GatewayConfig::default().listen);
    }

    #[test]
    fn listen_from_environment() {
        let env = |key: &str| match key {
            "SWITCHBOARD_LISTEN" => Some("127.0.0.1:9999".to_owned()),
            "SWITCHBOARD_DATA_DIR" => Some("/d".to_owned()),
            _ => None,
        };
        let o = Options::resolve(args(&["app"]), env).unwrap();
        assert_eq!(o.listen, "127.0.0.1:9999".parse().unwrap());
        let o = Options::resolve(args(&["app", "--listen", "127.0.0.1:1"]), env).unwrap();
        assert_eq!(o.listen, "127.0.0.1:1".parse().unwrap());
        let bad = |key: &str| (key == "SWITCHBOARD_LISTEN").then(|| "nope".to_owned());
        assert!(matches!(
            Options::resolve(args(&["app", "--data-dir", "/d"]), bad),
            Err(DesktopError::BadListen(_))
        ));
    }
}
