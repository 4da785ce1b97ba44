//! OAuth 2.1 sign-in to remote MCP servers, for every host (no Tauri here).
//!
//! Built on rmcp's `auth` module, which does the protocol work: RFC 9728
//! protected resource metadata (from the 401 challenge or well-known paths),
//! RFC 8414 / OpenID discovery, client registration (pre-registered, then a
//! Client ID Metadata Document, then RFC 7591 dynamic registration), PKCE
//! S256, RFC 8707 `resource` on every token request, RFC 9207 `iss` checks,
//! the token endpoint's auth method from the server's metadata, and scope
//! selection. This module adds what a gateway needs around it:
//!
//! - one sign-in per server, shared by every client of the gateway;
//! - tokens, refresh tokens, client secrets and registrations in the
//!   [`SecretStore`] (one entry per server and issuer), never in SQLite;
//! - the sign-in flow as an API: [`OAuth::begin_sign_in`] returns the
//!   authorization URL and a flow id, a loopback listener (random port, bound
//!   before registration) takes the redirect, or the host hands the redirect
//!   URL to [`OAuth::complete_sign_in`]; the state is checked, works once and
//!   expires;
//! - a registration kept and reused across sign-ins (with the redirect port
//!   it registered) until the authorization server refuses it;
//! - sign-out that revokes the tokens at the authorization server (RFC 7009)
//!   before forgetting them ([`SignOut`]);
//! - tokens refreshed ahead of expiry while a server is connected, with the
//!   deadline re-checked after sleep and clock jumps;
//! - status per server ([`AuthStatus`]) and a debug record of each attempt
//!   ([`FlowAttempt`]), with secrets left out, kept across restarts;
//! - network rules for discovery: rmcp's host checks plus resolved-address
//!   filtering (a public server cannot send us to loopback or link-local).

mod flow;
mod grant;
mod net;
mod record;
mod redirect;
mod refresh;
mod revoke;
mod server;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use record::{FlowAttempt, FlowStep, MAX_RECORD_BYTES};
pub use revoke::{Revocation, SignOut};
pub use server::ServerAuth;

use crate::{SecretStore, Sensitive};
use flow::Flow;
use net::OAuthNet;
use server::{expires_at, keys};

/// How long a started sign-in waits for its redirect.
pub const FLOW_TTL: Duration = Duration::from_secs(600);
/// Environment variable naming the HTTPS URL of Switchboard's Client ID
/// Metadata Document, used where an authorization server supports them.
/// The `oauth.client_metadata_url` setting wins over it.
pub const CLIENT_METADATA_URL_ENV: &str = "SWITCHBOARD_OAUTH_CLIENT_METADATA_URL";
/// The store key of [`OAuthSettings`].
pub const OAUTH_SETTINGS_KEY: &str = "oauth";
/// The file of the data directory that keeps the debug record.
pub const RECORD_FILE: &str = "oauth-attempts.json";

/// Why a sign-in step failed.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The server is not a remote (streamable HTTP) server.
    #[error("server \"{0}\" is not a remote HTTP server")]
    NotRemote(String),
    /// No sign-in with this id is waiting (finished, expired or never begun).
    #[error("no sign-in {0} is waiting (it finished, expired, or was never started)")]
    NoSuchFlow(String),
    /// The redirect does not belong to the flow.
    #[error("the redirect's state does not match the sign-in")]
    StateMismatch,
    /// The authorization server or the user refused.
    #[error("sign-in to \"{server}\" was refused: {reason}")]
    Denied {
        /// The server.
        server: String,
        /// The `error` (and description) of the redirect.
        reason: String,
    },
    /// A protocol step failed (discovery, registration, token exchange).
    #[error("sign-in to \"{server}\" failed: {message}")]
    Protocol {
        /// The server.
        server: String,
        /// What failed.
        message: String,
    },
    /// The secret store could not be used.
    #[error("{0}")]
    Store(String),
    /// The loopback listener for the redirect could not be bound.
    #[error("cannot listen for the sign-in redirect: {0}")]
    Bind(std::io::Error),
    /// A Client ID Metadata Document URL that cannot be one.
    #[error("{0:?} cannot be a client id metadata document: it must be an https URL with a path")]
    InvalidMetadataUrl(String),
}

