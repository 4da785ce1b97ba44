//! Policy data: profiles, permissions, pinned tool definitions, approvals.

use serde::{Deserialize, Serialize};

use crate::{Error, Result, Store, now_ms};

/// What may happen when a tool is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Runs.
    Allow,
    /// Waits for the user's answer.
    Ask,
    /// Refused.
    Deny,
}

impl Permission {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Allow => "allow",
            Permission::Ask => "ask",
            Permission::Deny => "deny",
        }
    }

    /// Parses `allow`, `ask` or `deny`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "allow" => Ok(Permission::Allow),
            "ask" => Ok(Permission::Ask),
            "deny" => Ok(Permission::Deny),
            other => Err(Error::InvalidName(format!(
                "unknown permission {other:?}: use allow, ask or deny"
            ))),
        }
    }
}

/// Who a permission applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Scope {
    /// Every client.
    Everyone,
    /// Clients using this profile.
    Profile(String),
    /// One client.
    Client(String),
}

impl Scope {
    fn to_text(&self) -> String {
        match self {
            Scope::Everyone => String::new(),
            Scope::Profile(p) => format!("profile:{p}"),
            Scope::Client(c) => format!("client:{c}"),
        }
    }

    fn from_text(text: &str) -> Scope {
        if let Some(p) = text.strip_prefix("profile:") {
            Scope::Profile(p.to_owned())
        } else if let Some(c) = text.strip_prefix("client:") {
            Scope::Client(c.to_owned())
        } else {
            Scope::Everyone
        }
    }
}

/// One permission entry. `server` or `tool` "*" means every one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionEntry {
    /// Who.
    pub scope: Scope,
    /// Which server ("*": all).
    pub server: String,
    /// Which tool ("*": all of the server's).
    pub tool: String,
    /// What may happen.
    pub permission: Permission,
}

/// A named set of servers a client may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Name.
    pub name: String,
    /// The servers (None: every server).
    pub servers: Option<Vec<String>>,
}

/// The approved definition of a tool, and a different one waiting for review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolPin {
    /// Server.
    pub server: String,
    /// Tool.
    pub tool: String,
    /// Approved definition (JSON).
    pub definition: serde_json::Value,
    /// Its hash.
    pub hash: String,
    /// When it was approved, unix ms.
    pub approved_at: i64,
    /// A changed definition the server now serves, not yet approved.
    pub pending_definition: Option<serde_json::Value>,
    /// Its hash.
    pub pending_hash: Option<String>,
    /// Since when, unix ms.
    pub pending_since: Option<i64>,
}

/// A call waiting for (or given) the user's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ApprovalRecord {
    /// Id.
    pub id: i64,
    /// Client that made the call.
    pub client: String,
    /// Its MCP session.
    pub session: Option<String>,
    /// Server.
    pub server: String,
    /// Tool.
    pub tool: String,
    /// Arguments (redacted JSON text).
    pub arguments: Option<String>,
    /// Hash binding the answer to the call.
    pub call_hash: String,
    /// `pending`, `allowed`, `denied` or `expired`.
    pub status: String,
    /// For `allowed`: `once`, `session` or `always`.
    pub scope: Option<String>,
    /// When asked, unix ms.
    pub created_at: i64,
    /// When answered, unix ms.
    pub answered_at: Option<i64>,
    /// The rule that put it to the user.
    pub reason: Option<String>,
}

/// A new approval request.
#[derive(Debug, Clone)]
pub struct NewApproval<'a> {
    /// Client.
    pub client: &'a str,
    /// Session.
    pub session: Option<&'a str>,
    /// Server.
    pub server: &'a str,
    /// Tool.
    pub tool: &'a str,
    /// Redacted arguments.
    pub arguments: Option<&'a serde_json::Value>,
    /// Hash of the exact call.
    pub call_hash: &'a str,
    /// The rule that puts it to the user.
    pub reason: &'a str,
}

