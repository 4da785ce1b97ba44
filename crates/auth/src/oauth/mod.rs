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
//! - status per server ([`AuthStatus`]) and a debug record of each attempt
//!   ([`FlowAttempt`]), with secrets left out;
//! - network rules for discovery: rmcp's host checks plus resolved-address
//!   filtering (a public server cannot send us to loopback or link-local).

mod grant;
mod net;
mod record;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use oauth2::TokenResponse as _;
use rmcp::transport::auth::{
    AuthError, AuthorizationCallback, AuthorizationManager, AuthorizationRequest,
    AuthorizationSession, OAuthClientConfig,
};
use serde::Serialize;
use tokio::sync::watch;

pub use record::{FlowAttempt, FlowStep};

use crate::{SecretStore, Sensitive};
use grant::{Grant, GrantStore, Keys};
use net::OAuthNet;

/// How long a started sign-in waits for its redirect.
pub const FLOW_TTL: Duration = Duration::from_secs(600);
/// Environment variable naming the HTTPS URL of Switchboard's Client ID
/// Metadata Document, used where an authorization server supports them.
pub const CLIENT_METADATA_URL_ENV: &str = "SWITCHBOARD_OAUTH_CLIENT_METADATA_URL";

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
        }
    }
}

/// The signed-in state of one server: the rmcp manager that holds its client
/// registration and refreshes its tokens.
struct Session {
    manager: AuthorizationManager,
    grant: Arc<Mutex<Grant>>,
}

/// One server's OAuth state; the upstream connector holds it.
pub struct ServerAuth {
    name: String,
    url: RwLock<String>,
    oauth: std::sync::Weak<Inner>,
    status: watch::Sender<AuthStatus>,
    session: RwLock<Option<Arc<Session>>>,
    /// The last `WWW-Authenticate` challenge (seeds discovery).
    challenge: Mutex<Option<String>>,
    /// A scope a call needed and the token lacked.
    wanted_scope: Mutex<Option<String>>,
    history: record::History,
    /// Bumped whenever the connection should start over (signed in or out).
    generation: watch::Sender<u64>,
    /// Whether the stored sign-in was looked for.
    loaded: tokio::sync::Mutex<bool>,
}

impl std::fmt::Debug for ServerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerAuth")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn keys(inner: &Inner, server: &str) -> Keys {
    Keys {
        server: server.to_owned(),
        scope: inner.config.keyring_scope.clone(),
    }
}

fn expires_at(grant: &Grant) -> (Option<u64>, Vec<String>) {
    let Some(c) = &grant.credentials else {
        return (None, Vec::new());
    };
    let expires = c
        .token_response
        .as_ref()
        .and_then(|t| t.expires_in())
        .zip(c.token_received_at)
        .map(|(d, at)| at.saturating_mul(1000) + u64::try_from(d.as_millis()).unwrap_or(0));
    (expires, c.granted_scopes.clone())
}

impl ServerAuth {
    /// The server's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Current status.
    pub fn status(&self) -> AuthStatus {
        let mut status = self.status.borrow().clone();
        if let Some(session) = self.session() {
            let grant = session
                .grant
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            (status.expires_at_ms, status.scopes) = expires_at(&grant);
            status.issuer = Some(grant.issuer);
        }
        status
    }

