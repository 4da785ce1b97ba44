//! The debug record of OAuth attempts: which metadata URLs were read, how
//! the client was registered, which scopes were asked for, what the token
//! endpoint answered. Secrets never enter it: URLs lose their query, bodies
//! are reduced to an `error` code or a summary. It is kept in a file of the
//! data directory ([`Recorder`]), so it outlives restarts, within a bound.

use std::{
    collections::{BTreeMap, VecDeque},
    path::PathBuf,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

use crate::Sensitive;

/// Attempts kept per server.
const KEEP_ATTEMPTS: usize = 8;
/// Steps kept per attempt (a long-lived connection refreshes many times).
const KEEP_STEPS: usize = 200;
/// Characters kept of a step's detail.
const KEEP_DETAIL: usize = 500;
/// The largest the record file grows; the oldest attempts go first.
pub const MAX_RECORD_BYTES: usize = 256 * 1024;
/// How long changes gather before the file is written.
const SAVE_AFTER: Duration = Duration::from_millis(300);

/// One thing that happened during an attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowStep {
    /// Unix time, milliseconds.
    pub at_ms: u64,
    /// What was done: `GET https://…/.well-known/…`, `registration`, …
    pub action: String,
    /// HTTP status of the answer, when there was one.
    pub status: Option<u16>,
    /// What came of it.
    pub detail: Option<String>,
}

/// One attempt: a sign-in, or the token upkeep of a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowAttempt {
    /// Counts up per server.
    pub attempt: u32,
    /// `sign-in` or `connection`.
    pub kind: String,
    /// Unix time, milliseconds.
    pub started_ms: u64,
    /// The steps, oldest first.
    pub steps: Vec<FlowStep>,
    /// How it ended, once it has.
    pub outcome: Option<String>,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The steps of one attempt, written by the HTTP client and the flow.
#[derive(Default)]
pub(crate) struct Journal {
    attempt: Mutex<Option<FlowAttempt>>,
    /// A secret a registration response carried (confidential clients).
    registered_secret: Mutex<Option<Sensitive<String>>>,
    registered_client: Mutex<Option<String>>,
    /// When that secret expires (Unix seconds; 0: never).
    registered_expiry: Mutex<Option<u64>>,
    /// The token endpoint refused the client (`invalid_client`).
    client_refused: AtomicBool,
    recorder: Option<Arc<Recorder>>,
}

impl Journal {
    pub(crate) fn new(attempt: u32, kind: &str) -> Self {
        Self::of(FlowAttempt {
            attempt,
            kind: kind.into(),
            started_ms: now_ms(),
            steps: Vec::new(),
            outcome: None,
        })
    }

    fn of(attempt: FlowAttempt) -> Self {
        Self {
            attempt: Mutex::new(Some(attempt)),
            ..Self::default()
        }
    }

    fn changed(&self, now: bool) {
        if let Some(recorder) = &self.recorder {
            recorder.changed(now);
        }
    }

    pub(crate) fn step(&self, action: &str, status: Option<u16>, detail: Option<String>) {
        tracing::debug!(
            action,
            status,
            detail = detail.as_deref().unwrap_or(""),
            "oauth step"
        );
        let detail = detail.map(|d| match d.char_indices().nth(KEEP_DETAIL) {
            Some((cut, _)) => format!("{}…", &d[..cut]),
            None => d,
        });
        {
            let mut guard = self.attempt.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(a) = guard.as_mut() {
                if a.steps.len() == KEEP_STEPS {
                    a.steps.remove(0);
                }
                a.steps.push(FlowStep {
                    at_ms: now_ms(),
                    action: action.into(),
                    status,
                    detail,
                });
            }
        }
        self.changed(false);
    }

    pub(crate) fn note(&self, action: &str, detail: impl Into<String>) {
        self.step(action, None, Some(detail.into()));
    }

    pub(crate) fn finish(&self, outcome: impl Into<String>) {
        {
            let mut guard = self.attempt.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(a) = guard.as_mut() {
                a.outcome = Some(outcome.into());
            }
        }
        self.changed(true);
    }

    /// The token endpoint answered `invalid_client` (or
    /// `unauthorized_client`) during this attempt.
    pub(crate) fn client_refused_now(&self) {
        self.client_refused.store(true, Ordering::SeqCst);
    }

    /// Whether the authorization server refused the client itself.
    pub(crate) fn client_refused(&self) -> bool {
        self.client_refused.load(Ordering::SeqCst)
    }

