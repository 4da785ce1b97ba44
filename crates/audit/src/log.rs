//! The audit pipeline: records in, redacted and chained rows out, in batches.
//!
//! One writer task owns the database writes. It takes whatever records are
//! waiting (up to a batch; a batch of relaxed records only waits up to 10 ms
//! for more), commits them in one transaction (group commit), then
//! acknowledges each and broadcasts the batch to live subscribers. The
//! queue is bounded in records and in bytes: when the disk cannot keep up,
//! callers wait (back-pressure) instead of memory growing. Each committed
//! batch moves the anchor kept in the keyring and counts towards the size
//! that wakes retention early (see [`crate::upkeep`]).

use std::{
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc, oneshot, watch};

use crate::{
    AuditDb, AuditEvent, AuditRecord, Redactor, Vault,
    chain::{ChainHead, Writer},
    payload::{DEFAULT_MAX_PAYLOAD, MIN_MAX_PAYLOAD, prepare},
    upkeep::{Growth, anchor_loop, retention_loop},
    vault::{ChainKey, KeyState},
};

/// Records waiting for the writer before callers are made to wait.
const QUEUE: usize = 1024;
/// Bytes of stored JSON waiting for the writer before callers are made to
/// wait, counted in [`BUDGET_UNIT`]s: with large results the record count
/// alone would let the queue hold 1024 x 2 x 64 KiB.
const QUEUE_BYTES: usize = 8 * 1024 * 1024;
const BUDGET_UNIT: usize = 1024;
/// Records committed together at most.
const MAX_BATCH: usize = 1024;
/// Longest a batch of relaxed records waits for more before its commit: at a
/// few hundred calls a second, one commit per call would cost the writer more
/// than the calls cost the gateway. A strict record ends the wait at once.
const LINGER: Duration = Duration::from_millis(10);
/// Batches a live subscriber may fall behind before it misses some.
const LIVE_BUFFER: usize = 64;
/// Live records carry at most this much of a request or result; the full
/// record is one query away.
const LIVE_PREVIEW: usize = 4096;

/// Settings of the audit log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AuditSettings {
    /// Release a call's response only after its record is committed.
    pub strict: bool,
    /// Delete records older than this many days (None: keep).
    pub retention_days: Option<u32>,
    /// Keep the log's files under this many bytes (None: no limit).
    pub max_bytes: Option<u64>,
    /// Requests and results longer than this are stored as their first
    /// bytes, full length and SHA-256 (see [`crate::payload`]).
    pub max_payload_bytes: u32,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            strict: true,
            retention_days: Some(30),
            max_bytes: Some(1024 * 1024 * 1024),
            max_payload_bytes: DEFAULT_MAX_PAYLOAD,
        }
    }
}

impl AuditSettings {
    /// The settings without limits: keep everything, store payloads whole
    /// up to 64 MiB.
    pub fn unbounded(strict: bool) -> Self {
        Self {
            strict,
            retention_days: None,
            max_bytes: None,
            max_payload_bytes: 64 * 1024 * 1024,
        }
    }

    fn payload_cap(&self) -> usize {
        usize::try_from(self.max_payload_bytes.max(MIN_MAX_PAYLOAD)).unwrap_or(usize::MAX)
    }
}

/// Why a record could not be committed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the audit log could not record this message: {0}")]
pub struct NotRecorded(pub String);

struct Job {
    event: AuditEvent,
    ack: Option<oneshot::Sender<Result<i64, NotRecorded>>>,
    /// Its share of the byte budget, given back once it is written.
    _budget: OwnedSemaphorePermit,
}

