//! `subscriptions/listen` streams being opened, so that a client's next
//! requests see its subscriptions in place.
//!
//! rmcp acknowledges a listen stream before the gateway's handler runs, and
//! the handler then subscribes upstream. A client that, once acknowledged,
//! changes a resource at once (a tool call) could otherwise outrun that
//! subscription and never hear of the change. The HTTP guard registers every
//! listen request of a client as it arrives; the client's other requests
//! wait (briefly, bounded) until those streams are fully open.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::sync::Notify;

/// How long a request waits for its client's listen streams to open.
pub(crate) const OPENING_LIMIT: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
struct State {
    open: AtomicBool,
    changed: Notify,
}

impl State {
    fn finish(&self) {
        if !self.open.swap(true, Ordering::AcqRel) {
            self.changed.notify_waiters();
        }
    }
}

/// One listen stream being opened; it counts as open once [`Self::opened`]
/// is called or the request carrying it is gone.
#[derive(Debug)]
pub(crate) struct Opening(Arc<State>);

impl Opening {
    /// The stream is open: its subscriptions are in place upstream.
    pub fn opened(&self) {
        self.0.finish();
    }
}

impl Drop for Opening {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// The listen streams being opened, per client.
#[derive(Debug, Default)]
pub(crate) struct Openings {
    by_client: Mutex<HashMap<String, Vec<Arc<State>>>>,
}

impl Openings {
    /// Registers a listen request of `client`, as it arrives.
    pub fn begin(&self, client: &str) -> Arc<Opening> {
        let state = Arc::new(State::default());
        let mut map = lock(&self.by_client);
        let list = map.entry(client.to_owned()).or_default();
        list.retain(|s| !s.open.load(Ordering::Acquire));
        list.push(state.clone());
        Arc::new(Opening(state))
    }

    /// Waits (at most `limit`) until the listen streams `client` has asked
    /// for so far are open.
    pub async fn settled(&self, client: &str, limit: Duration) {
        let pending: Vec<Arc<State>> = {
            let mut map = lock(&self.by_client);
            let Some(list) = map.get_mut(client) else {
                return;
            };
            list.retain(|s| !s.open.load(Ordering::Acquire));
            if list.is_empty() {
                map.remove(client);
                return;
            }
            list.clone()
        };
        let _ = tokio::time::timeout(limit, async {
            for state in pending {
                loop {
                    let changed = state.changed.notified();
                    if state.open.load(Ordering::Acquire) {
                        break;
                    }
                    changed.await;
                }
            }
        })
        .await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_until_opened_or_dropped() {
        let openings = Arc::new(Openings::default());
        let first = openings.begin("a");
        let second = openings.begin("a");
        let waiter = tokio::spawn({
            let openings = openings.clone();
            async move { openings.settled("a", Duration::from_secs(30)).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        first.opened();
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "one stream is still opening");
        drop(second);
        waiter.await.unwrap();
        // Another client never waits, nor does one with nothing pending.
        tokio::time::timeout(
            Duration::from_millis(1),
            openings.settled("b", Duration::from_secs(30)),
        )
        .await
        .unwrap();
        tokio::time::timeout(
            Duration::from_millis(1),
            openings.settled("a", Duration::from_secs(30)),
        )
        .await
        .unwrap();
    }
}