    /// When the secret a registration issued expires (Unix s; 0: never).
    pub(crate) fn registered_secret_expiry(&self) -> Option<u64> {
        *self
            .registered_expiry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps what a dynamic registration answered that must outlive the flow.
    pub(crate) fn registered(&self, body: &[u8]) {
        let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        if let Some(id) = value.get("client_id").and_then(|v| v.as_str()) {
            *self
                .registered_client
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(id.to_owned());
            self.note(
                "registration",
                format!("dynamic registration: client id {id}"),
            );
        }
        if let Some(secret) = value
            .get("client_secret")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
        {
            *self
                .registered_secret
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(Sensitive::new(secret.to_owned()));
            *self
                .registered_expiry
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = value
                .get("client_secret_expires_at")
                .and_then(serde_json::Value::as_u64);
        }
    }

    /// The secret a dynamic registration issued to `client_id`, if any.
    pub(crate) fn registered_secret(&self, client_id: &str) -> Option<Sensitive<String>> {
        let client = self
            .registered_client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if client.as_deref() != Some(client_id) {
            return None;
        }
        self.registered_secret
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn snapshot(&self) -> Option<FlowAttempt> {
        self.attempt
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The last attempts of one server.
#[derive(Default)]
pub(crate) struct History {
    attempts: Mutex<VecDeque<Arc<Journal>>>,
    counter: Mutex<u32>,
    recorder: Option<Arc<Recorder>>,
}

impl History {
    /// The history of `server`, continuing what `recorder` kept of it.
    pub(crate) fn restored(server: &str, recorder: Option<Arc<Recorder>>) -> Arc<Self> {
        let kept = recorder
            .as_ref()
            .map(|r| r.kept(server))
            .unwrap_or_default();
        let counter = kept.iter().map(|a| a.attempt).max().unwrap_or(0);
        let attempts = kept
            .into_iter()
            .map(|mut a| {
                a.outcome.get_or_insert_with(|| {
                    "interrupted: the gateway stopped before it ended".into()
                });
                Arc::new(Journal::of(a))
            })
            .collect();
        let history = Arc::new(Self {
            attempts: Mutex::new(attempts),
            counter: Mutex::new(counter),
            recorder: recorder.clone(),
        });
        if let Some(recorder) = recorder {
            recorder.follow(server, &history);
        }
        history
    }

    pub(crate) fn begin(&self, kind: &str) -> Arc<Journal> {
        let n = {
            let mut c = self.counter.lock().unwrap_or_else(|e| e.into_inner());
            *c += 1;
            *c
        };
        let mut journal = Journal::new(n, kind);
        journal.recorder = self.recorder.clone();
        let journal = Arc::new(journal);
        {
            let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
            if attempts.len() == KEEP_ATTEMPTS {
                attempts.pop_front();
            }
            attempts.push_back(journal.clone());
        }
        journal.changed(true);
        journal
    }

    pub(crate) fn snapshot(&self) -> Vec<FlowAttempt> {
        self.attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|j| j.snapshot())
            .collect()
    }
}

/// Keeps every server's history in one JSON file (no secrets), written a
/// moment after it changes and at once when an attempt ends, never larger
/// than [`MAX_RECORD_BYTES`].
pub(crate) struct Recorder {
    path: PathBuf,
    /// What the file held at start, for servers not used yet.
    kept: Mutex<BTreeMap<String, Vec<FlowAttempt>>>,
    live: Mutex<BTreeMap<String, Weak<History>>>,
    scheduled: AtomicBool,
    /// Serializes writers of the file.
    writing: Mutex<()>,
}

impl Recorder {
    /// The record at `path`; an unreadable file starts an empty record.
    pub(crate) fn open(path: PathBuf) -> Arc<Self> {
        let kept = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "the sign-in record is unreadable; starting a new one");
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        Arc::new(Self {
            path,
            kept: Mutex::new(kept),
            live: Mutex::new(BTreeMap::new()),
            scheduled: AtomicBool::new(false),
            writing: Mutex::new(()),
        })
    }

    fn kept(&self, server: &str) -> Vec<FlowAttempt> {
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(server)
            .unwrap_or_default()
    }

    /// What the file held at start for `server`, left in place (a server not
    /// used in this process keeps its record).
    pub(crate) fn peek(&self, server: &str) -> Vec<FlowAttempt> {
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(server)
            .cloned()
            .unwrap_or_default()
    }

    fn follow(&self, server: &str, history: &Arc<History>) {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(server.to_owned(), Arc::downgrade(history));
    }

    /// Something changed: write soon (or now, when an attempt ended).
    fn changed(self: &Arc<Self>, now: bool) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.save();
            return;
        };
        // A write is already on its way; an ended attempt still goes at once.
        if self.scheduled.swap(true, Ordering::SeqCst) && !now {
            return;
        }
        let me = self.clone();
        runtime.spawn(async move {
            if !now {
                tokio::time::sleep(SAVE_AFTER).await;
            }
            me.scheduled.store(false, Ordering::SeqCst);
            let _ = tokio::task::spawn_blocking(move || me.save()).await;
        });
    }

