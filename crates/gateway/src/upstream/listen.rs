//! The gateway's `subscriptions/listen` stream to a 2026-07-28 server.
//!
//! Such a server sends list changes and resource updates only on a listen
//! stream, for the resources named when the stream opened. The gateway keeps
//! one stream per server covering every resource some client session holds,
//! and reopens it when that set changes.

use std::{sync::Arc, time::Duration};

use serde_json::{Map, Value, json};

use super::{Shared, conn::Conn, mux::Inbound};
use crate::wire::{Message, int_id, raw};

/// Pause before reopening a stream the server ended.
const REOPEN_AFTER: Duration = Duration::from_secs(1);
/// Pause before trying again to open a stream that failed to open.
const RETRY_AFTER: Duration = Duration::from_millis(250);
/// Longest pause between such attempts.
const RETRY_MAX: Duration = Duration::from_secs(30);

enum Opened {
    /// The server acknowledged the stream.
    Listening(super::conn::Exchange),
    /// It has no listen streams (method not found).
    Unsupported,
    /// A failure worth trying again.
    Failed(String),
}

async fn open(conn: &Arc<Conn>, uris: Vec<String>) -> Opened {
    let mut filter = json!({
        "toolsListChanged": true,
        "promptsListChanged": true,
        "resourcesListChanged": true,
    });
    if !uris.is_empty() {
        filter["resourceSubscriptions"] = json!(uris);
    }
    let mut params = Map::new();
    params.insert("notifications".into(), filter);
    if let Some(meta) = conn.lifecycle(super::conn::gateway_capabilities()) {
        params.insert("_meta".into(), Value::Object(meta));
    }
    let ticket = conn.begin(None, false);
    let message = Message::request(
        int_id(ticket.id),
        "subscriptions/listen",
        Some(raw(&params)),
    );
    let mut exchange = match conn.send(ticket, &message, None).await {
        Ok(exchange) => exchange,
        Err(e) => return Opened::Failed(e.to_string()),
    };
    match exchange.next().await {
        Some(Inbound::Notice(n)) if n.method() == "notifications/subscriptions/acknowledged" => {
            Opened::Listening(exchange)
        }
        Some(Inbound::Answer(answer)) => match answer.rpc_error() {
            Some(error) if error.code == -32601 => Opened::Unsupported,
            Some(error) => Opened::Failed(error.message),
            None => Opened::Failed("the stream ended at once".into()),
        },
        Some(_) => Opened::Failed("no acknowledgment first".into()),
        None => Opened::Failed("the stream ended before its acknowledgment".into()),
    }
}

pub(super) async fn run(shared: Arc<Shared>, conn: Arc<Conn>) {
    let mut want = shared.listen_want.subscribe();
    let mut retry = RETRY_AFTER;
    loop {
        let generation = *want.borrow_and_update();
        let opened = tokio::select! {
            opened = open(&conn, shared.wanted_resources()) => opened,
            () = conn.ended() => return,
        };
        let mut exchange = match opened {
            Opened::Listening(exchange) => exchange,
            Opened::Failed(why) => {
                // A transient failure (the connection or its credentials were
                // not ready): try again soon; subscribers keep waiting.
                tracing::warn!(server = %shared.name, error = %why, "subscriptions/listen failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(retry) => {
                        retry = (retry * 2).min(RETRY_MAX);
                        continue;
                    }
                    () = conn.ended() => return,
                }
            }
            Opened::Unsupported => {
                tracing::debug!(server = %shared.name, "subscriptions/listen refused");
                shared
                    .listen_have
                    .send_modify(|h| *h = (*h).max(generation));
                // Nothing to listen to until the wanted set changes.
                tokio::select! {
                    _ = want.changed() => continue,
                    () = conn.ended() => return,
                }
            }
        };
        retry = RETRY_AFTER;
        shared
            .listen_have
            .send_modify(|h| *h = (*h).max(generation));
        loop {
            let next = tokio::select! {
                next = exchange.next() => Some(next),
                changed = want.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    None
                }
                () = conn.ended() => return,
            };
            let Some(next) = next else {
                exchange.cancel("the subscriptions changed").await;
                break;
            };
            match next {
                Some(Inbound::Notice(notification)) => {
                    use super::mux::Events as _;
                    super::events::Notices(Arc::downgrade(&shared)).notification(notification);
                }
                Some(Inbound::Progress(_) | Inbound::Request(_)) => {}
                Some(Inbound::Answer(_)) | None => {
                    tokio::select! {
                        () = tokio::time::sleep(REOPEN_AFTER) => break,
                        () = conn.ended() => return,
                    }
                }
            }
        }
    }
}
