//! The loopback listener of one sign-in: takes the authorization server's
//! redirect, completes the flow, and answers the browser with a page saying
//! how it went; it stops once the flow completes or expires.

use std::sync::Arc;

use super::{FLOW_TTL, OAuth, SignInState, flow::Flow};

const PAGE_OK: &str = "<!doctype html><meta charset=utf-8><title>Signed in</title>\
<body style=\"font-family:system-ui;margin:3em\"><h1>Signed in</h1>\
<p>Switchboard is signed in. You can close this window.</p>";

/// Serves the loopback redirect of one flow until it completes or expires.
pub(super) async fn listen(
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
        // An authorization server that no longer knows a kept registration
        // shows its error page instead of redirecting: say what to do then.
        let reason = if flow.kept {
            "the sign-in expired with no redirect; if the authorization server showed an error \
             about the client, sign in again and register anew"
        } else {
            "the sign-in expired"
        };
        flow.server
            .mark(SignInState::NeedsSignIn, Some(reason.into()));
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
