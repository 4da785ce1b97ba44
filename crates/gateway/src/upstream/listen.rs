//! The gateway's `subscriptions/listen` stream to a 2026-07-28 server.
//!
//! Such a server sends list changes and resource updates only on a listen
//! stream, for the resources named when the stream opened. The gateway keeps
//! one stream per server covering every resource some client session holds,
//! and reopens it when that set changes.

use std::{sync::Arc, time::Duration};

use rmcp::{RoleClient, model::SubscriptionFilter, service::Peer};
use tokio_util::sync::CancellationToken;

use super::{Shared, UpstreamClient};

/// Pause before reopening a stream the server ended.
const REOPEN_AFTER: Duration = Duration::from_secs(1);
/// Pause before trying again to open a stream that failed to open.
const RETRY_AFTER: Duration = Duration::from_millis(250);
/// Longest pause between such attempts.
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Whether the server answered that it has no listen streams at all (as
/// opposed to a failure worth retrying).
fn unsupported(error: &rmcp::ServiceError) -> bool {
    matches!(error, rmcp::ServiceError::McpError(e) if e.code == rmcp::model::ErrorCode::METHOD_NOT_FOUND)
}

pub(super) async fn run(shared: Arc<Shared>, peer: Peer<RoleClient>, ct: CancellationToken) {
    let client = UpstreamClient {
        shared: shared.clone(),
    };
    let mut want = shared.listen_want.subscribe();
    let mut retry = RETRY_AFTER;
    loop {
        let generation = *want.borrow_and_update();
        let mut filter = SubscriptionFilter::builder()
            .tools_list_changed()
            .prompts_list_changed()
            .resources_list_changed()
            .build();
        let uris = shared.dispatch.wanted_resources(&shared.name);
        if !uris.is_empty() {
            filter.resource_subscriptions = Some(uris);
        }
        let opened = tokio::select! {
            opened = peer.listen(filter) => opened,
            () = ct.cancelled() => return,
        };
        let mut subscription = match opened {
            Ok(subscription) => subscription,
            Err(e) if !unsupported(&e) => {
                // A transient failure (the connection or its credentials were
                // not ready): try again soon; subscribers keep waiting.
                tracing::warn!(server = %shared.name, error = %e, "subscriptions/listen failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(retry) => {
                        retry = (retry * 2).min(RETRY_MAX);
                        continue;
                    }
                    () = ct.cancelled() => return,
                }
            }
            Err(e) => {
                tracing::debug!(server = %shared.name, error = %e, "subscriptions/listen refused");
                shared
                    .listen_have
                    .send_modify(|h| *h = (*h).max(generation));
                // Nothing to listen to until the wanted set changes.
                tokio::select! {
                    _ = want.changed() => continue,
                    () = ct.cancelled() => return,
                }
            }
        };
        retry = RETRY_AFTER;
        shared
            .listen_have
            .send_modify(|h| *h = (*h).max(generation));
        loop {
            tokio::select! {
                next = subscription.next() => match next {
                    Ok(Some(notification)) => client.route_notification(notification, &peer).await,
                    Ok(None) | Err(_) => {
                        tokio::select! {
                            () = tokio::time::sleep(REOPEN_AFTER) => break,
                            () = ct.cancelled() => return,
                        }
                    }
                },
                changed = want.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    break;
                }
                () = ct.cancelled() => return,
            }
        }
    }
}
