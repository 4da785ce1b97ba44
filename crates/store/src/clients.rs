use serde::{Deserialize, Serialize};

use crate::error::is_unique_violation;
use crate::{Error, Result, Store, now_ms, validate_client_name};

/// An MCP client allowed to connect to the gateway.
///
/// The hash of its token stays in the database; it is only used to look clients up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ClientRecord {
    /// Database id; never reused after removal.
    pub id: i64,
    /// Unique name; see [`validate_client_name`].
    pub name: String,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
    /// Last time the client used the gateway, unix milliseconds.
    pub last_seen_at: Option<i64>,
    /// The profile the client uses (None: every server, global permissions).
    #[sqlx(default)]
    pub profile: Option<String>,
}

impl Store {
    /// Registers a client identified by the hash of its token; fails if the name is invalid or taken.
    pub async fn add_client(&self, name: &str, token_hash: &str) -> Result<ClientRecord> {
        validate_client_name(name)?;
        let created_at = now_ms();
        let id: i64 = on_pool!(self, pool => sqlx::query_scalar(
                "INSERT INTO clients (name, token_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
            )
                .bind(name)
                .bind(token_hash)
                .bind(created_at)
                .fetch_one(pool)
                .await)
                .map_err(|err| {
                    if is_unique_violation(&err, "clients.name") {
                        Error::ClientExists(name.to_owned())
                    } else {
                        err.into()
                    }
                })?;
        Ok(ClientRecord {
            id,
            name: name.to_owned(),
            created_at,
            last_seen_at: None,
            profile: None,
        })
    }

