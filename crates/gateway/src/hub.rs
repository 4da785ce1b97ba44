//! The set of configured upstream servers, kept in step with the store.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use serde::Serialize;
use switchboard_store::ServerRecord;

use crate::upstream::{Environment, Upstream, UpstreamStatus};

/// All upstreams, by name. Disabled servers have no entry.
pub struct Hub {
    env: Environment,
    upstreams: RwLock<BTreeMap<String, Arc<Upstream>>>,
    /// Enabled stdio servers whose command the user has not approved.
    blocked: RwLock<BTreeMap<String, ServerRecord>>,
}

/// Why a server whose launch is not approved does not run.
pub fn blocked_reason(name: &str) -> String {
    format!(
        "its command is new or changed and has not been approved; review it with \
         `switchboard servers list` and run `switchboard servers approve {name}`"
    )
}

/// A server's configuration with its live status, as reported to the CLI/UI.
#[derive(Debug, Clone, Serialize)]
pub struct ServerView {
    /// Name.
    pub name: String,
    /// Status; None when the server is disabled.
    pub status: Option<UpstreamStatus>,
}

impl Hub {
    pub(crate) fn new(env: Environment) -> Self {
        Self {
            env,
            upstreams: RwLock::new(BTreeMap::new()),
            blocked: RwLock::new(BTreeMap::new()),
        }
    }

    /// OAuth sign-in of the remote servers.
    pub fn oauth(&self) -> &switchboard_auth::oauth::OAuth {
        &self.env.oauth
    }

    /// The upstream called `name`, when enabled.
    pub fn get(&self, name: &str) -> Option<Arc<Upstream>> {
        self.read().get(name).cloned()
    }

    /// Every enabled upstream, in name order.
    pub fn all(&self) -> Vec<Arc<Upstream>> {
        self.read().values().cloned().collect()
    }

    /// Statuses of all enabled upstreams, blocked ones included.
    pub fn statuses(&self) -> BTreeMap<String, UpstreamStatus> {
        let mut out: BTreeMap<String, UpstreamStatus> = self
            .read()
            .iter()
            .map(|(name, u)| (name.clone(), u.status()))
            .collect();
        for name in self
            .blocked
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
        {
            out.insert(name.clone(), UpstreamStatus::blocked(blocked_reason(name)));
        }
        out
    }

    /// Whether `name` is enabled but waiting for its command to be approved.
    pub fn is_blocked(&self, name: &str) -> bool {
        self.blocked
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(name)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Upstream>>> {
        self.upstreams.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Brings the running set in line with `records`: starts new and enabled
    /// servers, stops removed and disabled ones, restarts changed ones.
    /// Returns true when the set of servers changed.
    pub async fn reconcile(&self, records: &[ServerRecord]) -> bool {
        let (wanted, blocked): (Vec<&ServerRecord>, Vec<&ServerRecord>) = records
            .iter()
            .filter(|r| r.enabled)
            .partition(|r| r.launch_approved());
        for record in &blocked {
            tracing::warn!(server = %record.name, "not started: {}", blocked_reason(&record.name));
        }
        *self.blocked.write().unwrap_or_else(|e| e.into_inner()) = blocked
            .into_iter()
            .map(|r| (r.name.clone(), r.clone()))
            .collect();
        let wanted: BTreeMap<&str, &ServerRecord> =
            wanted.into_iter().map(|r| (r.name.as_str(), r)).collect();
        let mut stopped = Vec::new();
        let mut changed = false;
        {
            let mut map = self.upstreams.write().unwrap_or_else(|e| e.into_inner());
            map.retain(|name, upstream| {
                let keep = wanted.get(name.as_str()).is_some_and(|r| {
                    r.transport == upstream.record().transport
                        && r.sandbox == upstream.record().sandbox
                });
                if !keep {
                    stopped.push(upstream.clone());
                }
                keep
            });
            for (name, record) in &wanted {
                if !map.contains_key(*name) {
                    tracing::info!(server = name, "starting upstream");
                    map.insert(
                        (*name).to_owned(),
                        Upstream::start((*record).clone(), self.env.clone()),
                    );
                    changed = true;
                }
            }
        }
        changed |= !stopped.is_empty();
        for upstream in stopped {
            tracing::info!(server = upstream.name(), "stopping upstream");
            upstream.shutdown().await;
        }
        changed
    }

    /// Stops and starts the server called `name` again (a fresh process for
    /// stdio servers). Returns false when no such server is running.
    pub async fn restart(&self, name: &str) -> bool {
        let Some(old) = self.get(name) else {
            return false;
        };
        tracing::info!(server = name, "restarting upstream");
        old.shutdown().await;
        let fresh = Upstream::start(old.record().clone(), self.env.clone());
        let mut map = self.upstreams.write().unwrap_or_else(|e| e.into_inner());
        // Replace only the instance we stopped: a reconcile meanwhile wins.
        match map.get(name) {
            Some(current) if Arc::ptr_eq(current, &old) => {
                map.insert(name.to_owned(), fresh);
                true
            }
            _ => {
                drop(map);
                fresh.stop_now();
                self.get(name).is_some()
            }
        }
    }

    /// The last `max_bytes` of what the stdio server `name` wrote to stderr.
    pub async fn stderr_log(&self, name: &str, max_bytes: u64) -> std::io::Result<String> {
        crate::upstream::stderr_tail(&self.env.log_dir, name, max_bytes).await
    }

    /// Waits (at most `limit`) until no upstream is still starting.
    pub async fn settled(&self, limit: Duration) {
        let all = self.all();
        let waits = all.iter().map(|u| u.settled(limit));
        futures::future::join_all(waits).await;
    }

    /// Stops every upstream.
    pub async fn shutdown(&self) {
        let all: Vec<_> = {
            let mut map = self.upstreams.write().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut *map).into_values().collect()
        };
        futures::future::join_all(all.iter().map(|u| u.shutdown())).await;
    }
}
