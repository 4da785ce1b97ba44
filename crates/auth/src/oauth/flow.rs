//! A sign-in: discovery, the client registration (given, kept from an
//! earlier sign-in, a Client ID Metadata Document, or dynamic), the
//! authorization URL, and the loopback listener that takes the redirect.

use std::sync::{Arc, Mutex};

use rmcp::transport::auth::{
    AuthorizationCallback, AuthorizationMetadata, AuthorizationRequest, AuthorizationSession,
};

use super::{
    OAuth, OAuthError, SignInOptions, SignInStart, SignInState,
    grant::{self, Grant},
    issuer_of,
    net::{self, OAuthNet},
    query_param, record,
    server::{ServerAuth, Session, expires_at, keys},
};
use crate::Sensitive;

/// How the client is known to the authorization server for one sign-in.
#[derive(Debug)]
pub(super) enum Registration {
    /// A client id the user gave (now or at an earlier sign-in).
    Given {
        id: String,
        secret: Option<Sensitive<String>>,
    },
    /// The registration of an earlier sign-in, reused with its redirect port.
    Kept {
        id: String,
        secret: Option<Sensitive<String>>,
        port: u16,
    },
    /// Switchboard's Client ID Metadata Document.
    Document(String),
    /// A new dynamic registration, and why.
    Dynamic(&'static str),
}

impl Registration {
    /// The registration for a sign-in with `options`, given what an earlier
    /// sign-in at the same authorization server left (`previous`) and the
    /// metadata document the server accepts, if any.
    pub(super) fn choose(
        options: &SignInOptions,
        previous: Option<&Grant>,
        document: Option<String>,
    ) -> Self {
        if let Some(id) = &options.client_id {
            return Self::Given {
                id: id.clone(),
                secret: options.client_secret.clone(),
            };
        }
        if let Some(p) = previous.filter(|p| p.preregistered) {
            return Self::Given {
                id: p.client_id.clone(),
                secret: p.client_secret.clone().map(Sensitive::new),
            };
        }
        let reusable = previous.filter(|p| !p.client_id.is_empty());
        if let Some(url) = document {
            // A document is its own registration: nothing to keep.
            return Self::Document(url);
        }
        if options.register_anew {
            return Self::Dynamic("asked to register anew");
        }
        let Some(p) = reusable else {
            return Self::Dynamic("first sign-in with this authorization server");
        };
        if p.client_id.starts_with("https://") {
            return Self::Dynamic("the metadata document is no longer offered");
        }
        if p.secret_expires_at
            .is_some_and(|at| at != 0 && at.saturating_mul(1000) <= record::now_ms())
        {
            return Self::Dynamic("the registration's client secret expired");
        }
        match loopback_port(&p.redirect_uri) {
            Some(port) => Self::Kept {
                id: p.client_id.clone(),
                secret: p.client_secret.clone().map(Sensitive::new),
                port,
            },
            None => Self::Dynamic("the registration has no loopback redirect"),
        }
    }