    /// All clients, ordered by name.
    pub async fn list_clients(&self) -> Result<Vec<ClientRecord>> {
        let clients = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, name, created_at, last_seen_at, profile FROM clients ORDER BY name",
        )
        .fetch_all(pool)
        .await)?;
        Ok(clients)
    }

    /// Removes an existing client.
    ///
    /// Everything granted to it goes with it: its permissions, and its calls
    /// still waiting for approval end as expired. A new client of the same
    /// name starts clean.
    pub async fn remove_client(&self, name: &str) -> Result<()> {
        let removed = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let removed = sqlx::query("DELETE FROM clients WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if removed > 0 {
                sqlx::query("DELETE FROM permissions WHERE scope = $1")
                    .bind(format!("client:{name}"))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE approvals SET status = 'expired', answered_at = $1 WHERE client = $2 AND status = 'pending'",
                )
                .bind(now_ms())
                .bind(name)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            removed
        });
        if removed == 0 {
            return Err(Error::NoSuchClient(name.to_owned()));
        }
        Ok(())
    }

    /// The client whose token hashes to `token_hash`, if any.
    pub async fn client_by_token_hash(&self, token_hash: &str) -> Result<Option<ClientRecord>> {
        let client = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, name, created_at, last_seen_at, profile FROM clients WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(pool)
        .await)?;
        Ok(client)
    }

    /// Every client with its token hash, for the gateway's in-memory lookup.
    pub async fn client_token_hashes(&self) -> Result<Vec<(String, ClientRecord)>> {
        type Row = (String, i64, String, i64, Option<i64>, Option<String>);
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT token_hash, id, name, created_at, last_seen_at, profile FROM clients",
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(hash, id, name, created_at, last_seen_at, profile)| {
                (
                    hash,
                    ClientRecord {
                        id,
                        name,
                        created_at,
                        last_seen_at,
                        profile,
                    },
                )
            })
            .collect())
    }

    /// Records that client `id` used the gateway now; does nothing if it was removed meanwhile.
    pub async fn touch_client(&self, id: i64) -> Result<()> {
        on_pool!(self, pool => sqlx::query("UPDATE clients SET last_seen_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}

/// How `/mcp` offers a client its tools, as stored. None: the default for
/// the client's kind.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClientContext {
    /// `passthrough`, `search` or `auto`.
    pub tool_mode: Option<String>,
    /// Tools listed at most.
    pub budget_tools: Option<u32>,
    /// Tokens of tool definitions at most.
    pub budget_tokens: Option<u32>,
    /// Tools listed whatever the mode, as `/mcp` names them (`SERVER__TOOL`).
    pub always_listed: Vec<String>,
}

/// A change to a client's [`ClientContext`]; None leaves a part as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContextUpdate {
    /// New mode (Some(None): back to the default).
    pub tool_mode: Option<Option<String>>,
    /// New tool budget (Some(None): back to the default).
    pub budget_tools: Option<Option<u32>>,
    /// New token budget (Some(None): back to the default).
    pub budget_tokens: Option<Option<u32>>,
    /// Tools to add to the always-listed ones.
    pub list: Vec<String>,
    /// Tools to take off them.
    pub unlist: Vec<String>,
}

type ContextRow = (
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

fn context_of(row: ContextRow) -> (String, ClientContext) {
    let (name, tool_mode, tools, tokens, listed) = row;
    let clamp = |n: Option<i64>| n.and_then(|n| u32::try_from(n).ok());
    (
        name,
        ClientContext {
            tool_mode,
            budget_tools: clamp(tools),
            budget_tokens: clamp(tokens),
            always_listed: listed
                .and_then(|l| serde_json::from_str(&l).ok())
                .unwrap_or_default(),
        },
    )
}

impl Store {
    /// Every client's context settings, by name.
    pub async fn client_contexts(&self) -> Result<Vec<(String, ClientContext)>> {
        let rows: Vec<ContextRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT name, tool_mode, budget_tools, budget_tokens, always_listed FROM clients ORDER BY name",
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows.into_iter().map(context_of).collect())
    }

    /// One client's context settings.
    pub async fn client_context(&self, name: &str) -> Result<ClientContext> {
        let row: Option<ContextRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT name, tool_mode, budget_tools, budget_tokens, always_listed FROM clients WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(pool)
        .await)?;
        row.map(|r| context_of(r).1)
            .ok_or_else(|| Error::NoSuchClient(name.to_owned()))
    }

    /// Changes a client's context settings and returns them.
    pub async fn set_client_context(
        &self,
        name: &str,
        update: ContextUpdate,
    ) -> Result<ClientContext> {
        let mut context = self.client_context(name).await?;
        if let Some(mode) = update.tool_mode {
            if let Some(m) = &mode
                && !["passthrough", "search", "auto"].contains(&m.as_str())
            {
                return Err(Error::InvalidValue(format!(
                    "unknown tool mode \"{m}\": expected passthrough, search or auto"
                )));
            }
            context.tool_mode = mode;
        }
        if let Some(tools) = update.budget_tools {
            context.budget_tools = tools;
        }
        if let Some(tokens) = update.budget_tokens {
            context.budget_tokens = tokens;
        }
        for tool in update.list {
            if !context.always_listed.contains(&tool) {
                context.always_listed.push(tool);
            }
        }
        context.always_listed.retain(|t| !update.unlist.contains(t));
        self.write_client_context(name, &context).await?;
        Ok(context)
    }

    /// Stores `context` as client `name`'s (used to keep it across a new token).
    pub async fn write_client_context(&self, name: &str, context: &ClientContext) -> Result<()> {
        let listed = (!context.always_listed.is_empty())
            .then(|| serde_json::to_string(&context.always_listed).unwrap_or_default());
        let changed = on_pool!(self, pool => sqlx::query(
            "UPDATE clients SET tool_mode = $1, budget_tools = $2, budget_tokens = $3, always_listed = $4 WHERE name = $5",
        )
        .bind(&context.tool_mode)
        .bind(context.budget_tools.map(i64::from))
        .bind(context.budget_tokens.map(i64::from))
        .bind(&listed)
        .bind(name)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        if changed == 0 {
            return Err(Error::NoSuchClient(name.to_owned()));
        }
        Ok(())
    }
}
