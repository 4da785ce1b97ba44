//! The audit pipeline: records in, redacted and chained rows out, in batches.
//!
//! One writer task owns the database writes. It takes whatever records are
//! waiting (up to a batch; a batch of relaxed records only waits up to 10 ms
//! for more), commits them in one transaction (group commit), then
//! acknowledges each and broadcasts the batch to live subscribers. The
//! queue is bounded in records and in bytes: when the disk cannot keep up,
//! callers wait (back-pressure) instead of memory growing.

use std::{
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc, oneshot};

use crate::{AuditDb, AuditEvent, AuditRecord, Redactor, chain::Writer, record::now_ms};

/// Largest stored size of a request or result; larger ones keep a preview.
pub const MAX_STORED_JSON: usize = 64 * 1024;
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
    /// Keep the database under this many bytes (None: no limit).
    pub max_bytes: Option<u64>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            strict: true,
            retention_days: Some(30),
            max_bytes: Some(1024 * 1024 * 1024),
        }
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
    settings: RwLock<AuditSettings>,
    stop: tokio_util::sync::CancellationToken,
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    retention: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Starts the writer and the retention task.
    pub async fn start(
        db: AuditDb,
        redactor: Arc<Redactor>,
        settings: AuditSettings,
    ) -> crate::Result<Arc<Self>> {
        let writer = Writer::connect(&db).await?;
        let (queue, rx) = mpsc::channel(QUEUE);
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        let log = Arc::new(Self {
            db: db.clone(),
            queue,
            budget: Arc::new(Semaphore::new(QUEUE_BYTES / BUDGET_UNIT)),
            live: live.clone(),
            redactor: redactor.clone(),
            strict: AtomicBool::new(settings.strict),
            settings: RwLock::new(settings),
            stop: tokio_util::sync::CancellationToken::new(),
            writer: Mutex::new(None),
            retention: Mutex::new(None),
        });
        let writer = tokio::spawn(write_loop(writer, rx, live, log.stop.clone()));
        let retention = tokio::spawn(retention_loop(Arc::downgrade(&log)));
        *log.writer.lock().unwrap_or_else(|e| e.into_inner()) = Some(writer);
        *log.retention.lock().unwrap_or_else(|e| e.into_inner()) = Some(retention);
        Ok(log)
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
            let event = prepare(&self.redactor, record);
            self.enqueue(event, None).await
        }
    }

    /// Records a message and waits for its commit; returns its id.
    pub async fn record_committed(&self, record: AuditRecord) -> Result<i64, NotRecorded> {
        let (ack, done) = oneshot::channel();
        // Redacting and serializing here, in the caller's task, spreads that
        // work over the callers instead of the one writer.
        let event = prepare(&self.redactor, record);
        self.enqueue(event, Some(ack)).await?;
        done.await
            .map_err(|_| NotRecorded("the audit writer has stopped".into()))?
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
    }
}

async fn write_loop(
    mut writer: Writer,
    mut rx: mpsc::Receiver<Job>,
    live: broadcast::Sender<Arc<[AuditEvent]>>,
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
            Ok(()) => {
                for (job, event) in jobs.drain(..).zip(&events) {
                    if let Some(ack) = job.ack {
                        let _ = ack.send(Ok(event.id));
                    }
                }
                if live.receiver_count() > 0 {
                    let _ = live.send(events.iter().map(live_view).collect());
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

/// Redacts, serializes and caps a record into a row (id and hashes come at commit).
/// The record is taken by value: its payloads are redacted in place, never
/// copied (a large result would otherwise be held twice).
pub(crate) fn prepare(redactor: &Redactor, mut record: AuditRecord) -> AuditEvent {
    let (request, request_size) = stored(redactor, record.request.take());
    let (response, response_size) = stored(redactor, record.response.take());
    let masked = |text: &Option<String>| {
        text.clone().map(|mut m| {
            redactor.redact_str(&mut m);
            m
        })
    };
    let error_message = masked(&record.error_message);
    // Names can carry secrets too: a resource URI with credentials or a token.
    let name = masked(&record.name);
    AuditEvent {
        id: 0,
        ts: record.ts,
        client: record.client,
        session: record.session,
        server: record.server,
        direction: record.direction.as_str().into(),
        method: record.method,
        name,
        request,
        request_size,
        response,
        response_size,
        status: record.status.as_str().into(),
        error_code: record.error_code,
        error_message,
        latency_us: record.latency_us,
        decision: record.decision.to_text(),
        rule: record.rule,
        protocol_version: record.protocol_version,
        prev_hash: String::new(),
        hash: String::new(),
    }
}

fn stored(redactor: &Redactor, value: Option<Value>) -> (Option<String>, i64) {
    let Some(mut value) = value else {
        return (None, 0);
    };
    redactor.redact(&mut value);
    let text = value.to_string();
    let size = i64::try_from(text.len()).unwrap_or(i64::MAX);
    if text.len() <= MAX_STORED_JSON {
        return (Some(text), size);
    }
    let mut cut = MAX_STORED_JSON - 256;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let preview = serde_json::json!({ "truncated": true, "size": size, "preview": &text[..cut] });
    (Some(preview.to_string()), size)
}

/// How often retention runs.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

async fn retention_loop(log: std::sync::Weak<AuditLog>) {
    let mut wait = Duration::from_secs(10);
    loop {
        tokio::time::sleep(wait).await;
        wait = PRUNE_EVERY;
        let Some(log) = log.upgrade() else { return };
        let settings = log.settings();
        let older_than = settings
            .retention_days
            .map(|days| now_ms() - i64::from(days) * 86_400_000);
        match log.db.prune(older_than, settings.max_bytes, 2000).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "audit retention pruned old records"),
            Err(e) => tracing::warn!(error = %e, "audit retention failed"),
        }
    }
}