impl Store {
    /// Sets (or replaces) a permission.
    pub async fn set_permission(&self, entry: &PermissionEntry) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO permissions (scope, server, tool, permission, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (scope, server, tool) DO UPDATE SET permission = excluded.permission, \
             updated_at = excluded.updated_at",
        )
        .bind(entry.scope.to_text())
        .bind(&entry.server)
        .bind(&entry.tool)
        .bind(entry.permission.as_str())
        .bind(now_ms())
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Removes a permission (the next less specific one applies again).
    pub async fn clear_permission(&self, scope: &Scope, server: &str, tool: &str) -> Result<bool> {
        let removed = on_pool!(self, pool => sqlx::query("DELETE FROM permissions WHERE scope = $1 AND server = $2 AND tool = $3")
                .bind(scope.to_text())
                .bind(server)
                .bind(tool)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))?;
        Ok(removed > 0)
    }

    /// Every permission entry.
    pub async fn list_permissions(&self) -> Result<Vec<PermissionEntry>> {
        let rows: Vec<(String, String, String, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT scope, server, tool, permission FROM permissions ORDER BY scope, server, tool",
        )
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(|(scope, server, tool, permission)| {
                Ok(PermissionEntry {
                    scope: Scope::from_text(&scope),
                    server,
                    tool,
                    permission: Permission::parse(&permission)?,
                })
            })
            .collect()
    }

    /// Adds a profile; `servers` None means every server.
    pub async fn add_profile(&self, name: &str, servers: Option<&[String]>) -> Result<()> {
        crate::validate_client_name(name)?;
        let servers = servers.map(serde_json::to_string).transpose()?;
        on_pool!(self, pool => sqlx::query("INSERT INTO profiles (name, servers, created_at) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(&servers)
            .bind(now_ms())
            .execute(pool)
            .await
            .map(|_| ()))
            .map_err(|err| {
                if crate::error::is_unique_violation(&err, "profiles.name") {
                    Error::InvalidName(format!("profile \"{name}\" already exists"))
                } else {
                    err.into()
                }
            })?;
        Ok(())
    }

    /// Every profile.
    pub async fn list_profiles(&self) -> Result<Vec<Profile>> {
        let rows: Vec<(String, Option<String>)> = on_pool!(self, pool => sqlx::query_as("SELECT name, servers FROM profiles ORDER BY name")
                .fetch_all(pool)
                .await)?;
        rows.into_iter()
            .map(|(name, servers)| {
                Ok(Profile {
                    name,
                    servers: servers.map(|s| serde_json::from_str(&s)).transpose()?,
                })
            })
            .collect()
    }

    /// Removes a profile; its clients fall back to no profile.
    pub async fn remove_profile(&self, name: &str) -> Result<()> {
        let removed = on_pool!(self, pool => sqlx::query("DELETE FROM profiles WHERE name = $1")
            .bind(name)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if removed == 0 {
            return Err(Error::InvalidName(format!("no profile named \"{name}\"")));
        }
        on_pool!(self, pool => sqlx::query("DELETE FROM permissions WHERE scope = $1")
            .bind(format!("profile:{name}"))
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Binds a client to a profile (None: to none).
    pub async fn assign_profile(&self, client: &str, profile: Option<&str>) -> Result<()> {
        if let Some(profile) = profile
            && !self
                .list_profiles()
                .await?
                .iter()
                .any(|p| p.name == profile)
        {
            return Err(Error::InvalidName(format!(
                "no profile named \"{profile}\""
            )));
        }
        let changed = on_pool!(self, pool => sqlx::query("UPDATE clients SET profile = $1 WHERE name = $2")
            .bind(profile)
            .bind(client)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if changed == 0 {
            return Err(Error::NoSuchClient(client.to_owned()));
        }
        Ok(())
    }

    /// Every pinned tool definition.
    pub async fn list_pins(&self) -> Result<Vec<ToolPin>> {
        type Row = (
            String,
            String,
            String,
            String,
            i64,
            Option<String>,
            Option<String>,
            Option<i64>,
        );
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT server, tool, definition, hash, approved_at, pending_definition, pending_hash, \
             pending_since FROM tool_pins ORDER BY server, tool",
        )
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(
                |(
                    server,
                    tool,
                    definition,
                    hash,
                    approved_at,
                    pending,
                    pending_hash,
                    pending_since,
                )| {
                    Ok(ToolPin {
                        server,
                        tool,
                        definition: serde_json::from_str(&definition)?,
                        hash,
                        approved_at,
                        pending_definition: pending
                            .map(|p| serde_json::from_str(&p))
                            .transpose()?,
                        pending_hash,
                        pending_since,
                    })
                },
            )
            .collect()
    }

    /// Pins tools seen for the first time, as (name, definition, hash), in one
    /// transaction (tools already pinned are left as they are).
    pub async fn pin_tools(
        &self,
        server: &str,
        tools: &[(String, serde_json::Value, String)],
    ) -> Result<()> {
        let now = now_ms();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for (tool, definition, hash) in tools {
                sqlx::query(
                    "INSERT INTO tool_pins (server, tool, definition, hash, approved_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (server, tool) DO NOTHING",
                )
                .bind(server)
                .bind(tool)
                .bind(definition.to_string())
                .bind(hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records a changed definition as pending review (or clears it when the
    /// server went back to the approved one: `definition` None).
    pub async fn set_pending_tool(
        &self,
        server: &str,
        tool: &str,
        pending: Option<(&serde_json::Value, &str)>,
    ) -> Result<()> {
        let (definition, hash) = match pending {
            Some((d, h)) => (Some(d.to_string()), Some(h.to_owned())),
            None => (None, None),
        };
        on_pool!(self, pool => sqlx::query(
            "UPDATE tool_pins SET pending_definition = $1, pending_hash = $2, \
             pending_since = CASE WHEN $2 IS NULL THEN NULL ELSE COALESCE(pending_since, $3) END \
             WHERE server = $4 AND tool = $5",
        )
        .bind(&definition)
        .bind(&hash)
        .bind(now_ms())
        .bind(server)
        .bind(tool)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Approves a tool's pending definition (it becomes the pinned one).
    pub async fn approve_pending_tool(&self, server: &str, tool: &str) -> Result<bool> {
        let changed = on_pool!(self, pool => sqlx::query(
            "UPDATE tool_pins SET definition = pending_definition, hash = pending_hash, approved_at = $1, \
             pending_definition = NULL, pending_hash = NULL, pending_since = NULL \
             WHERE server = $2 AND tool = $3 AND pending_hash IS NOT NULL",
        )
        .bind(now_ms())
        .bind(server)
        .bind(tool)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(changed > 0)
    }

    /// Records a call that waits for the user; returns its id.
    pub async fn add_approval(&self, new: &NewApproval<'_>) -> Result<i64> {
        let arguments = new.arguments.map(|a| a.to_string());
        let id = on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO approvals (client, session, server, tool, arguments, call_hash, status, created_at, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8) RETURNING id",
        )
        .bind(new.client)
        .bind(new.session)
        .bind(new.server)
        .bind(new.tool)
        .bind(&arguments)
        .bind(new.call_hash)
        .bind(now_ms())
        .bind(new.reason)
        .fetch_one(pool)
        .await)?;
        Ok(id)
    }

    /// Approvals, newest first; `pending_only` for the queue.
    pub async fn list_approvals(
        &self,
        pending_only: bool,
        limit: i64,
    ) -> Result<Vec<ApprovalRecord>> {
        let sql = if pending_only {
            "SELECT * FROM approvals WHERE status = 'pending' ORDER BY id DESC LIMIT $1"
        } else {
            "SELECT * FROM approvals ORDER BY id DESC LIMIT $1"
        };
        Ok(on_pool!(self, pool => sqlx::query_as(sql)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }

    /// One approval.
    pub async fn get_approval(&self, id: i64) -> Result<Option<ApprovalRecord>> {
        Ok(
            on_pool!(self, pool => sqlx::query_as("SELECT * FROM approvals WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Answers a pending approval. Returns false when it was not pending
    /// (already answered or expired).
    pub async fn answer_approval(
        &self,
        id: i64,
        status: &str,
        scope: Option<&str>,
    ) -> Result<bool> {
        let changed = on_pool!(self, pool => sqlx::query(
            "UPDATE approvals SET status = $1, scope = $2, answered_at = $3 WHERE id = $4 AND status = 'pending'",
        )
        .bind(status)
        .bind(scope)
        .bind(now_ms())
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(changed > 0)
    }
}
