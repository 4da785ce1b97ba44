//! Errors of the `switchboard` command: each prints as one clear line.

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The OS has no app-data dir and none was given.
    #[error("no data directory: pass --data-dir DIR or set SWITCHBOARD_DATA_DIR")]
    NoDataDir,
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// A store operation failed (its message names what and why).
    #[error(transparent)]
    Store(#[from] switchboard_store::Error),
    /// The audit log could not be read.
    #[error(transparent)]
    Audit(#[from] switchboard_audit::Error),
    /// The gateway failed.
    #[error(transparent)]
    Gateway(#[from] switchboard_gateway::Error),
    /// An argument is malformed.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A config file is not what we expect.
    #[error("{path}: {message}")]
    Import {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No gateway is running (for commands that need one).
    #[error("no gateway is running for {0} (start one with `switchboard serve`)")]
    NotRunning(std::path::PathBuf),
    /// Talking to the running gateway failed.
    #[error("gateway: {0}")]
    Remote(String),
    /// Writing to stdout failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}
