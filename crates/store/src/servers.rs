use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchboard_sandbox::SandboxConfig;

use crate::error::is_unique_violation;
use crate::{Error, Result, Store, now_ms, validate_server_name};

/// A configured upstream MCP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerRecord {
    /// Unique name; see [`validate_server_name`].
    pub name: String,
    /// How to reach the server.
    pub transport: TransportConfig,
    /// Whether the gateway should connect to it.
    pub enabled: bool,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
    /// Last modification time, unix milliseconds.
    pub updated_at: i64,
    /// Hash of the stdio launch the user approved ([`TransportConfig::launch_hash`]).
    #[serde(default)]
    pub approved_launch: Option<String>,
    /// How a stdio server is sandboxed (ignored for remote servers).
    #[serde(default)]
    pub sandbox: SandboxConfig,
}

impl ServerRecord {
    /// A new enabled server, created now; a stdio launch is not yet approved.
    pub fn new(name: impl Into<String>, transport: TransportConfig) -> Self {
        let now = now_ms();
        Self {
            name: name.into(),
            transport,
            enabled: true,
            created_at: now,
            updated_at: now,
            approved_launch: None,
            sandbox: SandboxConfig::default(),
        }
    }

    /// Marks the current launch as approved by the user.
    pub fn approve_launch(mut self) -> Self {
        self.approved_launch = self.launch_hash();
        self
    }

    /// Whether the gateway may start this server: remote servers always, a
    /// stdio server only when exactly this launch was approved.
    pub fn launch_approved(&self) -> bool {
        match self.launch_hash() {
            None => true,
            Some(hash) => self.approved_launch.as_deref() == Some(hash.as_str()),
        }
    }

    /// What the user approves for a stdio server: its
    /// [`TransportConfig::launch_hash`], and its sandbox where that is not
    /// the default (so widening a grant needs approval like a changed command).
    pub fn launch_hash(&self) -> Option<String> {
        use sha2::{Digest as _, Sha256};
        let command = self.transport.launch_hash()?;
        if self.sandbox.is_default() {
            return Some(command);
        }
        let sandbox = serde_json::to_string(&self.sandbox).unwrap_or_default();
        Some(hex::encode(Sha256::digest(
            format!("{command}\n{sandbox}").as_bytes(),
        )))
    }
}