/// Where a server stands with OAuth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInState {
    /// No sign-in stored and none asked for (the server may not use OAuth).
    None,
    /// Tokens are stored and in use.
    SignedIn,
    /// The server wants a sign-in (first use, revoked, or more scope).
    NeedsSignIn,
    /// A sign-in was started and waits for its redirect.
    SigningIn,
}

/// What hosts show about a server's sign-in. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuthStatus {
    /// The state.
    pub state: SignInState,
    /// The authorization server.
    pub issuer: Option<String>,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// When the access token expires (Unix ms), if the server said.
    pub expires_at_ms: Option<u64>,
    /// Why a sign-in is needed, or why the last one failed.
    pub reason: Option<String>,
    /// The sign-in waiting for its redirect.
    pub flow_id: Option<String>,
    /// The user signed out (as opposed to a sign-in that was lost).
    pub signed_out: bool,
}

impl AuthStatus {
    fn none() -> Self {
        Self {
            state: SignInState::None,
            issuer: None,
            scopes: Vec::new(),
            expires_at_ms: None,
            reason: None,
            flow_id: None,
            signed_out: false,
        }
    }
}

/// A started sign-in.
#[derive(Debug, Clone, Serialize)]
pub struct SignInStart {
    /// Identifies the flow for [`OAuth::complete_sign_in`].
    pub flow_id: String,
    /// Open this in a browser (or the host's own window).
    pub authorization_url: String,
    /// Where the authorization server will redirect (a loopback listener).
    pub redirect_uri: String,
}

/// Choices for one sign-in.
#[derive(Debug, Clone, Default)]
pub struct SignInOptions {
    /// A client id registered out of band (skips registration).
    pub client_id: Option<String>,
    /// Its secret, for confidential clients.
    pub client_secret: Option<Sensitive<String>>,
    /// Scopes to ask for (default: chosen from the server's metadata).
    pub scopes: Vec<String>,
    /// Register anew instead of reusing the registration of an earlier
    /// sign-in.
    pub register_anew: bool,
    /// The Client ID Metadata Document to use (default: the configured one).
    pub client_metadata_url: Option<String>,
}

/// OAuth settings kept in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthSettings {
    /// HTTPS URL of Switchboard's Client ID Metadata Document, used with
    /// authorization servers that accept them (default: the variable
    /// [`CLIENT_METADATA_URL_ENV`], else dynamic registration).
    #[serde(default)]
    pub client_metadata_url: Option<String>,
}

impl OAuthSettings {
    /// The metadata document URL in effect: the setting, else the variable.
    pub fn metadata_url(&self) -> Option<String> {
        self.client_metadata_url.clone().or_else(|| {
            std::env::var(CLIENT_METADATA_URL_ENV)
                .ok()
                .filter(|s| !s.is_empty())
        })
    }
}

impl OAuthSettings {
    /// The setting's value as a user gives it: a URL (checked with
    /// [`validate_metadata_url`]), or empty / `off` / `none` for none.
    pub fn parse_metadata_url(value: &str) -> Result<Option<String>, OAuthError> {
        match value.trim() {
            "" | "off" | "none" => Ok(None),
            url => validate_metadata_url(url).map(|()| Some(url.to_owned())),
        }
    }
}

/// Checks that `url` can name a Client ID Metadata Document: https, a host,
/// and a path other than `/`.
pub fn validate_metadata_url(url: &str) -> Result<(), OAuthError> {
    let ok = url::Url::parse(url).is_ok_and(|u| {
        u.scheme() == "https" && u.host_str().is_some() && u.path() != "/" && u.fragment().is_none()
    });
    if ok {
        Ok(())
    } else {
        Err(OAuthError::InvalidMetadataUrl(url.to_owned()))
    }
}

/// Settings of the OAuth client.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// `client_name` for dynamic registration.
    pub client_name: String,
    /// HTTPS URL of a Client ID Metadata Document describing Switchboard.
    pub client_metadata_url: Option<String>,
    /// Distinguishes keyring entries of different data directories.
    pub keyring_scope: String,
    /// Where the debug record of attempts is kept (None: in memory only).
    pub record_file: Option<PathBuf>,
}

