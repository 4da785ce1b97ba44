//! The log's background upkeep: retention (every ten minutes, and early when
//! the records written since the last run approach the size limit), and the
//! anchor kept in the keyring after every committed batch.

use std::{
    sync::{
        Arc, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::sync::{Notify, watch};

use crate::{
    AuditEvent, AuditLog, AuditSettings,
    chain::ChainHead,
    record::now_ms,
    vault::{Anchor, Seal},
};

/// How often retention runs without being woken.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Retention is woken once this share of the size limit was written since
/// its last run...
const WAKE_SHARE: u64 = 20;
/// ...and prunes down to this share of the limit, less the space the engine
/// keeps besides the records: the rest is room for the pages that pruning
/// frees but the file keeps, and for the records written until the next run.
const KEEP_TENTHS: u64 = 6;
/// Bytes a row takes besides its payloads (columns, index entries), roughly.
const ROW_OVERHEAD: u64 = 400;

/// What the writer has added since retention last ran.
#[derive(Debug)]
pub(crate) struct Growth {
    written: AtomicU64,
    /// Bytes that wake retention (0: no size limit).
    threshold: AtomicU64,
    wake: Notify,
}

impl Growth {
    pub(crate) fn new(settings: &AuditSettings) -> Self {
        let growth = Self {
            written: AtomicU64::new(0),
            threshold: AtomicU64::new(0),
            wake: Notify::new(),
        };
        growth.apply(settings);
        growth
    }

    pub(crate) fn apply(&self, settings: &AuditSettings) {
        let threshold = settings
            .max_bytes
            .map_or(0, |max| (max / WAKE_SHARE).max(1));
        // A new limit is applied now, not at the next scheduled run.
        if self.threshold.swap(threshold, Ordering::Relaxed) != threshold {
            self.wake.notify_one();
        }
    }

    /// Counts a committed batch; wakes retention when it is due.
    pub(crate) fn wrote(&self, events: &[AuditEvent]) {
        let bytes: u64 = events
            .iter()
            .map(|e| {
                let payload = e.request.as_ref().map_or(0, String::len)
                    + e.response.as_ref().map_or(0, String::len);
                u64::try_from(payload).unwrap_or(u64::MAX) + ROW_OVERHEAD
            })
            .sum();
        let total = self.written.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let threshold = self.threshold.load(Ordering::Relaxed);
        if threshold > 0 && total >= threshold {
            self.written.store(0, Ordering::Relaxed);
            self.wake.notify_one();
        }
    }
}

pub(crate) async fn retention_loop(log: Weak<AuditLog>, growth: Arc<Growth>) {
    let mut wait = Duration::from_secs(10);
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = growth.wake.notified() => {}
        }
        wait = PRUNE_EVERY;
        let Some(log) = log.upgrade() else { return };
        let settings = log.settings();
        let older_than = settings
            .retention_days
            .map(|days| now_ms() - i64::from(days) * 86_400_000);
        let reserve = log.db().reserve();
        let keep = settings.max_bytes.map(|max| {
            (max / 10 * KEEP_TENTHS)
                .saturating_sub(reserve)
                .max(max / 4)
        });
        match log.prune(older_than, keep, 2000).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(removed = n, "audit retention pruned old records");
                if let Err(e) = log.db().checkpoint().await {
                    tracing::debug!(error = %e, "audit checkpoint after pruning failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "audit retention failed"),
        }
    }
}

/// Writes the newest committed head to the keyring, one write at a time: a
/// burst of batches is written as its newest. Ends, after writing the last
/// head, when the writer does.
pub(crate) async fn anchor_loop(seal: Seal, mut heads: watch::Receiver<Option<ChainHead>>) {
    let mut written: Option<ChainHead> = None;
    let mut failing = false;
    loop {
        let ended = heads.changed().await.is_err();
        let head = heads.borrow_and_update().clone();
        if let Some((id, hash)) = head.clone().filter(|_| head != written) {
            match seal.set_anchor(&Anchor { id, hash }).await {
                Ok(()) => {
                    if failing {
                        tracing::info!("the audit anchor is kept in the keyring again");
                    }
                    failing = false;
                    written = head;
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "the audit anchor could not be kept in the keyring: records removed from the end of the log would go unnoticed");
                    }
                    failing = true;
                }
            }
        }
        if ended {
            return;
        }
    }
}
