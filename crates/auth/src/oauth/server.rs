//! One server's OAuth state: its stored sign-in, the access token to send
//! (refreshed ahead of expiry), and what its answers say about the sign-in.

use std::sync::{Arc, Mutex, RwLock};

use oauth2::TokenResponse as _;
use rmcp::transport::auth::{
    AuthError, AuthorizationManager, AuthorizationMetadata, AuthorizationMetadataResolution,
    OAuthClientConfig,
};
use tokio::sync::watch;

use super::{
    AuthStatus, FlowAttempt, Inner, SignInState,
    grant::{self, Grant, GrantStore, Keys},
    issuer_of,
    net::OAuthNet,
    record, refresh,
};
use crate::Sensitive;

/// The signed-in state of one server: the rmcp manager that holds its client
/// registration and refreshes its tokens.
pub(super) struct Session {
    pub manager: AuthorizationManager,
    pub grant: Arc<Mutex<Grant>>,
    /// The authorization server's metadata (its revocation endpoint, for
    /// sign-out).
    pub metadata: AuthorizationMetadata,
}

/// One server's OAuth state; the upstream connector holds it.
pub struct ServerAuth {
    pub(super) name: String,
    pub(super) url: RwLock<String>,
    pub(super) oauth: std::sync::Weak<Inner>,
    pub(super) status: watch::Sender<AuthStatus>,
    pub(super) session: RwLock<Option<Arc<Session>>>,
    /// The last `WWW-Authenticate` challenge (seeds discovery).
    pub(super) challenge: Mutex<Option<String>>,
    /// A scope a call needed and the token lacked.
    pub(super) wanted_scope: Mutex<Option<String>>,
    pub(super) history: Arc<record::History>,
    /// Bumped whenever the connection should start over (signed in or out).
    pub(super) generation: watch::Sender<u64>,
    /// Whether the stored sign-in was looked for.
    pub(super) loaded: tokio::sync::Mutex<bool>,
}

impl std::fmt::Debug for ServerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerAuth")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

pub(super) fn keys(inner: &Inner, server: &str) -> Keys {
    Keys {
        server: server.to_owned(),
        scope: inner.config.keyring_scope.clone(),
    }
}

pub(super) fn expires_at(grant: &Grant) -> (Option<u64>, Vec<String>) {
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

    pub(super) fn session(&self) -> Option<Arc<Session>> {
        self.session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn set_session(&self, session: Option<Arc<Session>>) {
        *self.session.write().unwrap_or_else(|e| e.into_inner()) = session;
    }

    pub(super) fn mark(&self, state: SignInState, reason: Option<String>) {
        self.status.send_modify(|s| {
            s.state = state;
            s.flow_id = None;
            s.reason = reason;
            s.signed_out = false;
        });
    }

    /// The user signed out: a sign-in is needed, and nothing was lost.
    pub(super) fn mark_signed_out(&self) {
        self.status.send_modify(|s| {
            s.state = SignInState::NeedsSignIn;
            s.flow_id = None;
            s.reason = Some("signed out".into());
            s.signed_out = true;
        });
    }

    pub(super) fn bump(&self) {
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
    pub(super) async fn ensure_loaded(&self) -> Result<(), String> {
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
            if grant.signed_out {
                self.mark_signed_out();
            } else {
                self.mark(
                    SignInState::NeedsSignIn,
                    Some("the stored sign-in has no tokens left".into()),
                );
            }
            return Ok(());
        }
        let journal = self.history.begin("connection");
        let url = self.url();
        let resource = url::Url::parse(&url).map_err(|e| e.to_string())?;
        let net = Arc::new(OAuthNet::new(&resource, journal.clone())?);
        let (mut manager, resolution) = self.discover(&url, net).await.map_err(|e| {
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
        let metadata = resolution.metadata;
        manager.set_metadata(metadata.clone());
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
            metadata,
        })));
        *loaded = true;
        self.mark(SignInState::SignedIn, None);
        Ok(())
    }

    /// Discovery of the server's authorization server through `net`, from
    /// its last challenge if it sent one.
    pub(super) async fn discover(
        &self,
        url: &str,
        net: Arc<OAuthNet>,
    ) -> Result<(AuthorizationManager, AuthorizationMetadataResolution), AuthError> {
        let manager = AuthorizationManager::new_with_oauth_http_client(url, net).await?;
        let challenge = self
            .challenge
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let resolution = manager
            .resolve_metadata_from_challenge(challenge.as_deref())
            .await?;
        Ok((manager, resolution))
    }

    pub(super) fn grant_store(&self, inner: &Arc<Inner>, grant: Arc<Mutex<Grant>>) -> GrantStore {
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

    pub(super) fn drop_session(&self, reason: &str) {
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
impl ServerAuth {
    /// Keeps the sign-in fresh while the server is connected: refreshes
    /// ahead of expiry (re-checked after sleep and clock jumps), so a revoked
    /// or expired sign-in is found, and said, before a call needs it. Never
    /// returns; a lost sign-in shows through [`Self::lost`].
    pub async fn keep_fresh(&self) {
        refresh::keep_ahead(record::now_ms, || self.deadline(), || self.refresh_ahead()).await;
        std::future::pending::<()>().await;
    }

    /// (received, expires) of the current access token, Unix ms.
    fn deadline(&self) -> Option<(u64, u64)> {
        let session = self.session()?;
        let grant = session.grant.lock().unwrap_or_else(|e| e.into_inner());
        let received = grant.credentials.as_ref()?.token_received_at?;
        let (expires, _) = expires_at(&grant);
        Some((received.saturating_mul(1000), expires?))
    }

    async fn refresh_ahead(&self) -> refresh::Refreshed {
        let Some(session) = self.session() else {
            return refresh::Refreshed::Lost;
        };
        let refreshable = {
            let grant = session.grant.lock().unwrap_or_else(|e| e.into_inner());
            grant
                .credentials
                .as_ref()
                .and_then(|c| c.token_response.as_ref())
                .is_some_and(|t| t.refresh_token().is_some())
        };
        if !refreshable {
            // Without a refresh token the sign-in ends with its access token.
            let expired = self
                .deadline()
                .is_some_and(|(_, expires)| record::now_ms() >= expires);
            if !expired {
                return refresh::Refreshed::Failed;
            }
            self.drop_session(
                "the sign-in expired (the authorization server gave no refresh token)",
            );
            return refresh::Refreshed::Lost;
        }
        match session.manager.refresh_token().await {
            Ok(_) => refresh::Refreshed::Fresh,
            Err(AuthError::TokenRefreshRejected(_) | AuthError::AuthorizationRequired) => {
                tracing::warn!(server = %self.name, "refresh refused: sign-in needed");
                self.drop_session("the authorization server rejected the refresh token");
                refresh::Refreshed::Lost
            }
            Err(e) => {
                tracing::warn!(server = %self.name, error = %e, "refresh ahead of expiry failed; trying again");
                refresh::Refreshed::Failed
            }
        }
    }
}