impl OAuthConfig {
    /// The configuration for a data directory (the Client ID Metadata
    /// Document URL comes from [`CLIENT_METADATA_URL_ENV`]).
    pub fn for_data_dir(data_dir: &std::path::Path) -> Self {
        use sha2::Digest as _;
        let canonical = data_dir
            .canonicalize()
            .unwrap_or_else(|_| data_dir.to_owned());
        let digest = sha2::Sha256::digest(canonical.to_string_lossy().as_bytes());
        Self {
            client_name: "Switchboard".into(),
            client_metadata_url: std::env::var(CLIENT_METADATA_URL_ENV)
                .ok()
                .filter(|s| !s.is_empty()),
            keyring_scope: hex::encode(&digest[..6]),
            record_file: Some(data_dir.join(RECORD_FILE)),
        }
    }
}

struct Inner {
    secrets: SecretStore,
    config: OAuthConfig,
    servers: Mutex<HashMap<String, Arc<ServerAuth>>>,
    flows: Mutex<HashMap<String, Arc<Flow>>>,
    recorder: Option<Arc<record::Recorder>>,
}

impl Inner {
    fn existing(&self, name: &str) -> Option<Arc<ServerAuth>> {
        self.servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }
}

/// Sign-in for every remote server of one gateway; cheap to clone.
#[derive(Clone)]
pub struct OAuth {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OAuth")
    }
}

