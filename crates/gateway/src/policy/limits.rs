//! Rate limits: a token bucket per client, per server and per tool.

use std::{collections::HashMap, sync::Mutex, time::Instant};

use serde::{Deserialize, Serialize};
use switchboard_store::{RateBucket, RateTaken, Store};

/// Calls per minute allowed (None: unlimited). A bucket holds a minute's
/// worth, so short bursts up to the limit pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    /// Per client.
    pub per_client: Option<u32>,
    /// Per server.
    pub per_server: Option<u32>,
    /// Per tool (of a server).
    pub per_tool: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    per_minute: u32,
}

impl Bucket {
    fn refill(&mut self, per_minute: u32, now: Instant) {
        if self.per_minute != per_minute {
            // The limit changed: start over at the new size.
            *self = Bucket {
                tokens: f64::from(per_minute),
                at: now,
                per_minute,
            };
            return;
        }
        let rate = f64::from(per_minute) / 60.0;
        let elapsed = now.duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(per_minute));
        self.at = now;
    }

    /// Seconds until one token is available.
    fn wait(&self) -> f64 {
        let rate = f64::from(self.per_minute) / 60.0;
        ((1.0 - self.tokens) / rate).max(0.0)
    }
}

#[derive(Debug, Default)]
pub(super) struct Limiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    /// Takes a token from every applicable bucket, or none when one is empty;
    /// then returns which limit refused and the seconds to wait.
    pub fn take(
        &self,
        limits: &RateLimits,
        client: &str,
        server: &str,
        tool: &str,
    ) -> Result<(), (String, f64)> {
        let keys = keys(limits, client, server, tool);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let mut refusal: Option<(String, f64)> = None;
        for (limit, key, label) in &keys {
            let Some(per_minute) = *limit else { continue };
            if per_minute == 0 {
                return Err(closed(label));
            }
            let bucket = buckets.entry(key.clone()).or_insert(Bucket {
                tokens: f64::from(per_minute),
                at: now,
                per_minute,
            });
            bucket.refill(per_minute, now);
            if bucket.tokens < 1.0 {
                let wait = bucket.wait();
                if refusal.as_ref().is_none_or(|(_, w)| wait > *w) {
                    refusal = Some((
                        format!("{label} is limited to {per_minute} calls/min"),
                        wait,
                    ));
                }
            }
        }
        if let Some(refused) = refusal {
            return Err(refused);
        }
        for (limit, key, _) in &keys {
            if limit.is_some()
                && let Some(bucket) = buckets.get_mut(key)
            {
                bucket.tokens -= 1.0;
            }
        }
        Ok(())
    }

    /// Gives back the token a call took that never ran.
    pub fn refund(&self, limits: &RateLimits, client: &str, server: &str, tool: &str) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        for (limit, key, _) in keys(limits, client, server, tool) {
            if let Some(per_minute) = limit
                && let Some(bucket) = buckets.get_mut(&key)
            {
                bucket.tokens = (bucket.tokens + 1.0).min(f64::from(per_minute));
            }
        }
    }
}

/// The budgets a call of `tool` by `client` takes from: (limit, key, label).
fn keys(
    limits: &RateLimits,
    client: &str,
    server: &str,
    tool: &str,
) -> [(Option<u32>, String, String); 3] {
    [
        (
            limits.per_client,
            format!("client:{client}"),
            format!("client \"{client}\""),
        ),
        (
            limits.per_server,
            format!("server:{server}"),
            format!("server \"{server}\""),
        ),
        (
            limits.per_tool,
            // Server names are letters, digits, _ and -: the first / ends one.
            format!("tool:{server}/{tool}"),
            format!("tool \"{server}__{tool}\""),
        ),
    ]
}

fn closed(label: &str) -> (String, f64) {
    (format!("{label} may not make calls (limit 0/min)"), 60.0)
}