    /// Changes whenever the connection should start over.
    pub fn generation(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Whether the server waits for a sign-in.
    pub fn needs_sign_in(&self) -> bool {
        matches!(
            self.status.borrow().state,
            SignInState::NeedsSignIn | SignInState::SigningIn
        )
    }

    /// Whether the server refuses requests for want of a (valid) sign-in,
    /// as opposed to wanting more scope for some of them.
    pub fn lost_now(&self) -> bool {
        self.status.borrow().state == SignInState::NeedsSignIn && self.session().is_none()
    }

    /// Resolves once [`Self::lost_now`] holds.
    pub async fn lost(&self) {
        let mut rx = self.status.subscribe();
        if rx
            .wait_for(|s| s.state == SignInState::NeedsSignIn && self.session().is_none())
            .await
            .is_err()
        {
            std::future::pending::<()>().await;
        }
    }

    /// The debug record of the last attempts, oldest first.
    pub fn attempts(&self) -> Vec<FlowAttempt> {
        self.history.snapshot()
    }

    fn session(&self) -> Option<Arc<Session>> {
        self.session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_session(&self, session: Option<Arc<Session>>) {
        *self.session.write().unwrap_or_else(|e| e.into_inner()) = session;
    }

    fn mark(&self, state: SignInState, reason: Option<String>) {
        self.status.send_modify(|s| {
            s.state = state;
            s.flow_id = None;
            s.reason = reason;
        });
    }

    fn bump(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// Sets the URL the server is reached at (a changed URL drops the sign-in
    /// from memory; the stored one is looked up again).
    pub fn set_url(&self, url: &str) {
        let mut current = self.url.write().unwrap_or_else(|e| e.into_inner());
        if *current != url {
            *current = url.to_owned();
            drop(current);
            self.set_session(None);
            if let Ok(mut loaded) = self.loaded.try_lock() {
                *loaded = false;
            }
        }
    }

    fn url(&self) -> String {
        self.url.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Loads the stored sign-in once (discovery runs to learn the token
    /// endpoint). Errors are reported, and the next call tries again.
    async fn ensure_loaded(&self) -> Result<(), String> {
        let mut loaded = self.loaded.lock().await;
        if *loaded || self.session().is_some() {
            return Ok(());
        }
        let Some(inner) = self.oauth.upgrade() else {
            return Ok(());
        };
        let keys = keys(&inner, &self.name);
        let issuer = match grant::read_index(&inner.secrets, &keys).await {
            Ok(Some(issuer)) => issuer,
            Ok(None) => {
                *loaded = true;
                return Ok(());
            }
            // No secret store, so no stored sign-in: the server is used
            // without one (a sign-in, if it wants one, says why it fails).
            Err(e) => {
                tracing::debug!(server = %self.name, error = %e, "no stored sign-in");
                *loaded = true;
                return Ok(());
            }
        };
        let Some(grant) = grant::read_grant(&inner.secrets, &keys, &issuer).await? else {
            *loaded = true;
            return Ok(());
        };
        if grant.credentials.is_none() {
            *loaded = true;
            self.mark(SignInState::NeedsSignIn, Some("signed out".into()));
            return Ok(());
        }
        let journal = self.history.begin("connection");
        let url = self.url();
        let resource = url::Url::parse(&url).map_err(|e| e.to_string())?;
        let net = OAuthNet::new(&resource, journal.clone())?;
        let mut manager =
            AuthorizationManager::new_with_oauth_http_client(url.as_str(), Arc::new(net))
                .await
                .map_err(|e| e.to_string())?;
        let challenge = self
            .challenge
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let resolution = manager
            .resolve_metadata_from_challenge(challenge.as_deref())
            .await
            .map_err(|e| {
                journal.finish(format!("discovery failed: {e}"));
                format!("OAuth discovery failed: {e}")
            })?;
        let now_issuer = issuer_of(&resolution.metadata);
        if now_issuer != grant.issuer {
            journal.finish("the authorization server changed; sign in again");
            *loaded = true;
            self.mark(
                SignInState::NeedsSignIn,
                Some(format!(
                    "the server now uses authorization server {now_issuer} (signed in with {})",
                    grant.issuer
                )),
            );
            return Ok(());
        }
        manager.set_metadata(resolution.metadata);
        let mut config =
            OAuthClientConfig::new(grant.client_id.clone(), grant.redirect_uri.clone());
        if let Some(secret) = &grant.client_secret {
            config = config.with_client_secret(secret.clone());
        }
        manager
            .configure_client(config)
            .map_err(|e| e.to_string())?;
        let shared = Arc::new(Mutex::new(grant));
        manager.set_credential_store(self.grant_store(&inner, shared.clone()));
        journal.finish("stored sign-in loaded");
        self.set_session(Some(Arc::new(Session {
            manager,
            grant: shared,
        })));
        *loaded = true;
        self.mark(SignInState::SignedIn, None);
        Ok(())
    }

    fn grant_store(&self, inner: &Arc<Inner>, grant: Arc<Mutex<Grant>>) -> GrantStore {
        let weak = Arc::downgrade(inner);
        let name = self.name.clone();
        GrantStore::new(
            inner.secrets.clone(),
            keys(inner, &self.name),
            grant,
            Arc::new(move |reason: &str| {
                if let Some(inner) = weak.upgrade()
                    && let Some(server) = inner.existing(&name)
                {
                    tracing::warn!(server = %name, reason, "sign-in needed");
                    server.mark(SignInState::NeedsSignIn, Some(reason.to_owned()));
                }
            }),
        )
    }

    /// The access token to send, refreshed first when it is about to expire.
    /// `None`: there is no sign-in (the request goes out without a token and
    /// the server's answer decides).
    pub async fn access_token(&self) -> Result<Option<Sensitive<String>>, String> {
        self.ensure_loaded().await?;
        let Some(session) = self.session() else {
            return Ok(None);
        };
        match session.manager.get_access_token().await {
            Ok(token) => Ok(Some(Sensitive::new(token))),
            Err(AuthError::AuthorizationRequired) => {
                self.drop_session("the sign-in expired and could not be refreshed");
                Ok(None)
            }
            Err(e) => Err(format!("token refresh failed: {e}")),
        }
    }

    fn drop_session(&self, reason: &str) {
        self.set_session(None);
        self.mark(SignInState::NeedsSignIn, Some(reason.to_owned()));
    }

    /// The server answered 401 to a request that carried `sent`: refresh
    /// once. Returns the new token to retry with, or `None` (sign-in needed).
    pub async fn token_rejected(&self, sent: &str, challenge: &str) -> Option<Sensitive<String>> {
        *self.challenge.lock().unwrap_or_else(|e| e.into_inner()) = Some(challenge.to_owned());
        let session = self.session()?;
        match session.manager.refresh_token().await {
            Ok(tokens) => {
                let fresh = tokens.access_token().secret().clone();
                if fresh == sent {
                    self.drop_session("the server rejected the access token");
                    None
                } else {
                    Some(Sensitive::new(fresh))
                }
            }
            Err(AuthError::TokenRefreshRejected(_) | AuthError::AuthorizationRequired) => {
                self.drop_session("the authorization server rejected the refresh token");
                None
            }
            Err(e) => {
                tracing::warn!(server = %self.name, error = %e, "refresh after 401 failed");
                self.drop_session(&format!("refresh failed: {e}"));
                None
            }
        }
    }

    /// The server answered 401 to a request without a token.
    pub fn unauthorized(&self, challenge: &str) {
        *self.challenge.lock().unwrap_or_else(|e| e.into_inner()) = Some(challenge.to_owned());
        if self.status.borrow().state != SignInState::SigningIn {
            self.mark(
                SignInState::NeedsSignIn,
                Some("the server requires sign-in".into()),
            );
        }
    }

    /// The server answered 403 `insufficient_scope`: the next sign-in asks
    /// for the scope too.
    pub fn insufficient_scope(&self, challenge: &str, scope: Option<&str>) {
        *self.challenge.lock().unwrap_or_else(|e| e.into_inner()) = Some(challenge.to_owned());
        *self.wanted_scope.lock().unwrap_or_else(|e| e.into_inner()) = scope.map(str::to_owned);
        let what = scope.map(|s| format!(" (scope {s})")).unwrap_or_default();
        self.mark(
            SignInState::NeedsSignIn,
            Some(format!("the server wants more permissions{what}")),
        );
    }
}

struct Flow {
    id: String,
    server: Arc<ServerAuth>,
    state: String,
    session: Mutex<Option<AuthorizationSession>>,
    grant: Arc<Mutex<Grant>>,
    journal: Arc<record::Journal>,
    preregistered_secret: Option<Sensitive<String>>,
    done: tokio_util_cancel::Token,
}

/// A cancellation flag without another dependency.
mod tokio_util_cancel {
    #[derive(Clone, Default)]
    pub(super) struct Token(
        std::sync::Arc<tokio::sync::Notify>,
        std::sync::Arc<std::sync::atomic::AtomicBool>,
    );

    impl Token {
        pub(super) fn cancel(&self) {
            self.1.store(true, std::sync::atomic::Ordering::SeqCst);
            self.0.notify_waiters();
        }

        pub(super) async fn cancelled(&self) {
            loop {
                let notified = self.0.notified();
                if self.1.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                notified.await;
            }
        }
    }
}

struct Inner {
    secrets: SecretStore,
    config: OAuthConfig,
    servers: Mutex<HashMap<String, Arc<ServerAuth>>>,
    flows: Mutex<HashMap<String, Arc<Flow>>>,
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
        Self {
            inner: Arc::new(Inner {
                secrets,
                config,
                servers: Mutex::new(HashMap::new()),
                flows: Mutex::new(HashMap::new()),
            }),
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
            history: record::History::default(),
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
        }
        Ok(status)
    }

    /// Starts signing in to `name` at `url`: discovery, registration, and a
    /// loopback listener for the redirect. Open the returned URL in a browser;
    /// the sign-in completes when the redirect reaches the listener (or is
    /// passed to [`Self::complete_sign_in`]).
    pub async fn begin_sign_in(
        &self,
        name: &str,
        url: &str,
        options: SignInOptions,
    ) -> Result<SignInStart, OAuthError> {
        let server = self.server(name, url);
        let protocol = |message: String| OAuthError::Protocol {
            server: name.to_owned(),
            message,
        };
        let resource =
            url::Url::parse(url).map_err(|e| protocol(format!("invalid URL {url}: {e}")))?;
        // Bound before registration, so the redirect URI registered is ours.
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(OAuthError::Bind)?;
        let port = listener.local_addr().map_err(OAuthError::Bind)?.port();
        let redirect_uri = format!("http://127.0.0.1:{port}/callback");

        let journal = server.history.begin("sign-in");
        let fail = |message: String| {
            journal.finish(format!("failed: {message}"));
            protocol(message)
        };
        let net = Arc::new(OAuthNet::new(&resource, journal.clone()).map_err(&fail)?);
        let insecure = |net: &OAuthNet| {
            net.insecure_endpoint().map(|url| {
                format!("{url} is not https: OAuth endpoints must use https (plain http only on loopback)")
            })
        };
        let mut manager = AuthorizationManager::new_with_oauth_http_client(url, net.clone())
            .await
            .map_err(|e| fail(insecure(&net).unwrap_or_else(|| e.to_string())))?;
        let challenge = server
            .challenge
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let resolution = manager
            .resolve_metadata_from_challenge(challenge.as_deref())
            .await
            .map_err(|e| {
                fail(format!(
                    "discovery: {}",
                    insecure(&net).unwrap_or_else(|| e.to_string())
                ))
            })?;
        let metadata = &resolution.metadata;
        for endpoint in [
            Some(&metadata.authorization_endpoint),
            Some(&metadata.token_endpoint),
            metadata.registration_endpoint.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if !url::Url::parse(endpoint).is_ok_and(|u| net::secure_endpoint(&u)) {
                return Err(fail(format!(
                    "discovery: the authorization server names {}: OAuth endpoints must use https (plain http only on loopback)",
                    net::redact_url(endpoint)
                )));
            }
        }
        if !resolution.source.is_discovered() {
            journal.note(
                "discovery",
                "no metadata published; using the default endpoints /authorize, /token, /register",
            );
        }
        let issuer = issuer_of(&resolution.metadata);
        journal.note("discovery", format!("authorization server {issuer}"));
        let keys = keys(&self.inner, name);
        let previous = grant::read_grant(&self.inner.secrets, &keys, &issuer)
            .await
            .map_err(OAuthError::Store)?;

        // A client id given now, or one given at an earlier sign-in, wins.
        let (client_id, client_secret) = match (&options.client_id, &previous) {
            (Some(id), _) => (Some(id.clone()), options.client_secret.clone()),
            (None, Some(p)) if p.preregistered => (
                Some(p.client_id.clone()),
                p.client_secret.clone().map(Sensitive::new),
            ),
            _ => (None, None),
        };
        let mut request = AuthorizationRequest::new(redirect_uri.clone())
            .with_client_name(self.inner.config.client_name.clone());
        let registration = if let Some(id) = &client_id {
            request = request.with_preregistered_client(id.clone());
            if let Some(secret) = &client_secret {
                request = request.with_client_secret(secret.expose().clone());
            }
            format!("pre-registered client {id}")
        } else if let Some(cimd) = &self.inner.config.client_metadata_url
            && resolution
                .metadata
                .additional_fields
                .get("client_id_metadata_document_supported")
                .and_then(|v| v.as_bool())
                == Some(true)
        {
            request = request.with_client_metadata_url(cimd.clone());
            format!("client id metadata document {cimd}")
        } else {
            "dynamic registration".to_owned()
        };
        journal.note("registration", registration);

        let wanted = server
            .wanted_scope
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if !options.scopes.is_empty() {
            request = request.with_scopes(options.scopes.clone());
        } else if let Some(wanted) = wanted {
            let mut scopes: Vec<String> = server
                .session()
                .map(|s| expires_at(&s.grant.lock().unwrap_or_else(|e| e.into_inner())).1)
                .unwrap_or_default();
            for s in wanted.split_whitespace() {
                if !scopes.iter().any(|x| x == s) {
                    scopes.push(s.to_owned());
                }
            }
            request = request.with_scopes(scopes);
        } else {
            request = request.with_initial_scope_selection();
        }
        if let Some(challenge) = challenge {
            request = request.with_challenge(challenge);
        }

        let grant = Arc::new(Mutex::new(Grant {
            issuer: issuer.clone(),
            client_id: client_id.clone().unwrap_or_default(),
            client_secret: client_secret.as_ref().map(|s| s.expose().clone()),
            redirect_uri: redirect_uri.clone(),
            preregistered: client_id.is_some(),
            credentials: None,
        }));
        manager.set_metadata(resolution.metadata);
        manager.set_credential_store(server.grant_store(&self.inner, grant.clone()));
        let session = AuthorizationSession::new(manager, request)
            .await
            .map_err(|(_, e)| fail(e.to_string()))?;
        let authorization_url = session.get_authorization_url().to_owned();
        let state = query_param(&authorization_url, "state")
            .ok_or_else(|| fail("the authorization URL has no state".into()))?;
        let scope = query_param(&authorization_url, "scope").unwrap_or_default();
        journal.note(
            "authorize",
            format!(
                "{} (scope \"{scope}\", resource {})",
                net::redact_url(&authorization_url),
                query_param(&authorization_url, "resource").unwrap_or_default()
            ),
        );

        let flow = Arc::new(Flow {
            id: uuid::Uuid::new_v4().to_string(),
            server: server.clone(),
            state,
            session: Mutex::new(Some(session)),
            grant,
            journal,
            preregistered_secret: client_secret,
            done: tokio_util_cancel::Token::default(),
        });
        // A newer sign-in replaces an older one still waiting.
        let replaced: Vec<Arc<Flow>> = {
            let mut flows = self.inner.flows.lock().unwrap_or_else(|e| e.into_inner());
            let old: Vec<String> = flows
                .values()
                .filter(|f| f.server.name == name)
                .map(|f| f.id.clone())
                .collect();
            let replaced = old.iter().filter_map(|id| flows.remove(id)).collect();
            flows.insert(flow.id.clone(), flow.clone());
            replaced
        };
        for old in replaced {
            old.journal.finish("replaced by a newer sign-in");
            old.done.cancel();
        }
        server.status.send_modify(|s| {
            s.state = SignInState::SigningIn;
            s.flow_id = Some(flow.id.clone());
        });
        tokio::spawn(listen_for_redirect(
            self.clone(),
            flow.clone(),
            listener,
            port,
        ));
        Ok(SignInStart {
            flow_id: flow.id.clone(),
            authorization_url,
            redirect_uri,
        })
    }

    /// Finishes a sign-in with the URL the authorization server redirected
    /// to. The state must match; a flow completes at most once.
    pub async fn complete_sign_in(
        &self,
        flow_id: &str,
        callback_url: &str,
    ) -> Result<(), OAuthError> {
        let flow = self
            .inner
            .flows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(flow_id)
            .cloned()
            .ok_or_else(|| OAuthError::NoSuchFlow(flow_id.to_owned()))?;
        let got_state = query_param(callback_url, "state").unwrap_or_default();
        if !crate::constant_time_eq(&got_state, &flow.state) {
            flow.journal
                .note("redirect", "ignored: state does not match this sign-in");
            return Err(OAuthError::StateMismatch);
        }
        // Single use: whoever takes the session completes the flow.
        let session = flow
            .session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| OAuthError::NoSuchFlow(flow_id.to_owned()))?;
        self.inner
            .flows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(flow_id);
        flow.done.cancel();
        let server = flow.server.clone();
        let name = server.name.clone();

        if let Some(error) = query_param(callback_url, "error") {
            let description = query_param(callback_url, "error_description")
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            let reason = format!("{error}{description}");
            flow.journal.note("redirect", format!("error {error}"));
            flow.journal.finish(format!("refused: {error}"));
            server.mark(
                SignInState::NeedsSignIn,
                Some(format!("sign-in refused: {error}")),
            );
            return Err(OAuthError::Denied {
                server: name,
                reason,
            });
        }
        let callback = AuthorizationCallback::from_redirect_url(callback_url).map_err(|e| {
            OAuthError::Protocol {
                server: name.clone(),
                message: e.to_string(),
            }
        })?;
        flow.journal.note(
            "redirect",
            format!(
                "code received{}",
                callback
                    .issuer
                    .as_deref()
                    .map(|i| format!(", iss {i}"))
                    .unwrap_or_default()
            ),
        );
        let exchanged = session
            .handle_callback_with_issuer(
                &callback.code,
                &callback.csrf_token,
                callback.issuer.as_deref(),
            )
            .await;
        if let Err(e) = exchanged {
            flow.journal.finish(format!("failed: {e}"));
            server.mark(
                SignInState::NeedsSignIn,
                Some(format!("sign-in failed: {e}")),
            );
            return Err(OAuthError::Protocol {
                server: name,
                message: e.to_string(),
            });
        }
        // Keep the client secret (pre-registered, or issued by registration).
        let secret = {
            let g = flow.grant.lock().unwrap_or_else(|e| e.into_inner());
            flow.preregistered_secret
                .clone()
                .or_else(|| flow.journal.registered_secret(&g.client_id))
        };
        if let Some(secret) = secret {
            let updated = {
                let mut g = flow.grant.lock().unwrap_or_else(|e| e.into_inner());
                g.client_secret = Some(secret.expose().clone());
                g.clone()
            };
            grant::write_grant(&self.inner.secrets, &keys(&self.inner, &name), &updated)
                .await
                .map_err(OAuthError::Store)?;
        }
        *server
            .wanted_scope
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        server.set_session(Some(Arc::new(Session {
            manager: session.auth_manager,
            grant: flow.grant.clone(),
        })));
        *server.loaded.lock().await = true;
        flow.journal.finish("signed in");
        server.mark(SignInState::SignedIn, None);
        server.bump();
        tracing::info!(server = %name, "signed in");
        Ok(())
    }

    /// Forgets the sign-in of `name` (tokens and registration); whether
    /// there was one.
    pub async fn sign_out(&self, name: &str) -> Result<bool, OAuthError> {
        let found = grant::forget(&self.inner.secrets, &keys(&self.inner, name))
            .await
            .map_err(OAuthError::Store)?;
        if let Some(server) = self.existing(name) {
            let had = server.session().is_some();
            server.set_session(None);
            *server.loaded.lock().await = true;
            server.history.begin("sign-out").finish("signed out");
            server.mark(SignInState::NeedsSignIn, Some("signed out".into()));
            server.bump();
            return Ok(found || had);
        }
        Ok(found)
    }

    /// The debug record of `name`'s last attempts.
    pub fn attempts(&self, name: &str) -> Vec<FlowAttempt> {
        self.existing(name)
            .map(|s| s.attempts())
            .unwrap_or_default()
    }
}

const PAGE_OK: &str = "<!doctype html><meta charset=utf-8><title>Signed in</title>\
<body style=\"font-family:system-ui;margin:3em\"><h1>Signed in</h1>\
<p>Switchboard is signed in. You can close this window.</p>";

/// Serves the loopback redirect of one flow until it completes or expires.
async fn listen_for_redirect(
    oauth: OAuth,
    flow: Arc<Flow>,
    listener: tokio::net::TcpListener,
    port: u16,
) {
    use axum::{extract::RawQuery, response::Html, routing::get};
    let flow_id = flow.id.clone();
    let handler_oauth = oauth.clone();
    let app = axum::Router::new().route(
        "/callback",
        get(move |RawQuery(query): RawQuery| {
            let oauth = handler_oauth.clone();
            let flow_id = flow_id.clone();
            async move {
                let url = format!(
                    "http://127.0.0.1:{port}/callback?{}",
                    query.unwrap_or_default()
                );
                match oauth.complete_sign_in(&flow_id, &url).await {
                    Ok(()) => (http::StatusCode::OK, Html(PAGE_OK.to_owned())),
                    Err(e) => (
                        http::StatusCode::BAD_REQUEST,
                        Html(format!(
                            "<!doctype html><meta charset=utf-8><title>Sign-in failed</title>\
                             <body style=\"font-family:system-ui;margin:3em\"><h1>Sign-in failed</h1><p>{}</p>",
                            html_escape(&e.to_string())
                        )),
                    ),
                }
            }
        }),
    );
    let done = flow.done.clone();
    let expired = tokio::time::sleep(FLOW_TTL);
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
        tokio::select! {
            () = done.cancelled() => {}
            () = expired => {}
        }
    });
    let _ = serve.await;
    // Expired without a redirect.
    let removed = oauth
        .inner
        .flows
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&flow.id);
    if removed.is_some() {
        flow.journal.finish("expired: no redirect arrived");
        flow.server
            .mark(SignInState::NeedsSignIn, Some("the sign-in expired".into()));
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use rmcp::transport::auth::{CredentialStore as _, StoredCredentials};

    use super::*;

    fn oauth() -> (OAuth, SecretStore) {
        let secrets = SecretStore::with_store(keyring_core::mock::Store::new().unwrap());
        let config = OAuthConfig {
            client_name: "Switchboard".into(),
            client_metadata_url: None,
            keyring_scope: "test".into(),
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
            credentials: creds,
        }
    }

    #[tokio::test]
    async fn status_comes_from_the_keyring_and_sign_out_forgets_it() {
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
        assert!(oauth.sign_out("linear").await.unwrap());
        assert!(!oauth.sign_out("linear").await.unwrap());
        assert_eq!(
            oauth.status("linear").await.unwrap().state,
            SignInState::None
        );
        assert!(
            secrets
                .get(&keys.grant("https://as.example"))
                .unwrap()
                .is_none()
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
