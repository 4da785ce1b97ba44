//! What a server says outside any call, on its way to the client sessions.

use std::sync::{Arc, Weak};

use super::{Shared, mux::Events};
use crate::wire::Message;

/// Where the servers' news goes: the downstream side implements it (it knows
/// which sessions may hear which server); the upstream side only calls it.
pub(crate) trait Fanout: Send + Sync + 'static {
    /// A notification of `server` that belongs to no call (list changes,
    /// resource updates, log messages), in the version spoken with `server`.
    fn notify(&self, server: &str, version: Option<&str>, message: &Message);

    /// The gateway's own news of `server`: its tools changed (it appeared,
    /// went away, or listed them anew).
    fn tools_changed(&self, server: &str);
}

/// The connection-level notifications of one server.
pub(super) struct Notices(pub Weak<Shared>);

impl Events for Notices {
    fn notification(&self, message: Message) {
        let Some(shared) = self.0.upgrade() else {
            return;
        };
        if message.method() == "notifications/tools/list_changed" {
            // The cache is refreshed before anyone hears, so the list they
            // fetch next is already the new one.
            tokio::spawn(async move {
                if let Some(live) = shared.live() {
                    shared.refresh_tools(&live.conn).await;
                }
                relay(&shared, &message);
            });
            return;
        }
        relay(&shared, &message);
    }
}

fn relay(shared: &Shared, message: &Message) {
    let version = shared.status.borrow().protocol_version.clone();
    shared
        .fanout
        .notify(&shared.name, version.as_deref(), message);
}

/// Tells sessions that can see this server that its tools changed (it
/// appeared, went away, or listed them anew).
pub(super) fn announce_tools(shared: &Arc<Shared>) {
    shared.fanout.tools_changed(&shared.name);
}