    /// What the debug record says about it.
    pub(super) fn describe(&self) -> String {
        match self {
            Self::Given { id, .. } => format!("pre-registered client {id}"),
            Self::Kept { id, .. } => {
                format!("reusing the registration of an earlier sign-in: client id {id}")
            }
            Self::Document(url) => format!("client id metadata document {url}"),
            Self::Dynamic(why) => format!("dynamic registration ({why})"),
        }
    }
}

/// The port of a registered `http://127.0.0.1:PORT/callback`.
fn loopback_port(redirect_uri: &str) -> Option<u16> {
    let url = url::Url::parse(redirect_uri).ok()?;
    (url.scheme() == "http" && url.host_str() == Some("127.0.0.1"))
        .then(|| url.port())
        .flatten()
}

/// The redirect listener: on the kept registration's port when it is free,
/// else on a new port with a new registration.
async fn bind_redirect(
    registration: Registration,
) -> Result<(tokio::net::TcpListener, Registration), OAuthError> {
    if let Registration::Kept { port, .. } = &registration {
        match tokio::net::TcpListener::bind(("127.0.0.1", *port)).await {
            Ok(listener) => return Ok((listener, registration)),
            Err(e) => {
                tracing::info!(port, error = %e, "the registered redirect port is taken; registering anew");
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                    .await
                    .map_err(OAuthError::Bind)?;
                return Ok((
                    listener,
                    Registration::Dynamic("the registered redirect port is in use"),
                ));
            }
        }
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(OAuthError::Bind)?;
    Ok((listener, registration))
}

pub(super) struct Flow {
    pub id: String,
    pub server: Arc<ServerAuth>,
    state: String,
    session: Mutex<Option<AuthorizationSession>>,
    grant: Arc<Mutex<Grant>>,
    pub journal: Arc<record::Journal>,
    preregistered_secret: Option<Sensitive<String>>,
    /// Whether the sign-in reuses an earlier registration.
    pub kept: bool,
    metadata: AuthorizationMetadata,
    pub done: cancel::Token,
}

/// A cancellation flag without another dependency.
pub(super) mod cancel {
    #[derive(Clone, Default)]
    pub(crate) struct Token(
        std::sync::Arc<tokio::sync::Notify>,
        std::sync::Arc<std::sync::atomic::AtomicBool>,
    );

    impl Token {
        pub(crate) fn cancel(&self) {
            self.1.store(true, std::sync::atomic::Ordering::SeqCst);
            self.0.notify_waiters();
        }

        pub(crate) async fn cancelled(&self) {
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

impl OAuth {
    /// The metadata document to sign in with: the one given for this
    /// sign-in or configured, when the authorization server accepts them.
    fn metadata_document(
        &self,
        options: &SignInOptions,
        metadata: &AuthorizationMetadata,
    ) -> Option<String> {
        let url = options
            .client_metadata_url
            .clone()
            .or_else(|| self.inner.config.client_metadata_url.clone())?;
        let supported = metadata
            .additional_fields
            .get("client_id_metadata_document_supported")
            .and_then(serde_json::Value::as_bool)
            == Some(true);
        supported.then_some(url)
    }

    /// The authorization server refused the client of `flow`: its kept
    /// registration is forgotten, so the next sign-in registers anew.
    async fn forget_registration(&self, name: &str, flow: &Flow) {
        if !flow.kept {
            return;
        }
        let issuer = flow
            .grant
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .issuer
            .clone();
        flow.journal.note(
            "registration",
            "the authorization server refused the kept registration; it is forgotten",
        );
        let keys = keys(&self.inner, name);
        if let Err(e) = grant::forget_at(&self.inner.secrets, &keys, &issuer).await {
            tracing::warn!(server = name, error = %e, "cannot forget the refused registration");
        }
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
        let (mut manager, resolution) = server.discover(url, net.clone()).await.map_err(|e| {
            fail(format!(
                "discovery: {}",
                insecure(&net).unwrap_or_else(|| e.to_string())
            ))
        })?;
        let challenge = server
            .challenge
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
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

        let registration = Registration::choose(
            &options,
            previous.as_ref(),
            self.metadata_document(&options, &resolution.metadata),
        );
        // Bound before registration, so the redirect URI registered is ours;
        // a kept registration gets the port it registered, if it is free.
        let (listener, registration) = bind_redirect(registration).await?;
        let port = listener.local_addr().map_err(OAuthError::Bind)?.port();
        let redirect_uri = format!("http://127.0.0.1:{port}/callback");
        let mut request = AuthorizationRequest::new(redirect_uri.clone())
            .with_client_name(self.inner.config.client_name.clone());
        let (client_id, client_secret) = match &registration {
            Registration::Given { id, secret } | Registration::Kept { id, secret, .. } => {
                request = request.with_preregistered_client(id.clone());
                if let Some(secret) = secret {
                    request = request.with_client_secret(secret.expose().clone());
                }
                (Some(id.clone()), secret.clone())
            }
            Registration::Document(url) => {
                request = request.with_client_metadata_url(url.clone());
                (None, None)
            }
            Registration::Dynamic(_) => (None, None),
        };
        let preregistered = matches!(registration, Registration::Given { .. });
        journal.note("registration", registration.describe());

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
            preregistered,
            secret_expires_at: previous
                .as_ref()
                .filter(|_| matches!(registration, Registration::Kept { .. }))
                .and_then(|p| p.secret_expires_at),
            credentials: None,
            signed_out: false,
        }));
        let metadata = resolution.metadata;
        manager.set_metadata(metadata.clone());
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
            kept: matches!(registration, Registration::Kept { .. }),
            metadata,
            done: cancel::Token::default(),
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
        tokio::spawn(super::redirect::listen(
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
            let refused = flow.journal.client_refused();
            if refused {
                self.forget_registration(&name, &flow).await;
            }
            flow.journal.finish(format!("failed: {e}"));
            let reason = if refused {
                "the authorization server no longer accepts Switchboard's registration; \
                 sign in again to register anew"
                    .to_owned()
            } else {
                format!("sign-in failed: {e}")
            };
            server.mark(SignInState::NeedsSignIn, Some(reason));
            return Err(OAuthError::Protocol {
                server: name,
                message: e.to_string(),
            });
        }
        // Keep the client secret (pre-registered, kept, or issued by
        // registration) and when it expires.
        let issued = {
            let g = flow.grant.lock().unwrap_or_else(|e| e.into_inner());
            flow.journal.registered_secret(&g.client_id)
        };
        let secret = flow.preregistered_secret.clone().or_else(|| issued.clone());
        if let Some(secret) = secret {
            let updated = {
                let mut g = flow.grant.lock().unwrap_or_else(|e| e.into_inner());
                g.client_secret = Some(secret.expose().clone());
                if issued.is_some() {
                    g.secret_expires_at = flow.journal.registered_secret_expiry();
                }
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
            metadata: flow.metadata.clone(),
        })));
        *server.loaded.lock().await = true;
        flow.journal.finish("signed in");
        server.mark(SignInState::SignedIn, None);
        server.bump();
        tracing::info!(server = %name, "signed in");
        Ok(())
    }
}
