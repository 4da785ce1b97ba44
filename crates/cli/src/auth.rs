//! `switchboard auth`: sign in to remote servers with OAuth, sign out, status.
//!
//! With a gateway running, the commands go through its control API, so the
//! running gateway uses the new sign-in at once. Without one, the sign-in runs
//! in this process; the gateway finds it in the keyring when it starts.

use std::{path::Path, time::Duration};

use clap::Subcommand;
use serde_json::{Value, json};
use switchboard_auth::oauth::{self, OAuth, OAuthConfig, SignInOptions, SignInState};
use switchboard_store::TransportConfig;

use crate::{error::CliError, remote::Remote};

/// How often a waiting login looks at the sign-in's state.
const POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Sign in to a remote server (opens the authorization page in your browser).
    Login {
        /// The server.
        server: String,
        /// A client id registered with the authorization server out of band.
        #[arg(long)]
        client_id: Option<String>,
        /// Its client secret (prefer the variable: arguments are visible to other users).
        #[arg(long, env = "SWITCHBOARD_OAUTH_CLIENT_SECRET", hide_env_values = true)]
        client_secret: Option<String>,
        /// A scope to ask for (repeatable; default: what the server's metadata says).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Only print the URL; do not start a browser.
        #[arg(long)]
        no_browser: bool,
        /// Register with the authorization server anew instead of reusing the
        /// registration of an earlier sign-in.
        #[arg(long)]
        register_anew: bool,
    },
    /// Sign out of a server: revoke its tokens at the authorization server
    /// (where it offers revocation), then forget them. The client
    /// registration is kept for the next sign-in.
    Logout {
        /// The server.
        server: String,
    },
    /// Sign-in status of remote servers; with a server, also the steps of its last attempts.
    Status {
        /// One server.
        server: Option<String>,
    },
}

pub async fn run(data_dir: &Path, cmd: AuthCommand) -> Result<(), CliError> {
    let remote = Remote::find(data_dir).await.map(|(r, _)| r);
    match cmd {
        AuthCommand::Login {
            server,
            client_id,
            client_secret,
            scopes,
            no_browser,
            register_anew,
        } => {
            let params = json!({
                "name": server,
                "client_id": client_id,
                "client_secret": client_secret,
                "scopes": scopes,
                "register_anew": register_anew,
            });
            match remote {
                Some(remote) => login_remote(&remote, &server, params, no_browser).await,
                None => {
                    let settings = crate::database::open_store(data_dir)
                        .await?
                        .get_setting::<oauth::OAuthSettings>(oauth::OAUTH_SETTINGS_KEY)
                        .await?
                        .unwrap_or_default();
                    let options = SignInOptions {
                        client_id,
                        client_secret: client_secret.map(switchboard_auth::Sensitive::new),
                        scopes,
                        register_anew,
                        client_metadata_url: settings.metadata_url(),
                    };
                    login_local(data_dir, &server, options, no_browser).await
                }
            }
        }
        AuthCommand::Logout { server } => {
            let (had, message) = match remote {
                Some(remote) => {
                    let out = remote
                        .rpc("oauth_sign_out", json!({ "name": server }))
                        .await?;
                    (
                        out["had_sign_in"].as_bool().unwrap_or(false),
                        out["message"].as_str().unwrap_or_default().to_owned(),
                    )
                }
                None => {
                    let url = remote_url(data_dir, &server).await?;
                    let oauth = local(data_dir)?;
                    let out = oauth
                        .sign_out(&server, &url)
                        .await
                        .map_err(|e| CliError::Usage(e.to_string()))?;
                    oauth.flush();
                    (out.had_sign_in, out.revocation.to_string())
                }
            };
            if had {
                println!("Signed out of {server}: {message}.");
            } else {
                println!("{server} had no sign-in.");
            }
            Ok(())
        }
        AuthCommand::Status { server } => status(data_dir, remote.as_ref(), server).await,
    }
}

fn local(data_dir: &Path) -> Result<OAuth, CliError> {
    let secrets = switchboard_auth::SecretStore::from_env(data_dir)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(OAuth::new(secrets, OAuthConfig::for_data_dir(data_dir)))
}

async fn remote_url(data_dir: &Path, server: &str) -> Result<String, CliError> {
    let store = crate::database::open_store(data_dir).await?;
    let record = store
        .get_server(server)
        .await?
        .ok_or_else(|| CliError::Usage(format!("no server named \"{server}\"")))?;
    match record.transport {
        TransportConfig::Http { url, .. } | TransportConfig::Sse { url, .. } => Ok(url),
        TransportConfig::Stdio { .. } => Err(CliError::Usage(format!(
            "\"{server}\" is not a remote server; only remote (HTTP or SSE) servers sign in with OAuth"
        ))),
    }
}

