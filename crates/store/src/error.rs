use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// The database file could not be opened.
    #[error("cannot open database {}: {source}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported.
        source: sqlx::Error,
    },

    /// The database server could not be reached or refused the connection.
    #[error("cannot connect to {database}: {source}")]
    Connect {
        /// The database, without its password.
        database: String,
        /// What the driver reported.
        source: sqlx::Error,
    },

    /// The database URL names an engine Switchboard does not use.
    #[error("{0}")]
    UnsupportedDatabase(String),

    /// The schema could not be brought up to date.
    #[error("cannot update the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// A file or directory could not be accessed.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS reported.
        source: std::io::Error,
    },

    /// A server with this name already exists.
    #[error("server \"{0}\" already exists")]
    ServerExists(String),

    /// No server has this name.
    #[error("no server named \"{0}\"")]
    NoSuchServer(String),

    /// A client with this name already exists.
    #[error("client \"{0}\" already exists")]
    ClientExists(String),

    /// No client has this name.
    #[error("no client named \"{0}\"")]
    NoSuchClient(String),

    /// A server or client name is not allowed; the message says what is.
    #[error("{0}")]
    InvalidName(String),

    /// A setting's value is not one it can take; the message says which are.
    #[error("{0}")]
    InvalidValue(String),

    /// A value could not be converted to or from its stored JSON.
    #[error("invalid stored JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Whether `err` is a UNIQUE or PRIMARY KEY violation on `table.column`.
///
/// SQLite names the column in its message; PostgreSQL names the constraint,
/// `TABLE_COLUMN_key` for a UNIQUE column and `TABLE_pkey` for a primary key.
pub(crate) fn is_unique_violation(err: &sqlx::Error, table_column: &str) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    if !db.is_unique_violation() {
        return false;
    }
    match db.constraint() {
        Some(constraint) => {
            let (table, column) = table_column.split_once('.').unwrap_or((table_column, ""));
            constraint == format!("{table}_{column}_key") || constraint == format!("{table}_pkey")
        }
        None => db.message().contains(table_column),
    }
}
