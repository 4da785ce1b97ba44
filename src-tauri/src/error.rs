//! Errors of the desktop host.

use std::path::PathBuf;

/// What can stop the desktop app from starting or stopping cleanly.
#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    /// No data directory given and the OS has no app-data directory.
    #[error("no app-data directory on this system: pass --data-dir or set SWITCHBOARD_DATA_DIR")]
    NoDataDir,
    /// `SWITCHBOARD_LISTEN` is not an address.
    #[error("SWITCHBOARD_LISTEN={0:?} is not an address like 127.0.0.1:7331")]
    BadListen(String),
    /// The store could not be opened.
    #[error("cannot open the data in {path}: {source}")]
    Store {
        /// The data directory.
        path: PathBuf,
        /// Why.
        source: switchboard_store::Error,
    },
    /// The gateway could not start or stop.
    #[error(transparent)]
    Gateway(#[from] switchboard_gateway::Error),
    /// Tauri failed (window system, webview, tray).
    #[error(transparent)]
    Tauri(#[from] tauri::Error),
}