/// Shows the URL and, where there is one, starts the system browser (never
/// required: on a headless machine the URL is opened elsewhere).
fn offer_url(url: &str, no_browser: bool) {
    println!("Open this URL to sign in:\n\n  {url}\n");
    if no_browser {
        return;
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let started = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if started.is_ok() {
        println!("(opened in your browser)");
    }
    println!("Waiting for the sign-in to finish…");
}

async fn login_local(
    data_dir: &Path,
    server: &str,
    options: SignInOptions,
    no_browser: bool,
) -> Result<(), CliError> {
    let url = remote_url(data_dir, server).await?;
    let oauth = local(data_dir)?;
    let started = oauth
        .begin_sign_in(server, &url, options)
        .await
        .map_err(|e| CliError::Usage(e.to_string()))?;
    offer_url(&started.authorization_url, no_browser);
    let finished = wait_local(&oauth, server).await;
    oauth.flush();
    finished
}

async fn wait_local(oauth: &OAuth, server: &str) -> Result<(), CliError> {
    let deadline = tokio::time::Instant::now() + oauth::FLOW_TTL + Duration::from_secs(5);
    loop {
        let status = oauth
            .status(server)
            .await
            .map_err(|e| CliError::Usage(e.to_string()))?;
        match status.state {
            SignInState::SignedIn => {
                println!("Signed in to {server}.");
                return Ok(());
            }
            SignInState::SigningIn | SignInState::None => {}
            SignInState::NeedsSignIn => {
                return Err(CliError::Usage(format!(
                    "sign-in to {server} failed: {}",
                    status.reason.unwrap_or_else(|| "unknown reason".into())
                )));
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err(CliError::Usage("the sign-in expired".into()));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn login_remote(
    remote: &Remote,
    server: &str,
    params: Value,
    no_browser: bool,
) -> Result<(), CliError> {
    let started = remote.rpc("oauth_begin", params).await?;
    let url = started["authorization_url"].as_str().unwrap_or_default();
    let flow = started["flow_id"].as_str().unwrap_or_default().to_owned();
    offer_url(url, no_browser);
    let deadline = tokio::time::Instant::now() + oauth::FLOW_TTL + Duration::from_secs(5);
    loop {
        let detail = remote
            .rpc("oauth_detail", json!({ "name": server }))
            .await?;
        let status = &detail["status"];
        match status["state"].as_str() {
            Some("signed_in") => {
                println!("Signed in to {server}; the gateway reconnects with the new sign-in.");
                return Ok(());
            }
            Some("signing_in") if status["flow_id"].as_str() == Some(flow.as_str()) => {}
            Some("signing_in") => {
                return Err(CliError::Usage(
                    "another sign-in to this server was started".into(),
                ));
            }
            _ => {
                return Err(CliError::Usage(format!(
                    "sign-in to {server} failed: {}",
                    status["reason"].as_str().unwrap_or("unknown reason")
                )));
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err(CliError::Usage("the sign-in expired".into()));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn state_text(state: &str) -> &str {
    match state {
        "signed_in" => "signed in",
        "needs_sign_in" => "needs sign-in",
        "signing_in" => "signing in",
        _ => "-",
    }
}

fn show_status(s: &Value) {
    let mut line = format!(
        "{:<20} {:<14}",
        s["server"].as_str().unwrap_or_default(),
        state_text(s["state"].as_str().unwrap_or_default())
    );
    if let Some(issuer) = s["issuer"].as_str() {
        line.push_str(&format!(" {issuer}"));
    }
    if let Some(scopes) = s["scopes"].as_array().filter(|a| !a.is_empty()) {
        let scopes: Vec<&str> = scopes.iter().filter_map(|v| v.as_str()).collect();
        line.push_str(&format!(" scopes: {}", scopes.join(" ")));
    }
    if let Some(reason) = s["reason"].as_str() {
        line.push_str(&format!(" ({reason})"));
    }
    println!("{line}");
}

/// The steps of the last sign-in attempts, oldest first.
fn show_attempts(attempts: &Value) {
    for attempt in attempts.as_array().cloned().unwrap_or_default() {
        println!(
            "\nattempt {} ({}): {}",
            attempt["attempt"],
            attempt["kind"].as_str().unwrap_or_default(),
            attempt["outcome"].as_str().unwrap_or("in progress")
        );
        for step in attempt["steps"].as_array().cloned().unwrap_or_default() {
            let status = step["status"]
                .as_u64()
                .map(|s| format!(" -> {s}"))
                .unwrap_or_default();
            let detail = step["detail"]
                .as_str()
                .map(|d| format!("  {d}"))
                .unwrap_or_default();
            println!(
                "  {}{status}{detail}",
                step["action"].as_str().unwrap_or_default()
            );
        }
    }
}

async fn status(
    data_dir: &Path,
    remote: Option<&Remote>,
    server: Option<String>,
) -> Result<(), CliError> {
    let to_value = |status: oauth::AuthStatus, name: &str| {
        let mut v = serde_json::to_value(status).unwrap_or_default();
        v["server"] = json!(name);
        v
    };
    match (remote, server) {
        (Some(remote), None) => {
            for s in remote
                .rpc("oauth_list", Value::Null)
                .await?
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                show_status(&s);
            }
        }
        (Some(remote), Some(name)) => {
            let detail = remote.rpc("oauth_detail", json!({ "name": name })).await?;
            show_status(&detail["status"]);
            show_attempts(&detail["attempts"]);
        }
        (None, only) => {
            let store = crate::database::open_store(data_dir).await?;
            let oauth = local(data_dir)?;
            for record in store.list_servers().await? {
                if matches!(record.transport, TransportConfig::Stdio { .. })
                    || only.as_ref().is_some_and(|o| *o != record.name)
                {
                    continue;
                }
                let status = oauth
                    .status(&record.name)
                    .await
                    .map_err(|e| CliError::Usage(e.to_string()))?;
                show_status(&to_value(status, &record.name));
                if only.is_some() {
                    let attempts =
                        serde_json::to_value(oauth.attempts(&record.name)).unwrap_or_default();
                    show_attempts(&attempts);
                }
            }
        }
    }
    Ok(())
}
