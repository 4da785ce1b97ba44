//! The checks every request passes before it reaches MCP: an allowed Host
//! and Origin (loopback, or a TLS listener's allowed hosts: DNS rebinding
//! protection), body size, and a bearer token.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use switchboard_store::{ClientRecord, Store};

use crate::route::{Caller, Route};

/// Known client tokens (by hash), refreshed when the store changes.
///
/// An unknown token costs no database lookup of its own: a miss re-reads
/// the clients (a client added a moment ago may not be known yet) at most
/// once per [`MISS_RELOAD_EVERY`], whatever the number of unknown tokens.
pub(crate) struct ClientTokens {
    store: Store,
    by_hash: RwLock<HashMap<String, ClientRecord>>,
    touched: RwLock<HashMap<i64, Instant>>,
    /// When the clients were last re-read for a miss (ms since `epoch`).
    miss_reload_at: AtomicU64,
    epoch: Instant,
    /// Re-reads made for misses.
    miss_reloads: AtomicU64,
}

const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// How often an unknown token may make the gateway re-read its clients.
const MISS_RELOAD_EVERY: Duration = Duration::from_millis(500);

impl ClientTokens {
    pub async fn load(store: Store) -> Result<Self, switchboard_store::Error> {
        let tokens = Self {
            store,
            by_hash: RwLock::new(HashMap::new()),
            touched: RwLock::new(HashMap::new()),
            miss_reload_at: AtomicU64::new(0),
            epoch: Instant::now(),
            miss_reloads: AtomicU64::new(0),
        };
        tokens.reload().await?;
        Ok(tokens)
    }

    /// Re-reads the clients; revoked tokens stop working at once.
    pub async fn reload(&self) -> Result<(), switchboard_store::Error> {
        let fresh = self.store.client_token_hashes().await?;
        *self.by_hash.write().unwrap_or_else(|e| e.into_inner()) = fresh.into_iter().collect();
        Ok(())
    }

    fn known(&self, hash: &str) -> Option<ClientRecord> {
        self.by_hash
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .cloned()
    }

    pub(crate) async fn identify(&self, token: &str) -> Option<ClientRecord> {
        let hash = switchboard_auth::hash_token(token);
        let client = match self.known(&hash) {
            Some(c) => c,
            None => {
                // A client added a moment ago may not be in the cache yet;
                // one miss in each interval re-reads them all, the others
                // are refused at once.
                if !self.claim_miss_reload() {
                    return None;
                }
                self.miss_reloads.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = self.reload().await {
                    tracing::warn!(error = %e, "cannot re-read the clients");
                }
                self.known(&hash)?
            }
        };
        self.touch(client.id).await;
        Some(client)
    }

    /// Whether this miss may re-read the clients (one per interval).
    fn claim_miss_reload(&self) -> bool {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let every = u64::try_from(MISS_RELOAD_EVERY.as_millis()).unwrap_or(u64::MAX);
        let last = self.miss_reload_at.load(Ordering::Acquire);
        (last == 0 || now.saturating_sub(last) >= every)
            && self
                .miss_reload_at
                .compare_exchange(last, now.max(1), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// Re-reads made because of unknown tokens.
    #[cfg(test)]
    pub(crate) fn miss_reloads(&self) -> u64 {
        self.miss_reloads.load(Ordering::Relaxed)
    }

    async fn touch(&self, id: i64) {
        let due = self
            .touched
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .is_none_or(|t| t.elapsed() >= TOUCH_EVERY);
        if due {
            self.touched
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, Instant::now());
            let store = self.store.clone();
            tokio::spawn(async move {
                let _ = store.touch_client(id).await;
            });
        }
    }
}

/// Shared by the guards.
pub(crate) struct GuardState {
    pub tokens: ClientTokens,
    pub hosts: super::HostCheck,
    pub control_token: String,
    pub max_body_bytes: usize,
}

/// A JSON-RPC error as an HTTP response (no id: the request was not read).
pub(crate) fn rpc_error(status: StatusCode, code: i32, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "error": { "code": code, "message": message },
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn forbidden(message: &str) -> Response {
    rpc_error(StatusCode::FORBIDDEN, -32000, message)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn unauthorized(message: &str) -> Response {
    let mut response = rpc_error(StatusCode::UNAUTHORIZED, -32001, message);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"switchboard\""),
    );
    response
}

/// The guard in front of `/mcp` and `/mcp/{server}`: a loopback Host and
/// Origin, a body within the cap, a known client token. Admits the request
/// as its [`Caller`] with its body read; the client's credential goes no
/// further.
pub(crate) async fn admit(
    state: &GuardState,
    request: Request<Body>,
) -> Result<(Caller, axum::http::request::Parts, bytes::Bytes), Response> {
    if let Err(message) = state.hosts.check(request.headers()) {
        return Err(forbidden(message));
    }
    let too_big = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|len| len > state.max_body_bytes);
    if too_big {
        return Err(too_large(state.max_body_bytes));
    }
    let Some(token) = bearer(request.headers()) else {
        return Err(unauthorized(
            "missing bearer token: create one with `switchboard clients add NAME`",
        ));
    };
    let Some(client) = state.tokens.identify(token).await else {
        return Err(unauthorized("unknown or revoked client token"));
    };
    let (mut parts, body) = request.into_parts();
    // Never let the client's credential travel further.
    parts.headers.remove(header::AUTHORIZATION);
    let route = match parts.uri.path().trim_end_matches('/').strip_prefix("/mcp") {
        Some("") => Route::All,
        Some(rest) => Route::Server(rest.trim_start_matches('/').to_owned()),
        None => return Err(rpc_error(StatusCode::NOT_FOUND, -32601, "not found")),
    };
    let bytes = axum::body::to_bytes(body, state.max_body_bytes)
        .await
        .map_err(|_| too_large(state.max_body_bytes))?;
    tracing::trace!(client = %client.name, ?route, "request admitted");
    Ok((
        Caller {
            client: client.name,
            route,
        },
        parts,
        bytes,
    ))
}

fn too_large(limit: usize) -> Response {
    rpc_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        -32600,
        &format!("request body is larger than {limit} bytes"),
    )
}

/// Guard for the control API: Host/Origin plus the control token.
pub(crate) async fn control_guard(
    State(state): State<Arc<GuardState>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    if let Err(message) = state.hosts.check(request.headers()) {
        return forbidden(message);
    }
    let ok = bearer(request.headers())
        .is_some_and(|t| switchboard_auth::constant_time_eq(t, &state.control_token));
    if !ok {
        return unauthorized("control token required");
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_tokens_do_not_each_cost_a_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let hash = |t: &str| switchboard_auth::hash_token(t);
        store.add_client("known", &hash("sbt_known")).await.unwrap();
        let tokens = ClientTokens::load(store.clone()).await.unwrap();
        assert!(tokens.identify("sbt_known").await.is_some());
        for n in 0..2_000 {
            assert!(tokens.identify(&format!("sbt_guess_{n}")).await.is_none());
        }
        assert!(
            tokens.miss_reloads() <= 2,
            "2,000 unknown tokens re-read the clients {} times",
            tokens.miss_reloads()
        );
        // A client added since is still found, once the interval has passed.
        store.add_client("late", &hash("sbt_late")).await.unwrap();
        tokio::time::sleep(MISS_RELOAD_EVERY + Duration::from_millis(50)).await;
        let late = tokens.identify("sbt_late").await.unwrap();
        assert_eq!(late.name, "late");
    }
}
