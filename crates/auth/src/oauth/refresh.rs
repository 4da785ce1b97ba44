//! Refreshing a sign-in ahead of its expiry.
//!
//! Token lifetimes are wall-clock times, but tokio sleeps on the monotonic
//! clock, which stands still while the machine sleeps and ignores changes to
//! the clock. So no wait is longer than [`RECHECK`]: after a resume or a
//! clock jump the deadline is looked at again within that time, and a token
//! that expired meanwhile is refreshed before the next call needs it.

use std::{future::Future, time::Duration};

/// The longest sleep between two looks at the deadline.
pub(super) const RECHECK: Duration = Duration::from_secs(30);
/// How long before expiry a long-lived token is refreshed.
const MARGIN_MS: u64 = 60_000;
/// The shortest time between two refreshes.
const MIN_INTERVAL: Duration = Duration::from_secs(2);

/// What a refresh came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refreshed {
    /// New tokens are stored.
    Fresh,
    /// It failed for now (network, server error): tried again later.
    Failed,
    /// The sign-in is gone (refused, revoked): nothing more to refresh.
    Lost,
}

/// When a token received at `received_ms` and valid until `expires_ms`
/// (Unix ms) is refreshed: [`MARGIN_MS`] before it expires, but not before
/// half its lifetime (short-lived tokens).
pub(super) fn due_ms(received_ms: u64, expires_ms: u64) -> u64 {
    let lifetime = expires_ms.saturating_sub(received_ms);
    expires_ms
        .saturating_sub(MARGIN_MS)
        .max(received_ms.saturating_add(lifetime / 2))
}

/// How long to sleep at `now_ms` before looking at a deadline `due_ms` again.
pub(super) fn wait(now_ms: u64, due_ms: u64) -> Duration {
    Duration::from_millis(due_ms.saturating_sub(now_ms)).min(RECHECK)
}

/// Refreshes whenever the current token is due, until the sign-in is lost.
/// `now_ms` reads the wall clock; `deadline` gives the current token's
/// (received, expires) in Unix ms, or `None` while there is no expiry to
/// keep (no sign-in yet, or a token without a lifetime).
pub(super) async fn keep_ahead<F, Fut>(
    now_ms: impl Fn() -> u64,
    deadline: impl Fn() -> Option<(u64, u64)>,
    mut refresh: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Refreshed>,
{
    loop {
        let Some((received, expires)) = deadline() else {
            tokio::time::sleep(RECHECK).await;
            continue;
        };
        let due = due_ms(received, expires);
        let now = now_ms();
        if now < due {
            tokio::time::sleep(wait(now, due)).await;
            continue;
        }
        match refresh().await {
            Refreshed::Lost => return,
            Refreshed::Fresh => tokio::time::sleep(MIN_INTERVAL).await,
            Refreshed::Failed => tokio::time::sleep(RECHECK).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::{
        Arc,
        atomic::{AtomicU32, AtomicU64, Ordering},
    };

    use super::*;

    #[test]
    fn long_tokens_refresh_a_minute_ahead_and_short_ones_at_half_life() {
        assert_eq!(due_ms(0, 3_600_000), 3_540_000);
        assert_eq!(due_ms(1_000, 11_000), 6_000);
        assert_eq!(wait(0, 3_540_000), RECHECK);
        assert_eq!(wait(3_530_000, 3_540_000), Duration::from_secs(10));
        assert_eq!(wait(3_600_000, 3_540_000), Duration::ZERO);
    }

    /// The machine sleeps for two hours: the monotonic clock (tokio's) moves
    /// on by seconds, the wall clock by hours. The token is refreshed within
    /// one recheck after the wake, not an hour later.
    #[tokio::test(start_paused = true)]
    async fn a_jump_of_the_wall_clock_is_noticed_within_a_recheck() {
        let wall = Arc::new(AtomicU64::new(0));
        let expires = Arc::new(AtomicU64::new(3_600_000));
        let refreshed = Arc::new(AtomicU32::new(0));
        let keeper = {
            let (wall, expires, refreshed) = (wall.clone(), expires.clone(), refreshed.clone());
            tokio::spawn(async move {
                let wall_now = wall.clone();
                keep_ahead(
                    move || wall_now.load(Ordering::SeqCst),
                    || Some((0, expires.load(Ordering::SeqCst))),
                    || {
                        refreshed.fetch_add(1, Ordering::SeqCst);
                        // The new token lives an hour from now.
                        expires.store(wall.load(Ordering::SeqCst) + 3_600_000, Ordering::SeqCst);
                        async { Refreshed::Fresh }
                    },
                )
                .await;
            })
        };
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert_eq!(refreshed.load(Ordering::SeqCst), 0);
        // Asleep for two hours; tokio's clock did not see them.
        wall.store(7_200_000, Ordering::SeqCst);
        tokio::time::sleep(RECHECK + Duration::from_secs(1)).await;
        assert_eq!(
            refreshed.load(Ordering::SeqCst),
            1,
            "refreshed after the wake"
        );
        // And not again until the new token is due.
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(refreshed.load(Ordering::SeqCst), 1);
        keeper.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_sign_in_ends_the_keeper_and_failures_are_retried() {
        let attempts = Arc::new(AtomicU32::new(0));
        let counted = attempts.clone();
        let keeper = keep_ahead(
            || 10_000_000,
            || Some((0, 1_000)),
            move || {
                let n = counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 2 {
                        Refreshed::Failed
                    } else {
                        Refreshed::Lost
                    }
                }
            },
        );
        tokio::time::timeout(RECHECK * 3, keeper).await.unwrap();
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
    }
}
