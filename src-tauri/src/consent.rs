//! The OAuth consent page of a remote server in a window of its own. The page
//! is the authorization server's, so the window gets no IPC (no capability
//! names it); it closes itself once the sign-in it was opened for ends,
//! whichever way: the loopback redirect reached the gateway, it failed, or
//! it timed out.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use futures::StreamExt as _;
use switchboard_api::{
    ApiError, ErrorCode, Event,
    schema::{OAuthStatus, SignInState},
};
use tauri::{AppHandle, State, WebviewUrl, WebviewWindowBuilder};

use crate::host::Host;

/// How long a consent window waits for its sign-in (the flow's own limit).
const FLOW_LIMIT: Duration = Duration::from_secs(10 * 60);
/// How long the final page ("Signed in") stays on screen.
const LINGER: Duration = Duration::from_millis(1500);

static NEXT: AtomicU64 = AtomicU64::new(1);

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::Invalid, message)
}

/// Whether some server is still signing in with `flow_id`.
fn signing_in(statuses: &[OAuthStatus], flow_id: &str) -> bool {
    statuses
        .iter()
        .any(|s| s.state == SignInState::SigningIn && s.flow_id.as_deref() == Some(flow_id))
}

/// Opens `url` (the authorization URL of sign-in `flow_id`) in a new window.
#[tauri::command]
pub async fn open_consent(
    app: AppHandle,
    host: State<'_, Host>,
    url: String,
    flow_id: String,
) -> Result<(), ApiError> {
    let parsed = tauri::Url::parse(&url).map_err(|e| invalid(format!("bad sign-in URL: {e}")))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(invalid("a sign-in page must be an http(s) URL"));
    }
    let running = host.running().await?;
    let label = format!("consent-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let window = WebviewWindowBuilder::new(&app, &label, WebviewUrl::External(parsed))
        .title("Sign in — Switchboard")
        .inner_size(520.0, 720.0)
        .center()
        .build()
        .map_err(|e| {
            ApiError::new(
                ErrorCode::Internal,
                format!("cannot open the sign-in window: {e}"),
            )
        })?;
    tracing::info!(window = %label, flow = %flow_id, "consent window opened");
    let events = running.api.events();
    let api = running.api.clone();
    tauri::async_runtime::spawn(async move {
        let mut events = std::pin::pin!(events);
        let ended = async {
            // The sign-in may have ended before the window opened.
            let now = api.call("oauth_list", serde_json::Value::Null).await;
            let now = now
                .ok()
                .and_then(|v| serde_json::from_value::<Vec<OAuthStatus>>(v).ok());
            if now.is_some_and(|statuses| !signing_in(&statuses, &flow_id)) {
                return;
            }
            while let Some(event) = events.next().await {
                if let Event::Oauth { statuses } = event
                    && !signing_in(&statuses, &flow_id)
                {
                    return;
                }
            }
        };
        if tokio::time::timeout(FLOW_LIMIT, ended).await.is_ok() {
            tokio::time::sleep(LINGER).await;
        }
        // The user may have closed it already.
        if let Err(e) = window.close() {
            tracing::debug!("consent window already gone: {e}");
        }
    });
    Ok(())
}
