//! Errors of the gateway crate.

use std::path::PathBuf;

/// Everything that can stop the gateway from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] switchboard_store::Error),
    /// The audit log could not be opened.
    #[error(transparent)]
    Audit(#[from] switchboard_audit::Error),
    /// The secret store setting is not usable.
    #[error("secret store: {0}")]
    Secrets(String),
    /// The HTTP client for servers could not be built.
    #[error("cannot set up HTTP to servers: {0}")]
    Http(#[from] reqwest::Error),
    /// The listen address is not a loopback address.
    #[error(
        "refusing to listen on {0}: beyond loopback Switchboard listens only over TLS \
         (--tls-cert FILE --tls-key FILE) and for the hosts given with --allowed-host"
    )]
    NotLoopback(std::net::SocketAddr),
    /// Allowed hosts were given for a plain-HTTP (loopback) listener.
    #[error(
        "--allowed-host needs TLS (--tls-cert and --tls-key): a plain listener answers loopback names only"
    )]
    HostsWithoutTls,
    /// A TLS listener beyond loopback with no host to answer for.
    #[error(
        "listening on {0} needs at least one --allowed-host (the name clients use to reach it)"
    )]
    NoAllowedHosts(std::net::SocketAddr),
    /// The TLS certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] crate::http::TlsError),
    /// Binding the listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address we tried.
        addr: std::net::SocketAddr,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A file the gateway writes (runtime info, logs) could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Serving HTTP failed.
    #[error("gateway server stopped: {0}")]
    Serve(std::io::Error),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
