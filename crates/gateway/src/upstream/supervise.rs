//! The supervisor of one server: connect, serve until the connection ends,
//! reconnect with backoff; wait for a sign-in when the server wants one.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use switchboard_store::{SandboxConfig, TransportConfig};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{
    Environment, Live, Shared, UpstreamState,
    conn::Conn,
    events::{Notices, announce_tools},
    handshake::{self, Lifecycle},
    http::{self, HttpLink},
    listen, sse, stdio,
};

const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How long a request waits for a failed server's next attempt.
pub(super) const FAILED_GRACE: Duration = Duration::from_secs(2);
/// A connection that lived this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(30);

/// A connected server plus whatever must be cleaned up with it.
struct Connected {
    conn: Arc<Conn>,
    info: handshake::ServerInfo,
    process: Option<stdio::Process>,
}

/// What the status says while the server waits for a sign-in.
fn sign_in_hint(server: &str, reason: &str) -> String {
    format!("{reason}: run `switchboard auth login {server}` or sign in from the control panel")
}

pub(super) async fn supervise(
    shared: Arc<Shared>,
    transport: TransportConfig,
    sandbox: SandboxConfig,
    env: Environment,
    stop: CancellationToken,
) {
    let span = tracing::info_span!("upstream", server = %shared.name, transport = transport.kind());
    let mut backoff = BACKOFF_START;
    let mut was_ready = false;
    let auth = oauth_of(&shared.name, &transport, &env);
    let mut signed = auth.as_ref().map(|a| a.generation());
    // Its tools were listed as unavailable meanwhile: list them anew once ready.
    let mut listed_unavailable = false;
    loop {
        shared.set_status(|s| s.state = UpstreamState::Starting);
        if let Some(signed) = signed.as_mut() {
            signed.mark_unchanged();
        }
        let connect = connect(&shared, &transport, &sandbox, &env, auth.clone());
        let connected = tokio::select! {
            c = connect => c,
            () = stop.cancelled() => break,
        };
        let Connected {
            conn,
            info,
            mut process,
        } = match connected {
            Ok(connected) => connected,
            Err(message) => {
                if let Some(auth) = auth.as_ref().filter(|a| a.needs_sign_in()) {
                    listed_unavailable = true;
                    if await_sign_in(&shared, auth, signed.as_mut(), &stop, message).await {
                        break;
                    }
                    backoff = BACKOFF_START;
                    continue;
                }
                tracing::warn!(parent: &span, error = %message, "connect failed");
                shared.set_status(|s| {
                    s.state = UpstreamState::Failed;
                    s.error = Some(message);
                });
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.cancelled() => break,
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        let started = std::time::Instant::now();
        let version = info.protocol_version.to_string();
        let live = Arc::new(Live {
            conn: conn.clone(),
            info: Arc::new(info),
        });
        remember(&shared, &live);
        let previous_tools = shared.tools();
        shared.refresh_tools(&conn).await;
        // Initialized without a token, but the server wants one for
        // everything else: no use serving until signed in.
        if let Some(auth) = auth.as_ref().filter(|a| a.lost_now()) {
            conn.end("the server requires sign-in");
            listed_unavailable = true;
            let message = "the server requires sign-in".to_owned();
            if await_sign_in(&shared, auth, signed.as_mut(), &stop, message).await {
                break;
            }
            backoff = BACKOFF_START;
            continue;
        }
        if live.stateless() {
            tokio::spawn(listen::run(shared.clone(), conn.clone()));
        } else if let Some(link) = conn.http_link() {
            tokio::spawn(super::streams::standalone(link.clone(), conn.clone()));
        }
        shared.set_live(Some(live));
        shared.set_status(|s| {
            s.state = UpstreamState::Ready;
            s.error = None;
            s.protocol_version = Some(version);
            if was_ready {
                s.restarts += 1;
            }
        });
        was_ready = true;
        tracing::info!(parent: &span, tools = shared.tools().len(), "ready");
        if std::mem::take(&mut listed_unavailable)
            || previous_tools.as_slice() != shared.tools().as_slice()
        {
            announce_tools(&shared);
        }

        let reason = tokio::select! {
            () = conn.ended() => conn.end_reason().unwrap_or_else(|| "the connection ended".into()),
            never = keep_fresh(auth.as_deref()) => match never {},
            () = sign_in_lost(auth.as_deref()) => {
                // The token was refused and could not be refreshed. The
                // connection stays, so calls fail at once with a message
                // naming the server, until someone signs in again.
                let reason = auth
                    .as_ref()
                    .and_then(|a| a.status().reason)
                    .unwrap_or_else(|| "the server refused the sign-in".into());
                tracing::warn!(parent: &span, reason = %reason, "needs sign-in");
                shared.set_live(None);
                shared.set_status(|s| {
                    s.state = UpstreamState::NeedsSignIn;
                    s.error = Some(sign_in_hint(&shared.name, &reason));
                });
                listed_unavailable = true;
                announce_tools(&shared);
                tokio::select! {
                    () = sign_in_changed(signed.as_mut()) => {}
                    () = conn.ended() => {}
                    () = stop.cancelled() => {
                        shared.set_live(None);
                        close(&conn, process).await;
                        break;
                    }
                }
                shared.set_live(None);
                close(&conn, process).await;
                backoff = BACKOFF_START;
                continue;
            }
            () = sign_in_changed(signed.as_mut()) => {
                // Signed in again or out: start over with the new state.
                shared.set_live(None);
                close(&conn, process).await;
                tracing::info!(parent: &span, "sign-in changed: reconnecting");
                backoff = BACKOFF_START;
                continue;
            }
            () = stop.cancelled() => {
                shared.set_live(None);
                close(&conn, process).await;
                break;
            }
        };
        shared.set_live(None);
        let exit = match process.as_mut() {
            Some(p) => p.exit_description().await,
            None => None,
        };
        let message = exit.unwrap_or(reason);
        tracing::warn!(parent: &span, reason = %message, "connection lost");
        close(&conn, process).await;
        shared.set_status(|s| {
            s.state = UpstreamState::Failed;
            s.error = Some(message);
        });
        announce_tools(&shared);
        if started.elapsed() >= STABLE_AFTER {
            backoff = BACKOFF_START;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stop.cancelled() => break,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
    shared.set_live(None);
    shared.set_status(|s| {
        s.state = UpstreamState::Stopped;
    });
    announce_tools(&shared);
}

/// Ends a connection and what it holds: the session (HTTP), the process (stdio).
async fn close(conn: &Arc<Conn>, process: Option<stdio::Process>) {
    if let Some(link) = conn.http_link() {
        link.close().await;
    }
    conn.end("stopped");
    if let Some(process) = process {
        process.terminate().await;
    }
}

/// Remembers the lifecycle a successful connection used.
fn remember(shared: &Shared, live: &Live) {
    let mut lifecycle = shared.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
    *lifecycle = if live.stateless() {
        Lifecycle::Discover
    } else {
        Lifecycle::Initialize
    };
}

/// The lifecycle to try now. A failed attempt moves on: a failed probe is
/// followed by a plain `initialize`, and a failure of what worked before
/// starts over with a probe (the server may have been upgraded or replaced).
fn next_lifecycle(shared: &Shared, transport: &TransportConfig) -> Lifecycle {
    if matches!(transport, TransportConfig::Sse { .. }) {
        // The legacy SSE transport predates 2026-07-28.
        return Lifecycle::Initialize;
    }
    *shared.lifecycle.lock().unwrap_or_else(|e| e.into_inner())
}

fn failed_lifecycle(shared: &Shared) {
    let mut lifecycle = shared.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
    *lifecycle = match *lifecycle {
        Lifecycle::Auto => Lifecycle::Initialize,
        Lifecycle::Initialize | Lifecycle::Discover => Lifecycle::Auto,
    };
}

/// The OAuth state of a remote server (streamable HTTP or legacy SSE),
/// unless it has a configured `Authorization` header (then that header is
/// what it gets).
fn oauth_of(
    name: &str,
    transport: &TransportConfig,
    env: &Environment,
) -> Option<Arc<switchboard_auth::oauth::ServerAuth>> {
    match transport {
        TransportConfig::Http { url, headers } | TransportConfig::Sse { url, headers }
            if !headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("authorization")) =>
        {
            Some(env.oauth.server(name, url))
        }
        _ => None,
    }
}

/// Marks the server as needing sign-in and waits until someone signs in (or
/// out). True when the supervisor was stopped meanwhile.
async fn await_sign_in(
    shared: &Arc<Shared>,
    auth: &switchboard_auth::oauth::ServerAuth,
    signed: Option<&mut watch::Receiver<u64>>,
    stop: &CancellationToken,
    message: String,
) -> bool {
    shared.set_live(None);
    let reason = auth.status().reason.unwrap_or(message);
    tracing::warn!(server = %shared.name, reason = %reason, "needs sign-in");
    shared.set_status(|s| {
        s.state = UpstreamState::NeedsSignIn;
        s.error = Some(sign_in_hint(&shared.name, &reason));
    });
    announce_tools(shared);
    tokio::select! {
        () = sign_in_changed(signed) => false,
        () = stop.cancelled() => true,
    }
}

/// Refreshes the server's sign-in ahead of expiry; never resolves.
async fn keep_fresh(
    auth: Option<&switchboard_auth::oauth::ServerAuth>,
) -> std::convert::Infallible {
    if let Some(auth) = auth {
        auth.keep_fresh().await;
    }
    std::future::pending().await
}

/// Resolves when the server's tokens stop working (not for a missing scope:
/// the other tools still work then).
async fn sign_in_lost(auth: Option<&switchboard_auth::oauth::ServerAuth>) {
    match auth {
        Some(auth) => auth.lost().await,
        None => std::future::pending().await,
    }
}

/// Resolves when the server's sign-in changes; never without a sign-in.
async fn sign_in_changed(rx: Option<&mut watch::Receiver<u64>>) {
    match rx {
        Some(rx) => {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

async fn connect(
    shared: &Arc<Shared>,
    transport: &TransportConfig,
    sandbox: &SandboxConfig,
    env: &Environment,
    auth: Option<Arc<switchboard_auth::oauth::ServerAuth>>,
) -> Result<Connected, String> {
    let lifecycle = next_lifecycle(shared, transport);
    let result = connect_with(shared, transport, sandbox, env, lifecycle, auth.clone()).await;
    match result {
        Err(probe_error) if lifecycle == Lifecycle::Auto => {
            // The probe and its fallback failed on one connection; a fresh
            // one with a plain `initialize` covers servers the probe upset.
            failed_lifecycle(shared);
            tracing::debug!(server = %shared.name, error = %probe_error, "connecting with server/discover failed; trying initialize");
            let result =
                connect_with(shared, transport, sandbox, env, Lifecycle::Initialize, auth).await;
            if result.is_err() {
                failed_lifecycle(shared);
            }
            result
        }
        Err(e) => {
            failed_lifecycle(shared);
            Err(e)
        }
        ok => ok,
    }
}

async fn connect_with(
    shared: &Arc<Shared>,
    transport: &TransportConfig,
    sandbox: &SandboxConfig,
    env: &Environment,
    lifecycle: Lifecycle,
    auth: Option<Arc<switchboard_auth::oauth::ServerAuth>>,
) -> Result<Connected, String> {
    let notices = Arc::new(Notices(Arc::downgrade(shared)));
    let limit = env.init_timeout;
    let timed_out = || format!("no answer to initialize within {}s", limit.as_secs());
    match transport {
        TransportConfig::Stdio {
            command,
            args,
            env: vars,
            cwd,
        } => {
            let vars = &resolve_secrets(env, vars).await?;
            let launch = stdio::StdioLaunch {
                name: &shared.name,
                command,
                args,
                env: vars,
                cwd: cwd.as_deref(),
                sandbox,
            };
            let (process, (stdout, stdin)) =
                stdio::spawn(&launch, env.sandbox.as_ref(), &env.log_dir).await?;
            let conn = Conn::pipe(&shared.name, notices, stdout, stdin);
            let handshake =
                tokio::time::timeout(limit, handshake::handshake(&conn, lifecycle)).await;
            match handshake {
                Ok(Ok(info)) => Ok(Connected {
                    conn,
                    info,
                    process: Some(process),
                }),
                Ok(Err(e)) => {
                    conn.end("initialize failed");
                    let detail = process.failure_detail().await;
                    process.terminate().await;
                    Err(format!("{e}{detail}"))
                }
                Err(_) => {
                    conn.end("initialize timed out");
                    let detail = process.failure_detail().await;
                    process.terminate().await;
                    Err(format!("{}{detail}", timed_out()))
                }
            }
        }
        TransportConfig::Http { url, headers } => {
            let headers = http::header_map(&resolve_secrets(env, headers).await?)?;
            let link = Arc::new(HttpLink::new(
                &shared.name,
                env.http.clone(),
                url,
                headers,
                auth,
            )?);
            let conn = Conn::http(&shared.name, notices, link);
            let info = tokio::time::timeout(limit, handshake::handshake(&conn, lifecycle))
                .await
                .map_err(|_| timed_out())??;
            Ok(Connected {
                conn,
                info,
                process: None,
            })
        }
        TransportConfig::Sse { url, headers } => {
            let headers = http::header_map(&resolve_secrets(env, headers).await?)?;
            let target = sse::Target {
                server: &shared.name,
                url,
                headers,
                auth,
            };
            let (poster, stream) = sse::open(env.http.clone(), target, limit)
                .await
                .map_err(|e| e.to_string())?;
            let conn = Conn::sse(&shared.name, notices, poster, stream);
            match tokio::time::timeout(limit, handshake::handshake(&conn, Lifecycle::Initialize))
                .await
            {
                Ok(Ok(info)) => Ok(Connected {
                    conn,
                    info,
                    process: None,
                }),
                Ok(Err(e)) => {
                    conn.end("initialize failed");
                    Err(e)
                }
                Err(_) => {
                    conn.end("initialize timed out");
                    Err(timed_out())
                }
            }
        }
    }
}

/// Replaces keyring placeholders with the secrets they stand for. The values
/// are also handed to the audit log's redactor, which masks them from then on.
async fn resolve_secrets(
    env: &Environment,
    values: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    if !switchboard_auth::has_placeholders(values) {
        return Ok(values.clone());
    }
    let (secrets, owned) = (env.secrets.clone(), values.clone());
    // Keyring calls block (D-Bus round trips).
    let resolved = tokio::task::spawn_blocking(move || secrets.resolve_map(&owned))
        .await
        .map_err(|e| format!("reading secrets failed: {e}"))?
        .map_err(|e| e.to_string())?;
    if let Some(audit) = &env.audit {
        let learned = resolved
            .iter()
            .filter(|(k, v)| values.get(*k) != Some(*v))
            .map(|(_, v)| v.clone());
        audit.redactor().learn_secrets(learned);
    }
    Ok(resolved)
}