    /// Everything the record holds now.
    fn contents(&self) -> BTreeMap<String, Vec<FlowAttempt>> {
        let mut all = self.kept.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (server, history) in self.live.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            if let Some(history) = history.upgrade() {
                all.insert(server.clone(), history.snapshot());
            }
        }
        all
    }

    /// Writes the record (atomically: a temporary file, then a rename).
    pub(crate) fn save(&self) {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let Some(text) = encode(self.contents(), MAX_RECORD_BYTES) else {
            return;
        };
        let tmp = self.path.with_extension("json.tmp");
        let written = std::fs::write(&tmp, &text).and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write the sign-in record");
        }
    }
}

/// The JSON of `all`, at most `max` bytes: the oldest attempts (of any
/// server) are dropped first, each attempt's size counted once.
fn encode(mut all: BTreeMap<String, Vec<FlowAttempt>>, max: usize) -> Option<Vec<u8>> {
    loop {
        let text = serde_json::to_vec(&all).ok()?;
        if text.len() <= max {
            return Some(text);
        }
        let mut oldest: Vec<(u64, String, usize)> = all
            .iter()
            .flat_map(|(server, attempts)| {
                attempts.iter().map(|a| {
                    let size = serde_json::to_vec(a).map_or(0, |v| v.len()) + 1;
                    (a.started_ms, server.clone(), size)
                })
            })
            .collect();
        oldest.sort_unstable_by_key(|(started, ..)| *started);
        let mut over = text.len() - max;
        for (started, server, size) in oldest {
            if over == 0 {
                break;
            }
            if let Some(attempts) = all.get_mut(&server) {
                attempts.retain(|a| a.started_ms != started);
                if attempts.is_empty() {
                    all.remove(&server);
                }
            }
            over = over.saturating_sub(size);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_record_outlives_the_process_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oauth-attempts.json");
        {
            let recorder = Recorder::open(path.clone());
            let history = History::restored("linear", Some(recorder.clone()));
            let journal = history.begin("sign-in");
            journal.note("discovery", "authorization server https://as.example");
            journal.finish("signed in");
            // A second attempt the process never finished.
            history
                .begin("connection")
                .note("discovery", "x".repeat(10_000));
            recorder.save();
        }
        let recorder = Recorder::open(path.clone());
        let history = History::restored("linear", Some(recorder.clone()));
        let attempts = history.snapshot();
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[0].outcome.as_deref(), Some("signed in"));
        assert!(
            attempts[1]
                .outcome
                .as_deref()
                .unwrap()
                .starts_with("interrupted")
        );
        assert!(
            attempts[1].steps[0]
                .detail
                .as_ref()
                .unwrap()
                .chars()
                .count()
                <= KEEP_DETAIL + 1
        );
        // Numbering goes on.
        assert_eq!(history.begin("sign-in").snapshot().unwrap().attempt, 3);

        let mut all = BTreeMap::new();
        for s in 0..40 {
            let attempts = (0..8)
                .map(|a| FlowAttempt {
                    attempt: a,
                    kind: "connection".into(),
                    started_ms: u64::from(s * 10 + a),
                    steps: vec![
                        FlowStep {
                            at_ms: 0,
                            action: "x".repeat(400),
                            status: Some(200),
                            detail: Some("y".repeat(400))
                        };
                        4
                    ],
                    outcome: None,
                })
                .collect();
            all.insert(format!("server-{s}"), attempts);
        }
        let text = encode(all, MAX_RECORD_BYTES).unwrap();
        assert!(text.len() <= MAX_RECORD_BYTES);
        let all: BTreeMap<String, Vec<FlowAttempt>> = serde_json::from_slice(&text).unwrap();
        // The newest attempts are the ones kept.
        assert!(all.contains_key("server-39") && !all.contains_key("server-0"));
    }
}
