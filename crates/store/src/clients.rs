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
        let result =
            sqlx::query("INSERT INTO clients (name, token_hash, created_at) VALUES (?, ?, ?)")
                .bind(name)
                .bind(token_hash)
                .bind(created_at)
                .execute(self.pool())
                .await
                .map_err(|err| {
                    if is_unique_violation(&err, "clients.name") {
                        Error::ClientExists(name.to_owned())
                    } else {
                        err.into()
                    }
                })?;
        Ok(ClientRecord {
            id: result.last_insert_rowid(),
            name: name.to_owned(),
            created_at,
            last_seen_at: None,
            profile: None,
        })
    }

    /// All clients, ordered by name.
    pub async fn list_clients(&self) -> Result<Vec<ClientRecord>> {
        let clients = sqlx::query_as(
            "SELECT id, name, created_at, last_seen_at, profile FROM clients ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(clients)
    }

    /// Removes an existing client.
    pub async fn remove_client(&self, name: &str) -> Result<()> {
        let result = sqlx::query("DELETE FROM clients WHERE name = ?")
            .bind(name)
            .execute(self.pool())
            .await?;
        if result.rows_affected() == 0 {
            return Err(Error::NoSuchClient(name.to_owned()));
        }
        Ok(())
    }

    /// The client whose token hashes to `token_hash`, if any.
    pub async fn client_by_token_hash(&self, token_hash: &str) -> Result<Option<ClientRecord>> {
        let client = sqlx::query_as(
            "SELECT id, name, created_at, last_seen_at, profile FROM clients WHERE token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(client)
    }

    /// Every client with its token hash, for the gateway's in-memory lookup.
    pub async fn client_token_hashes(&self) -> Result<Vec<(String, ClientRecord)>> {
        type Row = (String, i64, String, i64, Option<i64>, Option<String>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT token_hash, id, name, created_at, last_seen_at, profile FROM clients",
        )
        .fetch_all(self.pool())
        .await?;
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
        sqlx::query("UPDATE clients SET last_seen_at = ? WHERE id = ?")
            .bind(now_ms())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
