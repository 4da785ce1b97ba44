//! What one client may hold open at once. A client that opens sessions,
//! streams or waiting calls without end fills the gateway's memory and the
//! user's approval queue; each kind has a ceiling per client, and one
//! client's use never counts against another.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// Sessions one client may keep; opening one more ends its least recently
/// used session (a client that forgets to close its sessions keeps working).
pub const SESSIONS_PER_CLIENT: usize = 64;
/// Streams one client may hold open: session GET streams and 2026-07-28
/// listen streams.
pub const STREAMS_PER_CLIENT: usize = 16;
/// Calls of one client parked while it answers a server's input requests.
pub const PARKED_PER_CLIENT: usize = 32;
/// Calls of one client waiting for the user's approval.
pub const APPROVALS_PER_CLIENT: usize = 32;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Held {
    /// Open streams.
    Streams,
    /// Calls parked for the client's input.
    Parked,
    /// Calls waiting for approval.
    Approvals,
}

impl Held {
    /// The most one client may hold.
    pub fn limit(self) -> usize {
        match self {
            Held::Streams => STREAMS_PER_CLIENT,
            Held::Parked => PARKED_PER_CLIENT,
            Held::Approvals => APPROVALS_PER_CLIENT,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Held::Streams => "open streams",
            Held::Parked => "calls waiting for its input",
            Held::Approvals => "calls waiting for approval",
        }
    }
}

/// A client is at its ceiling.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "client \"{client}\" already has {limit} {what}, the most one client may have: finish or close some first",
    what = held.what()
)]
pub struct OverCap {
    /// The client.
    pub client: String,
    /// What it holds too many of.
    pub held: Held,
    /// Its ceiling.
    pub limit: usize,
}

/// The counts, per client and kind.
#[derive(Debug, Default)]
pub struct Caps {
    counts: Mutex<HashMap<(String, Held), usize>>,
}

/// One place taken; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    caps: Arc<Caps>,
    key: (String, Held),
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.caps.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

impl Caps {
    /// Takes a place of kind `held` for `client`, or says it has no more.
    pub fn take(self: &Arc<Self>, client: &str, held: Held) -> Result<Slot, OverCap> {
        let key = (client.to_owned(), held);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(key.clone()).or_default();
        if *n >= held.limit() {
            return Err(OverCap {
                client: client.to_owned(),
                held,
                limit: held.limit(),
            });
        }
        *n += 1;
        Ok(Slot {
            caps: self.clone(),
            key,
        })
    }

    /// How many `client` holds now.
    #[cfg(test)]
    pub fn held(&self, client: &str, held: Held) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(client.to_owned(), held))
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn one_client_at_its_ceiling_leaves_the_others_alone() {
        let caps = Arc::new(Caps::default());
        let slots: Vec<Slot> = (0..STREAMS_PER_CLIENT)
            .map(|_| caps.take("a", Held::Streams).unwrap())
            .collect();
        let refused = caps.take("a", Held::Streams).unwrap_err();
        assert_eq!(refused.limit, STREAMS_PER_CLIENT);
        assert!(refused.to_string().contains("16 open streams"), "{refused}");
        assert!(
            caps.take("b", Held::Streams).is_ok(),
            "another client is not counted"
        );
        assert!(
            caps.take("a", Held::Approvals).is_ok(),
            "another kind is not counted"
        );
        drop(slots);
        assert_eq!(caps.held("a", Held::Streams), 0);
        assert!(caps.take("a", Held::Streams).is_ok(), "places come back");
    }
}