fn issuer_of(metadata: &rmcp::transport::auth::AuthorizationMetadata) -> String {
    metadata.issuer.clone().unwrap_or_else(|| {
        url::Url::parse(&metadata.authorization_endpoint)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| metadata.authorization_endpoint.clone())
    })
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl OAuth {
    /// OAuth over `secrets`.
    pub fn new(secrets: SecretStore, config: OAuthConfig) -> Self {
        let recorder = config.record_file.clone().map(record::Recorder::open);
        Self {
            inner: Arc::new(Inner {
                secrets,
                config,
                servers: Mutex::new(HashMap::new()),
                flows: Mutex::new(HashMap::new()),
                recorder,
            }),
        }
    }

    /// Writes the debug record now (before a short-lived process exits).
    pub fn flush(&self) {
        if let Some(recorder) = &self.inner.recorder {
            recorder.save();
        }
    }

    /// The state of `name` (reached at `url`), created on first use.
    pub fn server(&self, name: &str, url: &str) -> Arc<ServerAuth> {
        let mut servers = self.inner.servers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = servers.get(name) {
            s.set_url(url);
            return s.clone();
        }
        let (status, _) = watch::channel(AuthStatus::none());
        let (generation, _) = watch::channel(0);
        let server = Arc::new(ServerAuth {
            name: name.to_owned(),
            url: RwLock::new(url.to_owned()),
            oauth: Arc::downgrade(&self.inner),
            status,
            session: RwLock::new(None),
            challenge: Mutex::new(None),
            wanted_scope: Mutex::new(None),
            history: record::History::restored(name, self.inner.recorder.clone()),
            generation,
            loaded: tokio::sync::Mutex::new(false),
        });
        servers.insert(name.to_owned(), server.clone());
        server
    }

    /// The state of `name` if it was ever used.
    pub fn existing(&self, name: &str) -> Option<Arc<ServerAuth>> {
        self.inner.existing(name)
    }

    /// The status of `name`; reads the secret store when the server was not
    /// used yet in this process.
    pub async fn status(&self, name: &str) -> Result<AuthStatus, OAuthError> {
        if let Some(server) = self.existing(name) {
            let status = server.status();
            // Busy loading counts as loaded: its status is about to say.
            let loaded = server.loaded.try_lock().map(|g| *g).unwrap_or(true);
            if status.state != SignInState::None || loaded {
                return Ok(status);
            }
        }
        let keys = keys(&self.inner, name);
        let issuer = match grant::read_index(&self.inner.secrets, &keys).await {
            Ok(issuer) => issuer,
            // A keyring that cannot be read holds no usable sign-in: the
            // status says why instead of failing (the server may not need
            // OAuth at all).
            Err(e) => {
                return Ok(AuthStatus {
                    reason: Some(e),
                    ..AuthStatus::none()
                });
            }
        };
        let Some(issuer) = issuer else {
            return Ok(AuthStatus::none());
        };
        let grant = grant::read_grant(&self.inner.secrets, &keys, &issuer)
            .await
            .map_err(OAuthError::Store)?;
        let mut status = AuthStatus::none();
        status.issuer = Some(issuer);
        if let Some(grant) = grant {
            (status.expires_at_ms, status.scopes) = expires_at(&grant);
            status.state = if grant.credentials.is_some() {
                SignInState::SignedIn
            } else {
                SignInState::NeedsSignIn
            };
            status.signed_out = grant.signed_out;
        }
        Ok(status)
    }

    /// Signs out of `name` (reached at `url`): revokes its tokens at the
    /// authorization server where it offers revocation (RFC 7009), then
    /// forgets them. The client registration is kept for the next sign-in.
    pub async fn sign_out(&self, name: &str, url: &str) -> Result<SignOut, OAuthError> {
        let server = self.server(name, url);
        let journal = server.history.begin("sign-out");
        // The stored sign-in, with the authorization server's metadata.
        let loaded = server.ensure_loaded().await;
        let keys = keys(&self.inner, name);
        let revocation = match (server.session(), loaded) {
            (Some(session), _) => {
                let grant = session
                    .grant
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                match url::Url::parse(url)
                    .map_err(|e| e.to_string())
                    .and_then(|u| OAuthNet::new(&u, journal.clone()))
                {
                    Ok(net) => revoke::revoke(&net, &session.metadata, &grant).await,
                    Err(e) => Revocation::Failed(e),
                }
            }
            (None, Err(e)) => Revocation::Failed(e),
            (None, Ok(())) => Revocation::NothingToRevoke,
        };
        let had = grant::drop_tokens(&self.inner.secrets, &keys)
            .await
            .map_err(OAuthError::Store)?;
        let had_sign_in = had || server.session().is_some();
        server.set_session(None);
        *server.loaded.lock().await = true;
        let revocation = match (had_sign_in, revocation) {
            (false, _) => Revocation::NothingToRevoke,
            (true, r) => r,
        };
        journal.finish(format!("signed out: {revocation}"));
        server.mark_signed_out();
        server.bump();
        tracing::info!(server = name, %revocation, "signed out");
        Ok(SignOut {
            had_sign_in,
            revocation,
        })
    }

    /// Signs out of `name` (as [`Self::sign_out`]) and forgets its client
    /// registration too: the server is being removed.
    pub async fn forget(&self, name: &str, url: &str) -> Result<SignOut, OAuthError> {
        let out = self.sign_out(name, url).await?;
        let keys = keys(&self.inner, name);
        let issuer = grant::read_index(&self.inner.secrets, &keys)
            .await
            .map_err(OAuthError::Store)?;
        if let Some(issuer) = issuer {
            grant::forget_at(&self.inner.secrets, &keys, &issuer)
                .await
                .map_err(OAuthError::Store)?;
        }
        self.inner
            .servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        Ok(out)
    }

    /// The debug record of `name`'s last attempts.
    pub fn attempts(&self, name: &str) -> Vec<FlowAttempt> {
        self.existing(name)
            .map(|s| s.attempts())
            .unwrap_or_else(|| {
                self.inner
                    .recorder
                    .as_ref()
                    .map(|r| r.peek(name))
                    .unwrap_or_default()
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use rmcp::transport::auth::{CredentialStore as _, StoredCredentials};

    use super::*;
    use grant::Grant;

    fn oauth() -> (OAuth, SecretStore) {
        let secrets = SecretStore::with_store(keyring_core::mock::Store::new().unwrap());
        let config = OAuthConfig {
            client_name: "Switchboard".into(),
            client_metadata_url: None,
            keyring_scope: "test".into(),
            record_file: None,
        };
        (OAuth::new(secrets.clone(), config), secrets)
    }

    fn credentials(access: &str, refresh: &str) -> StoredCredentials {
        let tokens = serde_json::from_value(serde_json::json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 60,
            "refresh_token": refresh,
        }))
        .unwrap();
        StoredCredentials::new(
            "client-1".into(),
            Some(tokens),
            vec!["mcp".into()],
            Some(1_000),
        )
    }

    fn grant(issuer: &str, creds: Option<StoredCredentials>) -> Grant {
        Grant {
            issuer: issuer.into(),
            client_id: "client-1".into(),
            client_secret: Some("s3cret".into()),
            redirect_uri: "http://127.0.0.1:1/callback".into(),
            preregistered: false,
            secret_expires_at: None,
            credentials: creds,
            signed_out: false,
        }
    }

    #[tokio::test]
    async fn status_comes_from_the_keyring_and_sign_out_forgets_the_tokens() {
        let (oauth, secrets) = oauth();
        assert_eq!(
            oauth.status("linear").await.unwrap().state,
            SignInState::None
        );
        let keys = keys(&oauth.inner, "linear");
        let stored = grant("https://as.example", Some(credentials("at-1", "rt-1")));
        grant::write_grant(&secrets, &keys, &stored).await.unwrap();
        let status = oauth.status("linear").await.unwrap();
        assert_eq!(status.state, SignInState::SignedIn);
        assert_eq!(status.issuer.as_deref(), Some("https://as.example"));
        assert_eq!(status.scopes, vec!["mcp".to_owned()]);
        // Received at second 1000, valid for 60 s.
        assert_eq!(status.expires_at_ms, Some(1_060_000));
        // One entry per (server, issuer), found through the server's index entry.
        assert_eq!(
            keys.grant("https://as.example").account(),
            "linear/oauth:https://as.example#test"
        );
        // Discovery fails (no such host), so nothing could be revoked; the
        // tokens are forgotten all the same and the registration is kept.
        let out = oauth
            .sign_out("linear", "http://127.0.0.1:9/mcp")
            .await
            .unwrap();
        assert!(out.had_sign_in);
        assert!(matches!(out.revocation, Revocation::Failed(_)), "{out:?}");
        let again = oauth
            .sign_out("linear", "http://127.0.0.1:9/mcp")
            .await
            .unwrap();
        assert!(!again.had_sign_in);
        assert_eq!(again.revocation, Revocation::NothingToRevoke);
        let kept = grant::read_grant(&secrets, &keys, "https://as.example")
            .await
            .unwrap()
            .unwrap();
        assert!(kept.credentials.is_none());
        assert_eq!(kept.client_id, "client-1");
        assert_eq!(
            oauth.status("linear").await.unwrap().state,
            SignInState::NeedsSignIn
        );
    }

    #[tokio::test]
    async fn grants_write_through_and_a_rejected_refresh_token_asks_for_sign_in() {
        let (oauth, secrets) = oauth();
        let server = oauth.server("linear", "https://mcp.example/mcp");
        let keys = keys(&oauth.inner, "linear");
        let shared = Arc::new(Mutex::new(grant("https://as.example", None)));
        let store = server.grant_store(&oauth.inner, shared.clone());
        store.save(credentials("at-2", "rt-2")).await.unwrap();
        let read = grant::read_grant(&secrets, &keys, "https://as.example")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.client_secret.as_deref(), Some("s3cret"));
        let loaded = store.load().await.unwrap().unwrap();
        assert_eq!(loaded.client_id, "client-1");
        // Debug output of a grant carries no secret.
        let shown = format!("{read:?}");
        assert!(
            !shown.contains("at-2") && !shown.contains("rt-2") && !shown.contains("s3cret"),
            "{shown}"
        );

        store.on_refresh_token_rejected(&loaded).await.unwrap();
        assert_eq!(server.status().state, SignInState::NeedsSignIn);
        assert!(server.lost_now());
        let read = grant::read_grant(&secrets, &keys, "https://as.example")
            .await
            .unwrap()
            .unwrap();
        assert!(read.credentials.is_none(), "the refused tokens are dropped");
        assert_eq!(
            oauth.status("linear").await.unwrap().state,
            SignInState::NeedsSignIn
        );
    }

    #[tokio::test]
    async fn unknown_flows_are_refused() {
        let (oauth, _) = oauth();
        let err = oauth
            .complete_sign_in("nope", "http://127.0.0.1:1/callback?code=c&state=s")
            .await
            .unwrap_err();
        assert!(matches!(err, OAuthError::NoSuchFlow(_)), "{err}");
    }

    #[tokio::test]
    async fn challenges_mark_the_server() {
        let (oauth, _) = oauth();
        let server = oauth.server("linear", "https://mcp.example/mcp");
        assert!(!server.needs_sign_in());
        server.unauthorized(
            "Bearer resource_metadata=\"https://mcp.example/.well-known/oauth-protected-resource\"",
        );
        assert!(server.needs_sign_in() && server.lost_now());
        server.insufficient_scope(
            "Bearer error=\"insufficient_scope\", scope=\"write\"",
            Some("write"),
        );
        let status = server.status();
        assert_eq!(status.state, SignInState::NeedsSignIn);
        assert!(status.reason.unwrap().contains("scope write"));
    }
}
