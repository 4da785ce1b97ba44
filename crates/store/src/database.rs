//! Which database holds the configuration and the audit log.

use std::fmt;

use crate::{Error, Result};

/// The environment variable naming the database, like `serve --database`.
pub const DATABASE_URL_ENV: &str = "SWITCHBOARD_DATABASE_URL";

/// Where the configuration and the audit log are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Database {
    /// Files in the data directory (the default).
    #[default]
    Sqlite,
    /// A PostgreSQL server, shared by every instance that names it.
    Postgres(PostgresUrl),
}

impl Database {
    /// Parses a `--database` value: `postgres://…` or `postgresql://…`, or
    /// `sqlite` (or nothing) for the files in the data directory.
    pub fn parse(text: &str) -> Result<Database> {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("sqlite") {
            return Ok(Database::Sqlite);
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Database::Postgres(PostgresUrl(text.to_owned())));
        }
        let scheme = text.split_once("://").map_or(text, |(scheme, _)| scheme);
        Err(Error::UnsupportedDatabase(format!(
            "unsupported database \"{scheme}\": give a postgres://USER@HOST/DB URL, or sqlite"
        )))
    }

    /// The database named by `SWITCHBOARD_DATABASE_URL`, else SQLite.
    pub fn from_env() -> Result<Database> {
        match std::env::var(DATABASE_URL_ENV) {
            Ok(value) => Database::parse(&value),
            Err(_) => Ok(Database::Sqlite),
        }
    }

    /// Which engine, for people: `sqlite` or `postgres`.
    pub fn engine(&self) -> &'static str {
        match self {
            Database::Sqlite => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite => f.write_str("sqlite"),
            Database::Postgres(url) => url.fmt(f),
        }
    }
}

/// A PostgreSQL connection URL. Shown and logged without its password.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// The URL as given, password included: only for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&without_password(&self.0))
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

/// `postgres://user:secret@host/db` as `postgres://user:***@host/db`; a
/// `password=` query parameter is hidden too.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        let db = Database::parse("postgres://sb:hunter2@db.example:5432/switchboard").unwrap();
        assert_eq!(
            db.to_string(),
            "postgres://sb:***@db.example:5432/switchboard"
        );
        let db = Database::parse("postgresql://sb@h/d?sslmode=require&password=x").unwrap();
        assert_eq!(
            db.to_string(),
            "postgresql://sb@h/d?sslmode=require&password=***"
        );
        assert!(!format!("{db:?}").contains("=x"));
    }

    #[test]
    fn the_engine_is_chosen_by_scheme() {
        assert_eq!(Database::parse("").unwrap(), Database::Sqlite);
        assert_eq!(Database::parse("SQLite").unwrap(), Database::Sqlite);
        let err = Database::parse("mysql://x@y/z").unwrap_err().to_string();
        assert!(err.contains("\"mysql\""), "{err}");
    }
}
