//! The API over HTTP for `switchboard serve`: `POST /api/rpc`, `GET /api/events`
//! (server-sent events), `POST /api/login`, and the built web UI.
//!
//! How the browser gets in: `serve` prints a control URL whose fragment holds a
//! one-time login code (`http://127.0.0.1:7331/#login=CODE`). A fragment never
//! reaches a server, a log or a Referer. The UI posts the code to `/api/login`,
//! which burns it and sets an HttpOnly, SameSite=Strict session cookie; the UI
//! then drops the fragment from the address bar. Codes expire after ten
//! minutes and work once. The control token from `gateway.json` (mode 0600)
//! is accepted too, as a bearer token or pasted into the login form.
//!
//! Every request passes the gateway's Host/Origin check (DNS rebinding). A
//! cookie alone is not enough: cookies ignore ports, so another local site
//! would send it as well. Cookie-authenticated requests must come from this
//! very origin (`Origin` equal to `http://<Host>`, `Sec-Fetch-Site` same-origin
//! when sent), and `/api/rpc` needs a custom header that no cross-origin page
//! can send without a CORS preflight, which is never granted.

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    path::{Component, Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response, sse},
    routing::{get, post},
};
use futures::StreamExt as _;
use serde::Deserialize;

use crate::{Api, ApiError, ErrorCode};

/// The header `/api/rpc` requires (any value).
pub const RPC_HEADER: &str = "x-switchboard";
const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// Browser sign-ins kept at once; one more ends the oldest.
pub const MAX_WEB_SESSIONS: usize = 16;
/// How long a browser sign-in lasts.
const WEB_SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// Who may use the API from a browser.
pub struct WebAccess {
    control_token: String,
    cookie: String,
    codes: Mutex<HashMap<String, Instant>>,
    /// Browser sign-ins, oldest first, with when each began.
    sessions: Mutex<VecDeque<(String, Instant)>>,
    /// The Host/Origin check, the gateway's own.
    hosts: switchboard_gateway::http::HostCheck,
}

impl std::fmt::Debug for WebAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebAccess")
            .field("cookie", &self.cookie)
            .finish()
    }
}

impl WebAccess {
    /// Access for a gateway on `port` whose control token is `control_token`.
    pub fn new(control_token: String, port: u16) -> Self {
        Self {
            control_token,
            // Cookies ignore ports: one name per gateway.
            cookie: format!("switchboard_{port}"),
            codes: Mutex::new(HashMap::new()),
            sessions: Mutex::new(VecDeque::new()),
            hosts: switchboard_gateway::http::HostCheck::loopback(),
        }
    }

    /// Answers the hosts the gateway answers for (a TLS gateway's allowed
    /// hosts besides loopback); loopback only without it.
    pub fn with_hosts(mut self, hosts: switchboard_gateway::http::HostCheck) -> Self {
        self.hosts = hosts;
        self
    }

    /// A new one-time login code, valid for ten minutes.
    pub fn login_code(&self) -> String {
        let code = switchboard_auth::new_control_token().expose().clone();
        let mut codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        codes.retain(|_, at| at.elapsed() < CODE_LIFETIME);
        codes.insert(code.clone(), Instant::now());
        code
    }

    fn redeem(&self, secret: &str) -> bool {
        if switchboard_auth::constant_time_eq(secret, &self.control_token) {
            return true;
        }
        let mut codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        codes.retain(|_, at| at.elapsed() < CODE_LIFETIME);
        codes.remove(secret).is_some()
    }

    fn new_session(&self) -> String {
        let id = switchboard_auth::new_control_token().expose().clone();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|(_, at)| at.elapsed() < WEB_SESSION_LIFETIME);
        while sessions.len() >= MAX_WEB_SESSIONS {
            sessions.pop_front();
        }
        sessions.push_back((id.clone(), Instant::now()));
        id
    }

    fn has_session(&self, headers: &HeaderMap) -> bool {
        let prefix = format!("{}=", self.cookie);
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().strip_prefix(&prefix))
            .any(|id| {
                sessions.iter().any(|(known, at)| {
                    at.elapsed() < WEB_SESSION_LIFETIME
                        && switchboard_auth::constant_time_eq(id, known)
                })
            })
    }

    fn bearer_ok(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .is_some_and(|(scheme, token)| {
                scheme.eq_ignore_ascii_case("bearer")
                    && switchboard_auth::constant_time_eq(token.trim(), &self.control_token)
            })
    }
}

/// Whether the request comes from a page of this very origin.
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let origin_ok = headers
        .get(header::ORIGIN)
        .is_none_or(|o| o.to_str().is_ok_and(|o| o == format!("http://{host}")));
    let site_ok = headers
        .get("sec-fetch-site")
        .is_none_or(|v| v.to_str().is_ok_and(|v| v == "same-origin" || v == "none"));
    origin_ok && site_ok
}

#[derive(Clone)]
struct AppState {
    api: Api,
    access: Arc<WebAccess>,
    ui_dir: Option<PathBuf>,
}

