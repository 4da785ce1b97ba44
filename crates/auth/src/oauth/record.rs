//! The debug record of OAuth attempts: which metadata URLs were read, how
//! the client was registered, which scopes were asked for, what the token
//! endpoint answered. Secrets never enter it: URLs lose their query, bodies
//! are reduced to an `error` code or a summary.

use std::{
    collections::VecDeque,
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::Serialize;

use crate::Sensitive;

/// Attempts kept per server.
const KEEP_ATTEMPTS: usize = 8;
/// Steps kept per attempt (a long-lived connection refreshes many times).
const KEEP_STEPS: usize = 200;

/// One thing that happened during an attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
}

impl Journal {
    pub(crate) fn new(attempt: u32, kind: &str) -> Self {
        Self {
            attempt: Mutex::new(Some(FlowAttempt {
                attempt,
                kind: kind.into(),
                started_ms: now_ms(),
                steps: Vec::new(),
                outcome: None,
            })),
            ..Self::default()
        }
    }

    pub(crate) fn step(&self, action: &str, status: Option<u16>, detail: Option<String>) {
        tracing::debug!(
            action,
            status,
            detail = detail.as_deref().unwrap_or(""),
            "oauth step"
        );
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

    pub(crate) fn note(&self, action: &str, detail: impl Into<String>) {
        self.step(action, None, Some(detail.into()));
    }

    pub(crate) fn finish(&self, outcome: impl Into<String>) {
        let mut guard = self.attempt.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = guard.as_mut() {
            a.outcome = Some(outcome.into());
        }
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
    attempts: Mutex<VecDeque<std::sync::Arc<Journal>>>,
    counter: Mutex<u32>,
}

impl History {
    pub(crate) fn begin(&self, kind: &str) -> std::sync::Arc<Journal> {
        let n = {
            let mut c = self.counter.lock().unwrap_or_else(|e| e.into_inner());
            *c += 1;
            *c
        };
        let journal = std::sync::Arc::new(Journal::new(n, kind));
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if attempts.len() == KEEP_ATTEMPTS {
            attempts.pop_front();
        }
        attempts.push_back(journal.clone());
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
