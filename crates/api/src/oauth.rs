//! OAuth commands: status, the debug record, sign-in and sign-out of remote
//! servers. The flow itself lives in `switchboard_auth::oauth`; the API finds
//! the server's URL in the store and maps the types.

use switchboard_auth::oauth::{self as core, SignInOptions};
use switchboard_store::TransportConfig;

use crate::{
    Api,
    schema::{
        ApiError, BeginSignIn, CompleteSignIn, ErrorCode, OAuthAttempt, OAuthDetail, OAuthStatus,
        OAuthStep, Revocation, ServerName, SignInStarted, SignInState, SignOutResult,
    },
};

fn status_of(server: &str, s: core::AuthStatus) -> OAuthStatus {
    OAuthStatus {
        server: server.to_owned(),
        state: match s.state {
            core::SignInState::None => SignInState::None,
            core::SignInState::SignedIn => SignInState::SignedIn,
            core::SignInState::NeedsSignIn => SignInState::NeedsSignIn,
            core::SignInState::SigningIn => SignInState::SigningIn,
        },
        issuer: s.issuer,
        scopes: s.scopes,
        #[allow(clippy::cast_precision_loss)]
        expires_at_ms: s.expires_at_ms.map(|v| v as f64),
        reason: s.reason,
        flow_id: s.flow_id,
        signed_out: s.signed_out,
    }
}

#[allow(clippy::cast_precision_loss)]
fn attempt_of(a: core::FlowAttempt) -> OAuthAttempt {
    OAuthAttempt {
        attempt: a.attempt,
        kind: a.kind,
        started_ms: a.started_ms as f64,
        steps: a
            .steps
            .into_iter()
            .map(|s| OAuthStep {
                at_ms: s.at_ms as f64,
                action: s.action,
                status: s.status,
                detail: s.detail,
            })
            .collect(),
        outcome: a.outcome,
    }
}

fn oauth_error(e: core::OAuthError) -> ApiError {
    let code = match &e {
        core::OAuthError::NoSuchFlow(_) => ErrorCode::NotFound,
        core::OAuthError::StateMismatch
        | core::OAuthError::NotRemote(_)
        | core::OAuthError::InvalidMetadataUrl(_) => ErrorCode::Invalid,
        core::OAuthError::Denied { .. } => ErrorCode::Conflict,
        _ => ErrorCode::Internal,
    };
    ApiError::new(code, e.to_string())
}

impl Api {
    /// The URL of remote server `name` (streamable HTTP or legacy SSE).
    async fn remote_url(&self, name: &str) -> Result<String, ApiError> {
        let record = self
            .store
            .get_server(name)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no server named \"{name}\"")))?;
        match record.transport {
            TransportConfig::Http { url, .. } | TransportConfig::Sse { url, .. } => Ok(url),
            TransportConfig::Stdio { .. } => {
                Err(oauth_error(core::OAuthError::NotRemote(name.to_owned())))
            }
        }
    }

    /// The OAuth settings kept in the store.
    pub(crate) async fn oauth_settings(&self) -> Result<core::OAuthSettings, ApiError> {
        Ok(self
            .store
            .get_setting::<core::OAuthSettings>(core::OAUTH_SETTINGS_KEY)
            .await?
            .unwrap_or_default())
    }

    pub(crate) async fn oauth_list(&self, (): ()) -> Result<Vec<OAuthStatus>, ApiError> {
        let oauth = self.hub.oauth();
        let mut out = Vec::new();
        for server in self.store.list_servers().await? {
            if let TransportConfig::Http { .. } | TransportConfig::Sse { .. } = server.transport {
                let status = match oauth.existing(&server.name) {
                    Some(s) => s.status(),
                    None => oauth
                        .status(&server.name)
                        .await
                        .unwrap_or_else(|_| core_none()),
                };
                out.push(status_of(&server.name, status));
            }
        }
        Ok(out)
    }

    pub(crate) async fn oauth_detail(&self, p: ServerName) -> Result<OAuthDetail, ApiError> {
        self.remote_url(&p.name).await?;
        let oauth = self.hub.oauth();
        let status = oauth.status(&p.name).await.map_err(oauth_error)?;
        Ok(OAuthDetail {
            status: status_of(&p.name, status),
            attempts: oauth
                .attempts(&p.name)
                .into_iter()
                .map(attempt_of)
                .collect(),
        })
    }

    pub(crate) async fn oauth_begin(&self, p: BeginSignIn) -> Result<SignInStarted, ApiError> {
        let url = self.remote_url(&p.name).await?;
        let options = SignInOptions {
            client_id: p.client_id.filter(|s| !s.is_empty()),
            client_secret: p
                .client_secret
                .filter(|s| !s.is_empty())
                .map(switchboard_auth::Sensitive::new),
            scopes: p.scopes,
            register_anew: p.register_anew,
            client_metadata_url: self.oauth_settings().await?.metadata_url(),
        };
        let started = self
            .hub
            .oauth()
            .begin_sign_in(&p.name, &url, options)
            .await
            .map_err(oauth_error)?;
        Ok(SignInStarted {
            flow_id: started.flow_id,
            authorization_url: started.authorization_url,
            redirect_uri: started.redirect_uri,
        })
    }

    pub(crate) async fn oauth_complete(&self, p: CompleteSignIn) -> Result<(), ApiError> {
        self.hub
            .oauth()
            .complete_sign_in(&p.flow_id, &p.callback_url)
            .await
            .map_err(oauth_error)
    }

    pub(crate) async fn oauth_sign_out(&self, p: ServerName) -> Result<SignOutResult, ApiError> {
        let url = self.remote_url(&p.name).await?;
        let out = self
            .hub
            .oauth()
            .sign_out(&p.name, &url)
            .await
            .map_err(oauth_error)?;
        Ok(SignOutResult {
            had_sign_in: out.had_sign_in,
            message: out.revocation.to_string(),
            revocation: match out.revocation {
                core::Revocation::Revoked => Revocation::Revoked,
                core::Revocation::Unsupported => Revocation::Unsupported,
                core::Revocation::Failed(_) => Revocation::Failed,
                core::Revocation::NothingToRevoke => Revocation::NothingToRevoke,
            },
        })
    }
}

fn core_none() -> core::AuthStatus {
    core::AuthStatus {
        state: core::SignInState::None,
        issuer: None,
        scopes: Vec::new(),
        expires_at_ms: None,
        reason: None,
        flow_id: None,
        signed_out: false,
    }
}