fn error_response(e: &ApiError) -> Response {
    let status = match e.code {
        ErrorCode::Invalid => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(e)).into_response()
}

fn refuse(code: ErrorCode, message: &str) -> Response {
    let mut response = error_response(&ApiError::new(code, message));
    if code == ErrorCode::Unauthorized {
        *response.status_mut() = StatusCode::UNAUTHORIZED;
    } else {
        *response.status_mut() = StatusCode::FORBIDDEN;
    }
    response
}

async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if let Err(message) = state.access.hosts.check(headers) {
        return refuse(ErrorCode::Invalid, message);
    }
    if state.access.bearer_ok(headers) {
        return next.run(request).await;
    }
    if !state.access.has_session(headers) {
        return refuse(
            ErrorCode::Unauthorized,
            "not signed in: open the control URL that `switchboard serve` printed",
        );
    }
    if !same_origin(headers) {
        return refuse(ErrorCode::Invalid, "cross-origin request refused");
    }
    if request.method() == Method::POST && !headers.contains_key(RPC_HEADER) {
        return refuse(ErrorCode::Invalid, "missing the x-switchboard header");
    }
    next.run(request).await
}

#[derive(Deserialize)]
struct RpcRequest {
    method: String,
    #[serde(default)]
    params: serde_json::Value,
}

async fn rpc(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let request: RpcRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error_response(&ApiError::invalid(format!("bad request: {e}"))),
    };
    match state.api.call(&request.method, request.params).await {
        Ok(value) => Json(value).into_response(),
        Err(e) => error_response(&e),
    }
}

async fn events(State(state): State<AppState>) -> impl IntoResponse {
    let stream = state.api.events().map(|event| {
        Ok::<_, Infallible>(sse::Event::default().json_data(&event).unwrap_or_default())
    });
    sse::Sse::new(stream).keep_alive(sse::KeepAlive::default())
}

#[derive(Deserialize)]
struct Login {
    code: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(message) = state.access.hosts.check(&headers) {
        return refuse(ErrorCode::Invalid, message);
    }
    if !same_origin(&headers) {
        return refuse(ErrorCode::Invalid, "cross-origin request refused");
    }
    let Ok(login) = serde_json::from_slice::<Login>(&body) else {
        return error_response(&ApiError::invalid("expected {\"code\": \"...\"}"));
    };
    if !state.access.redeem(login.code.trim()) {
        return refuse(
            ErrorCode::Unauthorized,
            "this login code is unknown, used or expired: restart `switchboard serve` or paste the control token from gateway.json",
        );
    }
    let session = state.access.new_session();
    let cookie = format!(
        "{}={session}; Path=/api; HttpOnly; SameSite=Strict",
        state.access.cookie
    );
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Switchboard</title>\
<p>The web UI is not built. Run <code>make ui</code> (or <code>npm run build</code> in <code>ui/</code>) \
and reload, or set SWITCHBOARD_UI_DIR.</p>";

async fn static_file(State(state): State<AppState>, request: Request) -> Response {
    if state.access.hosts.check(request.headers()).is_err() {
        return StatusCode::FORBIDDEN.into_response();
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let path = request.uri().path();
    if path.starts_with("/api/") || path.starts_with("/mcp") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(dir) = state.ui_dir.as_deref() else {
        return with_headers(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                NOT_BUILT,
            )
                .into_response(),
            false,
        );
    };
    let relative = Path::new(path.trim_start_matches('/'));
    let safe = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    let mut file = dir.join(relative);
    if !safe || relative.as_os_str().is_empty() || !file.is_file() {
        // Client-side routes (/servers/x) get the app's page.
        if relative.extension().is_some() && safe {
            return StatusCode::NOT_FOUND.into_response();
        }
        file = dir.join("index.html");
    }
    match tokio::fs::read(&file).await {
        Ok(bytes) => {
            let immutable = path.starts_with("/assets/");
            with_headers(
                (
                    [(header::CONTENT_TYPE, content_type(&file))],
                    Body::from(bytes),
                )
                    .into_response(),
                immutable,
            )
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

fn with_headers(mut response: Response, immutable: bool) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Where the built UI is: `$SWITCHBOARD_UI_DIR`, else `ui/dist` of this
/// source tree when it has been built.
pub fn default_ui_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SWITCHBOARD_UI_DIR") {
        return Some(PathBuf::from(dir));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/dist");
    dir.join("index.html").is_file().then_some(dir)
}

/// The routes to mount on the gateway.
pub fn router(api: Api, access: Arc<WebAccess>, ui_dir: Option<PathBuf>) -> Router {
    let state = AppState {
        api,
        access,
        ui_dir,
    };
    let guarded = Router::new()
        .route("/api/rpc", post(rpc))
        .route("/api/events", get(events))
        .layer(middleware::from_fn_with_state(state.clone(), guard));
    Router::new()
        .merge(guarded)
        .route("/api/login", post(login))
        .fallback(static_file)
        .with_state(state)
}
