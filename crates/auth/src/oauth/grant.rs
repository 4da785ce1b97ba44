//! What a sign-in leaves behind, kept in the secret store: one entry per
//! (server, issuer) with the client registration and the tokens, and one
//! small entry per server naming the issuer it signed in with.

use std::sync::{Arc, Mutex};

use rmcp::transport::auth::{
    AuthError, CredentialRefreshGuard, CredentialStore, StoredCredentials,
};
use serde::{Deserialize, Serialize};

use crate::{SecretRef, SecretStore};

/// The registration and tokens of one server at one issuer.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Grant {
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    pub redirect_uri: String,
    /// Whether the client id was given by the user (kept across sign-ins).
    #[serde(default)]
    pub preregistered: bool,
    /// When a registration's client secret expires (Unix s; 0: never).
    #[serde(default)]
    pub secret_expires_at: Option<u64>,
    #[serde(default)]
    pub credentials: Option<StoredCredentials>,
    /// The tokens are gone because the user signed out.
    #[serde(default)]
    pub signed_out: bool,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Where a server's grant entries live.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub server: String,
    /// Distinguishes data directories that use the same server name.
    pub scope: String,
}

impl Keys {
    pub(crate) fn index(&self) -> SecretRef {
        SecretRef {
            server: self.server.clone(),
            purpose: "oauth".into(),
            id: self.scope.clone(),
        }
    }

    pub(crate) fn grant(&self, issuer: &str) -> SecretRef {
        SecretRef {
            server: self.server.clone(),
            purpose: format!("oauth:{issuer}"),
            id: self.scope.clone(),
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::SecretError> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// The issuer `keys.server` last signed in with, if any.
pub(crate) async fn read_index(
    secrets: &SecretStore,
    keys: &Keys,
) -> Result<Option<String>, String> {
    let (s, k) = (secrets.clone(), keys.index());
    blocking(move || s.get(&k).map(|v| v.map(|v| v.expose().clone()))).await
}

pub(crate) async fn read_grant(
    secrets: &SecretStore,
    keys: &Keys,
    issuer: &str,
) -> Result<Option<Grant>, String> {
    let (s, k) = (secrets.clone(), keys.grant(issuer));
    let text = blocking(move || s.get(&k).map(|v| v.map(|v| v.expose().clone()))).await?;
    match text {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("stored sign-in of {} is unreadable: {e}", keys.server)),
    }
}

pub(crate) async fn write_grant(
    secrets: &SecretStore,
    keys: &Keys,
    grant: &Grant,
) -> Result<(), String> {
    let text = serde_json::to_string(grant).map_err(|e| e.to_string())?;
    let (s, k, i, issuer) = (
        secrets.clone(),
        keys.grant(&grant.issuer),
        keys.index(),
        grant.issuer.clone(),
    );
    blocking(move || {
        s.set(&k, &text)?;
        s.set(&i, &issuer)
    })
    .await
}

/// Removes the server's entries for `issuer` (tokens and registration).
pub(crate) async fn forget_at(
    secrets: &SecretStore,
    keys: &Keys,
    issuer: &str,
) -> Result<bool, String> {
    let (s, k, i) = (secrets.clone(), keys.grant(issuer), keys.index());
    blocking(move || {
        let had = s.delete(&k)?;
        s.delete(&i)?;
        Ok(had)
    })
    .await
}

/// The stored grant of the server, whatever its issuer.
pub(crate) async fn read_current(
    secrets: &SecretStore,
    keys: &Keys,
) -> Result<Option<Grant>, String> {
    match read_index(secrets, keys).await? {
        Some(issuer) => read_grant(secrets, keys, &issuer).await,
        None => Ok(None),
    }
}

/// Drops the tokens of the server's grant and keeps its registration for
/// the next sign-in; whether there were tokens.
pub(crate) async fn drop_tokens(secrets: &SecretStore, keys: &Keys) -> Result<bool, String> {
    let Some(mut grant) = read_current(secrets, keys).await? else {
        return Ok(false);
    };
    let had = grant.credentials.take().is_some();
    grant.signed_out = true;
    write_grant(secrets, keys, &grant).await?;
    Ok(had)
}

/// rmcp's credential store over one grant entry. Reads come from memory; every
/// change is written through to the secret store before it counts.
pub(crate) struct GrantStore {
    secrets: SecretStore,
    keys: Keys,
    grant: Arc<Mutex<Grant>>,
    refresh: Arc<tokio::sync::Mutex<()>>,
    on_rejected: Arc<dyn Fn(&str) + Send + Sync>,
}

impl GrantStore {
    pub(crate) fn new(
        secrets: SecretStore,
        keys: Keys,
        grant: Arc<Mutex<Grant>>,
        on_rejected: Arc<dyn Fn(&str) + Send + Sync>,
    ) -> Self {
        Self {
            secrets,
            keys,
            grant,
            refresh: Arc::new(tokio::sync::Mutex::new(())),
            on_rejected,
        }
    }

    fn current(&self) -> Grant {
        self.grant.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn persist(&self, grant: Grant) -> Result<(), AuthError> {
        write_grant(&self.secrets, &self.keys, &grant)
            .await
            .map_err(AuthError::CredentialStoreError)?;
        *self.grant.lock().unwrap_or_else(|e| e.into_inner()) = grant;
        Ok(())
    }
}

#[async_trait::async_trait]
impl CredentialStore for GrantStore {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        Ok(self.current().credentials)
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        let mut grant = self.current();
        if grant.client_id != credentials.client_id {
            grant.client_secret = None;
        }
        grant.client_id = credentials.client_id.clone();
        grant.credentials = Some(credentials);
        grant.signed_out = false;
        self.persist(grant).await
    }

    async fn clear(&self) -> Result<(), AuthError> {
        let mut grant = self.current();
        grant.credentials = None;
        self.persist(grant).await
    }

    async fn on_refresh_token_rejected(
        &self,
        _credentials: &StoredCredentials,
    ) -> Result<(), AuthError> {
        (self.on_rejected)("the authorization server rejected the refresh token");
        let mut grant = self.current();
        grant.credentials = None;
        self.persist(grant).await
    }

    async fn acquire_refresh_guard(&self) -> Result<Option<CredentialRefreshGuard>, AuthError> {
        let guard = self.refresh.clone().lock_owned().await;
        Ok(Some(CredentialRefreshGuard::new(guard)))
    }
}
