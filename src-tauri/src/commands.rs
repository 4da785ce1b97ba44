//! The two commands the UI calls (`ui/src/platform/tauri.ts`): `rpc`, one
//! control API command, and `subscribe`, the event stream over a Channel.

use futures::StreamExt as _;
use switchboard_api::{ApiError, Event};
use tauri::{State, Webview, ipc::Channel};
use tracing::Instrument as _;

use crate::host::Host;

/// Runs one control API command; errors reach the UI as `{code, message}`.
#[tauri::command]
pub async fn rpc(
    host: State<'_, Host>,
    method: String,
    params: serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    let running = host.running().await?;
    let span = tracing::debug_span!("rpc", method = %method);
    let result = running.api.call(&method, params).instrument(span).await;
    if let Err(e) = &result {
        tracing::debug!(method, code = ?e.code, "rpc failed: {}", e.message);
    }
    result
}

/// Streams events into `channel` until the page that asked goes away or the
/// app quits. The first events are the current servers and approvals.
#[tauri::command]
pub async fn subscribe(
    host: State<'_, Host>,
    webview: Webview,
    channel: Channel<Event>,
) -> Result<(), ApiError> {
    let running = host.running().await?;
    let stop = host.subscription(webview.label());
    let events = running.api.events();
    tauri::async_runtime::spawn(async move {
        let mut events = std::pin::pin!(events);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                event = events.next() => {
                    let Some(event) = event else { break };
                    if let Err(e) = channel.send(event) {
                        tracing::debug!("event channel closed: {e}");
                        break;
                    }
                }
            }
        }
    });
    Ok(())
}
