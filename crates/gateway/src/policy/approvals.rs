//! Calls that wait for the user: the approval queue.
//!
//! A waiting call is a row in the store (so the CLI, the UI and other
//! processes see and answer it) and a waiter here. The store watcher calls
//! [`Approvals::poll`] when the store changes; answered rows wake their
//! waiters. An answer counts only for the exact call it was given for: the
//! row carries a hash of server, tool and arguments.

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
    time::Duration,
};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use switchboard_store::{ApprovalRecord, NewApproval, Permission, PermissionEntry, Scope, Store};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::{session::SessionKey, wire::Message};

/// How often a waiting call tells its client it is still waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// A call to put to the user.
#[derive(Debug)]
pub struct AskRequest<'a> {
    /// Client name.
    pub client: &'a str,
    /// The gateway's key of the session.
    pub session_key: SessionKey,
    /// The MCP session id, for display.
    pub session_id: Option<&'a str>,
    /// Server.
    pub server: &'a str,
    /// Tool, as the server names it.
    pub tool: &'a str,
    /// Exact arguments (hashed, never stored).
    pub arguments: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// Arguments with secrets masked (stored: the store never holds secrets).
    pub shown_arguments: Option<serde_json::Value>,
    /// The rule that asks.
    pub reason: &'a str,
}

/// The user's answer (or its absence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Allowed, this call only.
    Once,
    /// Allowed for the rest of the session.
    Session,
    /// Allowed from now on for this client.
    Always,
    /// Denied.
    Denied,
    /// No answer in time.
    TimedOut,
    /// The client gave up waiting.
    Cancelled,
}

impl Answer {
    /// Whether the call may run.
    pub fn allowed(self) -> bool {
        matches!(self, Answer::Once | Answer::Session | Answer::Always)
    }

    /// How the audit log names the answer.
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Once => "allow_once",
            Answer::Session => "allow_session",
            Answer::Always => "allow_always",
            Answer::Denied => "deny",
            Answer::TimedOut => "timeout",
            Answer::Cancelled => "cancelled",
        }
    }
}

pub(crate) struct Approvals {
    store: Store,
    waiting: Mutex<HashMap<i64, oneshot::Sender<ApprovalRecord>>>,
    /// The exact arguments of each waiting call, for the person deciding
    /// (kept in memory only).
    exact: Mutex<HashMap<i64, Value>>,
    session_grants: Mutex<HashSet<(SessionKey, String, String)>>,
}

/// Where a waiting call tells its client it still waits: the call's stream
/// and the client's progress token.
pub(crate) type WaitProgress = (mpsc::Sender<Message>, Value);

fn call_hash(
    server: &str,
    tool: &str,
    arguments: Option<&serde_json::Map<String, serde_json::Value>>,
) -> String {
    let canonical = serde_json::json!([server, tool, arguments]).to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

impl Approvals {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            waiting: Mutex::new(HashMap::new()),
            exact: Mutex::new(HashMap::new()),
            session_grants: Mutex::new(HashSet::new()),
        }
    }

    /// Forgets what was allowed for a session that ended.
    pub fn forget_session(&self, key: SessionKey) {
        self.session_grants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(k, _, _)| *k != key);
    }

    /// Puts a call to the user and waits for the answer, at most `timeout`.
    /// While waiting, a client that asked for progress hears every few seconds.
    pub async fn ask(
        &self,
        request: AskRequest<'_>,
        timeout: Duration,
        progress: Option<WaitProgress>,
        cancel: CancellationToken,
    ) -> Result<(Answer, Option<i64>), switchboard_store::Error> {
        let grant = (
            request.session_key,
            request.server.to_owned(),
            request.tool.to_owned(),
        );
        if self
            .session_grants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&grant)
        {
            return Ok((Answer::Session, None));
        }
        let hash = call_hash(request.server, request.tool, request.arguments);
        let id = self
            .store
            .add_approval(&NewApproval {
                client: request.client,
                session: request.session_id,
                server: request.server,
                tool: request.tool,
                arguments: request.shown_arguments.as_ref(),
                call_hash: &hash,
                reason: request.reason,
            })
            .await?;
        let (tx, mut rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        if let Some(arguments) = request.arguments {
            self.exact
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, Value::Object(arguments.clone()));
        }
        tracing::info!(
            id,
            client = request.client,
            server = request.server,
            tool = request.tool,
            "call waits for approval: `switchboard approvals approve {id}` or `deny {id}`"
        );
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        tick.tick().await;
        let mut waited = 0u32;
        let answer = loop {
            tokio::select! {
                record = &mut rx => match record {
                    Ok(record) => break self.settle(&record, &hash, &request, grant.clone()).await,
                    Err(_) => break Answer::Denied,
                },
                () = &mut deadline => break Answer::TimedOut,
                () = cancel.cancelled() => break Answer::Cancelled,
                _ = tick.tick() => {
                    waited += 1;
                    if let Some((stream, token)) = &progress {
                        let params = json!({
                            "progressToken": token,
                            "progress": waited,
                            "message": format!("waiting for the user to approve (approval #{id})"),
                        });
                        let notice = Message::notification("notifications/progress", Some(crate::wire::raw(&params)));
                        let _ = stream.send(notice).await;
                    }
                }
            }
        };
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        self.exact
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if matches!(answer, Answer::TimedOut | Answer::Cancelled) {
            self.store.answer_approval(id, "expired", None).await?;
        }
        Ok((answer, Some(id)))
    }

    async fn settle(
        &self,
        record: &ApprovalRecord,
        hash: &str,
        request: &AskRequest<'_>,
        grant: (SessionKey, String, String),
    ) -> Answer {
        if record.call_hash != hash {
            // An answer for some other call: never let it through.
            return Answer::Denied;
        }
        match (record.status.as_str(), record.scope.as_deref()) {
            ("allowed", Some("session")) => {
                self.session_grants
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(grant);
                Answer::Session
            }
            ("allowed", Some("always")) => {
                let entry = PermissionEntry {
                    scope: Scope::Client(request.client.to_owned()),
                    server: request.server.to_owned(),
                    tool: request.tool.to_owned(),
                    permission: Permission::Allow,
                };
                if let Err(e) = self.store.set_permission(&entry).await {
                    tracing::error!(error = %e, "cannot store \"always allow\"");
                }
                Answer::Always
            }
            ("allowed", _) => Answer::Once,
            _ => Answer::Denied,
        }
    }

    /// The exact arguments of a call waiting for approval `id` (while it
    /// waits, in this process).
    pub fn exact_arguments(&self, id: i64) -> Option<Value> {
        self.exact
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// Wakes the waiters whose approval was answered.
    pub async fn poll(&self) {
        let ids: Vec<i64> = self
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect();
        for id in ids {
            let record = match self.store.get_approval(id).await {
                Ok(Some(record)) if record.status != "pending" => record,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(id, error = %e, "cannot read approval");
                    continue;
                }
            };
            let waiter = self
                .waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            if let Some(waiter) = waiter {
                let _ = waiter.send(record);
            }
        }
    }
}
