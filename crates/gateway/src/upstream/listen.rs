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

pub(super) async fn run(shared: Arc<Shared>, peer: Peer<RoleClient>, ct: CancellationToken) {
    let client = UpstreamClient {
        shared: shared.clone(),
    };
    let mut want = shared.listen_want.subscribe();
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
