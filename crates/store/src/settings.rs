use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Result, Store};

impl Store {
    /// The setting stored under `key`, if any, decoded from JSON.
    pub async fn get_setting<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let value: Option<String> = on_pool!(self, pool => sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await)?;
        Ok(value.map(|v| serde_json::from_str(&v)).transpose()?)
    }

    /// Stores `value` as JSON under `key`, replacing any previous value.
    pub async fn set_setting<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let value = serde_json::to_string(value)?;
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(&value)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }
}
