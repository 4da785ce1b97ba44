use std::path::PathBuf;

/// Everything that can go wrong while reading or changing a client's config.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS reported.
        source: std::io::Error,
    },
    /// A config file is not valid for its format; it was left untouched.
    #[error("cannot parse {}: {message} (left untouched)", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The file parses but does not have the shape the client uses.
    #[error("{}: {message} (left untouched)", path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A name given on the command line is not a client we know.
    #[error("unknown client {0:?}; known: {known}", known = crate::ClientKind::ids().join(", "))]
    UnknownClient(String),
    /// The client does not seem to be installed here.
    #[error(
        "{0} is not installed here (none of its folders exist); pass --force to write its config anyway"
    )]
    NotInstalled(String),
    /// The client keeps no config of its own in that scope.
    #[error("{0}")]
    Unsupported(String),
    /// Uninstall found nothing Switchboard installed.
    #[error("Switchboard is not installed in {0}")]
    NotInstalledHere(String),
    /// A store operation failed.
    #[error(transparent)]
    Store(#[from] switchboard_store::Error),
    /// The secret store failed.
    #[error(transparent)]
    Secret(#[from] switchboard_auth::SecretError),
    /// A catalog could not be loaded or used.
    #[error("{0}")]
    Catalog(String),
    /// A value the user gave is missing or malformed.
    #[error("{0}")]
    Usage(String),
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_owned(),
        source,
    }
}