/// Handle to the running audit log.
pub struct AuditLog {
    db: AuditDb,
    queue: mpsc::Sender<Job>,
    budget: Arc<Semaphore>,
    live: broadcast::Sender<Arc<[AuditEvent]>>,
    redactor: Arc<Redactor>,
    strict: AtomicBool,
    payload_cap: AtomicUsize,
    settings: RwLock<AuditSettings>,
    /// The chain's key (None: unkeyed), which pruning needs too.
    key: Option<ChainKey>,
    key_state: KeyState,
    vault: Option<Arc<dyn Vault>>,
    growth: Arc<Growth>,
    stop: tokio_util::sync::CancellationToken,
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    retention: Mutex<Option<tokio::task::JoinHandle<()>>>,
    anchor: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Starts the writer, the retention task and, with a key, the task that
    /// keeps the anchor in `vault`. The chain is keyed with the log's key
    /// from `vault` (made now when the log has none); without a vault, or
    /// when it cannot be used, the chain is plain SHA-256 and
    /// [`AuditLog::key_state`] says why.
    pub async fn start(
        db: AuditDb,
        redactor: Arc<Redactor>,
        settings: AuditSettings,
        vault: Option<Arc<dyn Vault>>,
    ) -> crate::Result<Arc<Self>> {
        let seal = db.seal(vault.clone());
        let (writer, key_state) = Writer::connect(&db, &seal).await?;
        if let KeyState::Unkeyed(why) = &key_state {
            tracing::warn!(reason = %why, "the audit chain is not keyed: someone who can write the database could rebuild it unnoticed");
        }
        let key = writer.key().cloned();
        let (queue, rx) = mpsc::channel(QUEUE);
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        let (heads, newest) = watch::channel(None);
        let growth = Arc::new(Growth::new(&settings));
        let log = Arc::new(Self {
            db: db.clone(),
            queue,
            budget: Arc::new(Semaphore::new(QUEUE_BYTES / BUDGET_UNIT)),
            live: live.clone(),
            redactor: redactor.clone(),
            strict: AtomicBool::new(settings.strict),
            payload_cap: AtomicUsize::new(settings.payload_cap()),
            settings: RwLock::new(settings),
            key: key.clone(),
            key_state,
            vault,
            growth: growth.clone(),
            stop: tokio_util::sync::CancellationToken::new(),
            writer: Mutex::new(None),
            retention: Mutex::new(None),
            anchor: Mutex::new(None),
        });
        let outlets = Outlets {
            live,
            heads,
            growth,
        };
        let writer = tokio::spawn(write_loop(writer, rx, outlets, log.stop.clone()));
        let retention = tokio::spawn(retention_loop(Arc::downgrade(&log), log.growth.clone()));
        *log.writer.lock().unwrap_or_else(|e| e.into_inner()) = Some(writer);
        *log.retention.lock().unwrap_or_else(|e| e.into_inner()) = Some(retention);
        if key.is_some() {
            let anchor = tokio::spawn(anchor_loop(seal, newest));
            *log.anchor.lock().unwrap_or_else(|e| e.into_inner()) = Some(anchor);
        }
        Ok(log)
    }

    /// Whether the chain is keyed, and why not.
    pub fn key_state(&self) -> &KeyState {
        &self.key_state
    }

    /// Checks the chain with the log's key and anchor (see [`AuditDb::verify`]).
    pub async fn verify(&self) -> crate::Result<crate::Verification> {
        self.db.verify(self.vault.clone()).await
    }

    /// Deletes the oldest records, `chunk` at a time, while they are older
    /// than `older_than` (unix ms) or the log's files are over `max_bytes`;
    /// the retention anchor is sealed with the chain's key. Returns how many
    /// went.
    pub async fn prune(
        &self,
        older_than: Option<i64>,
        max_bytes: Option<u64>,
        chunk: i64,
    ) -> crate::Result<u64> {
        self.db
            .prune(older_than, max_bytes, chunk, self.key.as_ref())
            .await
    }

    /// The database behind the log.
    pub fn db(&self) -> &AuditDb {
        &self.db
    }

    /// The redaction rules in force.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Whether responses wait for their record to be committed.
    pub fn is_strict(&self) -> bool {
        self.strict.load(Ordering::Relaxed)
    }

    /// Current settings.
    pub fn settings(&self) -> AuditSettings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Applies new settings (strict mode at once, retention at the next prune).
    pub fn apply(&self, settings: AuditSettings) {
        self.strict.store(settings.strict, Ordering::Relaxed);
        self.payload_cap
            .store(settings.payload_cap(), Ordering::Relaxed);
        self.growth.apply(&settings);
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }

    /// New records, in committed batches. A subscriber that falls more than
    /// a buffer behind misses batches (`RecvError::Lagged`) and can catch up
    /// from the database; it never slows the gateway.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<[AuditEvent]>> {
        self.live.subscribe()
    }

    /// Records a message. In strict mode, returns once it is committed (and
    /// fails if it could not be); otherwise once it is queued.
    pub async fn record(&self, record: AuditRecord) -> Result<(), NotRecorded> {
        if self.is_strict() {
            self.record_committed(record).await.map(|_| ())
        } else {
            let event = prepare(&self.redactor, record, self.payload_cap());
            self.enqueue(event, None).await
        }
    }

    /// Records a message and waits for its commit; returns its id.
    pub async fn record_committed(&self, record: AuditRecord) -> Result<i64, NotRecorded> {
        let (ack, done) = oneshot::channel();
        // Redacting and serializing here, in the caller's task, spreads that
        // work over the callers instead of the one writer.
        let event = prepare(&self.redactor, record, self.payload_cap());
        self.enqueue(event, Some(ack)).await?;
        done.await
            .map_err(|_| NotRecorded("the audit writer has stopped".into()))?
    }

    fn payload_cap(&self) -> usize {
        self.payload_cap.load(Ordering::Relaxed)
    }

    /// Queues a prepared row, waiting while the queue is full (in records or
    /// in bytes).
    async fn enqueue(
        &self,
        event: AuditEvent,
        ack: Option<oneshot::Sender<Result<i64, NotRecorded>>>,
    ) -> Result<(), NotRecorded> {
        let stopped = || NotRecorded("the audit writer has stopped".into());
        let bytes = event.request.as_ref().map_or(0, String::len)
            + event.response.as_ref().map_or(0, String::len);
        let units = (bytes / BUDGET_UNIT).clamp(1, QUEUE_BYTES / BUDGET_UNIT);
        let budget = self
            .budget
            .clone()
            .acquire_many_owned(u32::try_from(units).unwrap_or(u32::MAX))
            .await
            .map_err(|_| stopped())?;
        self.queue
            .send(Job {
                event,
                ack,
                _budget: budget,
            })
            .await
            .map_err(|_| stopped())
    }

    /// Stops taking records, commits what is queued, and stops the tasks.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        if let Some(retention) = self
            .retention
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            retention.abort();
        }
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(writer) = writer {
            let _ = tokio::time::timeout(Duration::from_secs(10), writer).await;
        }
        // The writer is done: the anchor task writes the newest head and ends.
        let anchor = self.anchor.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(anchor) = anchor {
            let _ = tokio::time::timeout(Duration::from_secs(5), anchor).await;
        }
    }
}