/// The buckets of a call kept in a database several instances share: every
/// instance takes from the same ones.
pub(super) struct Shared {
    buckets: Vec<RateBucket>,
    labels: Vec<String>,
}

impl Shared {
    pub fn new(
        limits: &RateLimits,
        client: &str,
        server: &str,
        tool: &str,
    ) -> Result<Self, (String, f64)> {
        let mut shared = Shared {
            buckets: Vec::new(),
            labels: Vec::new(),
        };
        for (limit, key, label) in keys(limits, client, server, tool) {
            let Some(per_minute) = limit else { continue };
            if per_minute == 0 {
                return Err(closed(&label));
            }
            shared.buckets.push(RateBucket { key, per_minute });
            shared.labels.push(label);
        }
        Ok(shared)
    }

    /// Takes a token from each, or says which refused. What cannot be
    /// checked is refused: the database is where the budget is.
    pub async fn take(&self, store: &Store) -> Result<(), (String, f64)> {
        if self.buckets.is_empty() {
            return Ok(());
        }
        match store.take_rate(&self.buckets).await {
            Ok(RateTaken::Taken) => Ok(()),
            Ok(RateTaken::Empty { index, wait }) => Err((
                format!(
                    "{} is limited to {} calls/min",
                    self.labels[index], self.buckets[index].per_minute
                ),
                wait,
            )),
            Err(e) => {
                tracing::error!(error = %e, "cannot check the shared rate limits; refusing the call");
                Err((format!("the rate limit cannot be checked ({e})"), 1.0))
            }
        }
    }

    /// Gives the tokens back (in the background: a ticket is dropped anywhere).
    pub fn refund(self, store: &Store) {
        if self.buckets.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = store.clone();
        runtime.spawn(async move {
            if let Err(e) = store.refund_rate(&self.buckets).await {
                tracing::warn!(error = %e, "cannot give back a rate-limit token");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_past_the_budget_is_refused_with_a_wait() {
        let limiter = Limiter::default();
        let limits = RateLimits {
            per_client: Some(3),
            ..Default::default()
        };
        for _ in 0..3 {
            assert!(limiter.take(&limits, "c", "s", "t").is_ok());
        }
        let (why, wait) = limiter.take(&limits, "c", "s", "t").unwrap_err();
        assert!(why.contains("client \"c\""), "{why}");
        assert!(wait > 0.0 && wait <= 20.0, "{wait}");
        // Another client has its own budget.
        assert!(limiter.take(&limits, "d", "s", "t").is_ok());
    }

    #[test]
    fn a_refused_call_takes_nothing() {
        let limiter = Limiter::default();
        let limits = RateLimits {
            per_client: Some(10),
            per_tool: Some(1),
            ..Default::default()
        };
        assert!(limiter.take(&limits, "c", "s", "t").is_ok());
        assert!(limiter.take(&limits, "c", "s", "t").is_err());
        // The client budget was not spent by the refused call: 9 left
        // (each on a fresh tool, whose own budget is 1).
        for i in 0..9 {
            assert!(limiter.take(&limits, "c", "s", &format!("t{i}")).is_ok());
        }
        let (why, _) = limiter.take(&limits, "c", "s", "t-last").unwrap_err();
        assert!(why.contains("client"), "{why}");
    }

    #[test]
    fn a_refund_gives_the_token_back_once() {
        let limiter = Limiter::default();
        let limits = RateLimits {
            per_client: Some(1),
            ..Default::default()
        };
        assert!(limiter.take(&limits, "c", "s", "t").is_ok());
        assert!(limiter.take(&limits, "c", "s", "t").is_err());
        limiter.refund(&limits, "c", "s", "t");
        limiter.refund(&limits, "c", "s", "t");
        assert!(limiter.take(&limits, "c", "s", "t").is_ok());
        assert!(
            limiter.take(&limits, "c", "s", "t").is_err(),
            "never more than the budget"
        );
    }
}