/// How the gateway talks to an upstream server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TransportConfig {
    /// A child process speaking MCP over stdin/stdout.
    Stdio {
        /// Program to run.
        command: String,
        /// Its arguments.
        #[serde(default)]
        args: Vec<String>,
        /// Extra environment variables.
        #[serde(default)]
        env: BTreeMap<String, String>,
        /// Working directory; inherited if absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<String>,
    },
    /// A Streamable HTTP endpoint.
    Http {
        /// Endpoint URL.
        url: String,
        /// Extra request headers.
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
    /// A legacy HTTP+SSE endpoint.
    Sse {
        /// SSE endpoint URL.
        url: String,
        /// Extra request headers.
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
}

impl TransportConfig {
    /// Its name-value pairs: the extra environment of a stdio server, the
    /// headers of a remote one (where secrets, or their placeholders, live).
    pub fn pairs(&self) -> &BTreeMap<String, String> {
        match self {
            TransportConfig::Stdio { env, .. } => env,
            TransportConfig::Http { headers, .. } | TransportConfig::Sse { headers, .. } => headers,
        }
    }

    /// [`Self::pairs`], to change.
    pub fn pairs_mut(&mut self) -> &mut BTreeMap<String, String> {
        match self {
            TransportConfig::Stdio { env, .. } => env,
            TransportConfig::Http { headers, .. } | TransportConfig::Sse { headers, .. } => headers,
        }
    }

    /// For stdio servers, a SHA-256 over what decides what runs: command,
    /// arguments, environment and working directory.
    pub fn launch_hash(&self) -> Option<String> {
        use sha2::{Digest as _, Sha256};
        let TransportConfig::Stdio {
            command,
            args,
            env,
            cwd,
        } = self
        else {
            return None;
        };
        let canonical = serde_json::json!([command, args, env, cwd]).to_string();
        Some(hex::encode(Sha256::digest(canonical.as_bytes())))
    }

    /// The transport's name: `"stdio"`, `"http"` or `"sse"`.
    pub fn kind(&self) -> &'static str {
        match self {
            TransportConfig::Stdio { .. } => "stdio",
            TransportConfig::Http { .. } => "http",
            TransportConfig::Sse { .. } => "sse",
        }
    }

    /// What it reaches: the command line, or the URL.
    pub fn target(&self) -> String {
        match self {
            TransportConfig::Stdio { command, args, .. } => std::iter::once(command.as_str())
                .chain(args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            TransportConfig::Http { url, .. } | TransportConfig::Sse { url, .. } => url.clone(),
        }
    }
}

/// The `sandbox` column: NULL for the default.
fn sandbox_column(sandbox: &SandboxConfig) -> Result<Option<String>> {
    Ok(if sandbox.is_default() {
        None
    } else {
        Some(serde_json::to_string(sandbox)?)
    })
}

#[derive(sqlx::FromRow)]
struct ServerRow {
    name: String,
    transport: String,
    enabled: bool,
    created_at: i64,
    updated_at: i64,
    approved_launch: Option<String>,
    sandbox: Option<String>,
}

impl TryFrom<ServerRow> for ServerRecord {
    type Error = Error;

    fn try_from(row: ServerRow) -> Result<Self> {
        Ok(ServerRecord {
            transport: serde_json::from_str(&row.transport)?,
            name: row.name,
            enabled: row.enabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
            approved_launch: row.approved_launch,
            sandbox: match row.sandbox {
                Some(text) => serde_json::from_str(&text)?,
                None => SandboxConfig::default(),
            },
        })
    }
}

impl Store {
    /// All servers, ordered by name.
    pub async fn list_servers(&self) -> Result<Vec<ServerRecord>> {
        let rows: Vec<ServerRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT name, transport, enabled, created_at, updated_at, approved_launch, sandbox FROM servers \
             ORDER BY name",
        )
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(ServerRecord::try_from).collect()
    }

    /// The server called `name`, if any.
    pub async fn get_server(&self, name: &str) -> Result<Option<ServerRecord>> {
        let row: Option<ServerRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT name, transport, enabled, created_at, updated_at, approved_launch, sandbox FROM servers \
             WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(pool)
        .await)?;
        row.map(ServerRecord::try_from).transpose()
    }

    /// Adds a new server, keeping its timestamps; fails if the name is invalid or taken.
    pub async fn add_server(&self, server: &ServerRecord) -> Result<()> {
        validate_server_name(&server.name)?;
        let transport = serde_json::to_string(&server.transport)?;
        let sandbox = sandbox_column(&server.sandbox)?;
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO servers (name, transport, enabled, created_at, updated_at, approved_launch, \
             sandbox) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&server.name)
        .bind(&transport)
        .bind(server.enabled)
        .bind(server.created_at)
        .bind(server.updated_at)
        .bind(&server.approved_launch)
        .bind(&sandbox)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(|err| {
            if is_unique_violation(&err, "servers.name") {
                Error::ServerExists(server.name.clone())
            } else {
                err.into()
            }
        })?;
        Ok(())
    }

    /// Replaces the transport, enabled flag and launch approval of an existing
    /// server and stamps `updated_at` now.
    pub async fn update_server(&self, server: &ServerRecord) -> Result<()> {
        let transport = serde_json::to_string(&server.transport)?;
        let sandbox = sandbox_column(&server.sandbox)?;
        let changed = on_pool!(self, pool => sqlx::query(
            "UPDATE servers SET transport = $1, enabled = $2, approved_launch = $3, sandbox = $4, \
             updated_at = $5 WHERE name = $6",
        )
        .bind(&transport)
        .bind(server.enabled)
        .bind(&server.approved_launch)
        .bind(&sandbox)
        .bind(now_ms())
        .bind(&server.name)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        if changed == 0 {
            return Err(Error::NoSuchServer(server.name.clone()));
        }
        Ok(())
    }

    /// Enables or disables an existing server.
    pub async fn set_server_enabled(&self, name: &str, enabled: bool) -> Result<()> {
        let changed = on_pool!(self, pool => sqlx::query("UPDATE servers SET enabled = $1, updated_at = $2 WHERE name = $3")
            .bind(enabled)
            .bind(now_ms())
            .bind(name)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if changed == 0 {
            return Err(Error::NoSuchServer(name.to_owned()));
        }
        Ok(())
    }

    /// Approves the server's current stdio launch.
    pub async fn approve_server_launch(&self, name: &str) -> Result<()> {
        let server = self
            .get_server(name)
            .await?
            .ok_or_else(|| Error::NoSuchServer(name.to_owned()))?;
        let hash = server.launch_hash();
        let changed = on_pool!(self, pool => sqlx::query("UPDATE servers SET approved_launch = $1, updated_at = $2 WHERE name = $3")
                .bind(&hash)
                .bind(now_ms())
                .bind(name)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))?;
        if changed == 0 {
            return Err(Error::NoSuchServer(name.to_owned()));
        }
        Ok(())
    }

    /// Sets a stdio server's sandbox. A narrower sandbox keeps an approved
    /// launch approved; a wider one (a grant added, more network, the
    /// sandbox off) needs `approve_server_launch` again, like a changed
    /// command. Returns the server as stored.
    pub async fn set_server_sandbox(
        &self,
        name: &str,
        sandbox: SandboxConfig,
    ) -> Result<ServerRecord> {
        let mut server = self
            .get_server(name)
            .await?
            .ok_or_else(|| Error::NoSuchServer(name.to_owned()))?;
        if server.transport.launch_hash().is_none() {
            return Err(Error::InvalidValue(format!(
                "\"{name}\" is a remote server: only stdio servers run in a sandbox"
            )));
        }
        let was_approved = server.launch_approved();
        let widened = sandbox.widens(&server.sandbox);
        server.sandbox = sandbox;
        if was_approved && !widened {
            server.approved_launch = server.launch_hash();
        }
        self.update_server(&server).await?;
        Ok(server)
    }

    /// Removes an existing server.
    pub async fn remove_server(&self, name: &str) -> Result<()> {
        let removed = on_pool!(self, pool => sqlx::query("DELETE FROM servers WHERE name = $1")
            .bind(name)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if removed == 0 {
            return Err(Error::NoSuchServer(name.to_owned()));
        }
        Ok(())
    }
}