/// Where a committed batch is announced.
struct Outlets {
    live: broadcast::Sender<Arc<[AuditEvent]>>,
    /// The newest head, for the anchor.
    heads: watch::Sender<Option<ChainHead>>,
    growth: Arc<Growth>,
}

async fn write_loop(
    mut writer: Writer,
    mut rx: mpsc::Receiver<Job>,
    outlets: Outlets,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    loop {
        let received = tokio::select! {
            n = rx.recv_many(&mut jobs, MAX_BATCH) => n,
            // On shutdown stop taking new records; what is queued still gets committed.
            () = stop.cancelled(), if !rx.is_closed() => {
                rx.close();
                continue;
            }
        };
        if received == 0 {
            break;
        }
        linger(&mut rx, &mut jobs, &stop).await;
        let mut events: Vec<AuditEvent> = jobs
            .iter_mut()
            .map(|j| std::mem::take(&mut j.event))
            .collect();
        let mut outcome = writer.append(&mut events).await;
        let mut attempt = 0;
        // A busy or briefly failing disk must not lose records: retry before giving up.
        while let Err(e) = &outcome {
            attempt += 1;
            if attempt > 5 {
                break;
            }
            tracing::warn!(error = %e, attempt, "audit commit failed; retrying");
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            outcome = writer.append(&mut events).await;
        }
        match outcome {
            Ok(head) => {
                for (job, event) in jobs.drain(..).zip(&events) {
                    if let Some(ack) = job.ack {
                        let _ = ack.send(Ok(event.id));
                    }
                }
                outlets.heads.send_replace(Some(head));
                outlets.growth.wrote(&events);
                if outlets.live.receiver_count() > 0 {
                    let _ = outlets.live.send(events.iter().map(live_view).collect());
                }
            }
            Err(e) => {
                tracing::error!(error = %e, records = jobs.len(), "audit records could not be committed");
                for job in jobs.drain(..) {
                    if let Some(ack) = job.ack {
                        let _ = ack.send(Err(NotRecorded(e.to_string())));
                    }
                }
            }
        }
    }
}

/// Gathers more relaxed records for the batch (at most [`LINGER`]); nobody
/// waits for these, so their commit can wait for company.
async fn linger(
    rx: &mut mpsc::Receiver<Job>,
    jobs: &mut Vec<Job>,
    stop: &tokio_util::sync::CancellationToken,
) {
    let relaxed = |jobs: &Vec<Job>| jobs.iter().all(|j| j.ack.is_none());
    let until = tokio::time::Instant::now() + LINGER;
    while relaxed(jobs) && jobs.len() < MAX_BATCH && !stop.is_cancelled() {
        let more = tokio::select! {
            n = rx.recv_many(jobs, MAX_BATCH - jobs.len()) => n,
            () = tokio::time::sleep_until(until) => 0,
            () = stop.cancelled() => 0,
        };
        if more == 0 {
            break;
        }
    }
}

/// A record as the live stream carries it: large payloads cut to a preview.
fn live_view(event: &AuditEvent) -> AuditEvent {
    let cut = |text: &Option<String>| {
        text.as_ref().map(|t| {
            if t.len() <= LIVE_PREVIEW {
                return t.clone();
            }
            let mut end = LIVE_PREVIEW;
            while !t.is_char_boundary(end) {
                end -= 1;
            }
            serde_json::json!({ "truncated": true, "preview": &t[..end] }).to_string()
        })
    };
    AuditEvent {
        request: cut(&event.request),
        response: cut(&event.response),
        ..event.clone()
    }
}
