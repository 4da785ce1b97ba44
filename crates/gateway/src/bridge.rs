//! Bridging server->client input between protocol eras.
//!
//! A 2025-11-25 (or older) server asks for input with a request of its own
//! (`elicitation/create`, `sampling/createMessage`, `roots/list`) while a call
//! is in flight. A 2026-07-28 client cannot take such a request: it expects the
//! call to end with an `InputRequiredResult` and to be retried with the
//! answers. This module keeps the upstream call running while the client
//! answers: the in-flight call is parked under an opaque `requestState` that
//! only the gateway issues, and the retry resumes it.
//!
//! The other direction (a 2026-07-28 server's `InputRequiredResult` reaching a
//! client with a session) is driven in `front::mrtr`.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::{
    ErrorData as McpError,
    model::{InputRequest, InputRequiredResult, InputResponses, ServerResult},
};
use tokio::sync::{mpsc, oneshot};

/// Prefix of the `requestState` values the gateway issues, so retries that
/// carry a server's own state pass through untouched.
const STATE_PREFIX: &str = "switchboard-bridge:";

/// How long a parked call waits for the client's retry.
const PARK_LIMIT: Duration = Duration::from_secs(600);

/// The client's answer to one input request (its result object).
pub(crate) type Reply = oneshot::Sender<Result<serde_json::Value, McpError>>;

/// What happens to an upstream call that a 2026-07-28 client made.
pub(crate) enum CallEvent {
    /// The server asks for input.
    Input { request: InputRequest, reply: Reply },
    /// The call ended.
    Done(Result<ServerResult, McpError>),
}

/// Sending side handed to the upstream client handler through the call link.
pub(crate) type Inputs = mpsc::Sender<CallEvent>;

struct Parked {
    client: String,
    events: mpsc::Receiver<CallEvent>,
    replies: HashMap<String, Reply>,
}

/// Upstream calls waiting for a 2026-07-28 client's retry.
#[derive(Default)]
pub(crate) struct Bridge {
    parked: Mutex<HashMap<String, Parked>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether `state` is one the gateway issued.
pub(crate) fn is_ours(state: Option<&str>) -> bool {
    state.is_some_and(|s| s.starts_with(STATE_PREFIX))
}

impl Bridge {
    /// Waits for the next thing that happens to the call: its end, or input
    /// the server needs (then the call is parked and the client gets an
    /// `InputRequiredResult`).
    pub async fn next(
        self: &Arc<Self>,
        client: &str,
        mut events: mpsc::Receiver<CallEvent>,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<Option<ServerResult>, McpError> {
        let first = tokio::select! {
            event = events.recv() => event,
            () = cancel.cancelled() => return Ok(None),
        };
        let (request, reply) = match first {
            Some(CallEvent::Done(result)) => return result.map(Some),
            Some(CallEvent::Input { request, reply }) => (request, reply),
            None => {
                return Err(McpError::internal_error(
                    "the server's call ended without an answer",
                    None,
                ));
            }
        };
        let mut requests = BTreeMap::new();
        let mut replies = HashMap::new();
        requests.insert("input-1".to_owned(), request);
        replies.insert("input-1".to_owned(), reply);
        // Requests the server sent together go out together.
        tokio::task::yield_now().await;
        while let Ok(event) = events.try_recv() {
            match event {
                CallEvent::Input { request, reply } => {
                    let key = format!("input-{}", requests.len() + 1);
                    requests.insert(key.clone(), request);
                    replies.insert(key, reply);
                }
                CallEvent::Done(result) => {
                    // The call ended while asking: nobody waits for answers.
                    return result.map(Some);
                }
            }
        }
        let state = format!("{STATE_PREFIX}{}", uuid::Uuid::new_v4());
        lock(&self.parked).insert(
            state.clone(),
            Parked {
                client: client.to_owned(),
                events,
                replies,
            },
        );
        let bridge = Arc::downgrade(self);
        let expiring = state.clone();
        tokio::spawn(async move {
            tokio::time::sleep(PARK_LIMIT).await;
            if let Some(bridge) = bridge.upgrade() {
                lock(&bridge.parked).remove(&expiring);
            }
        });
        Ok(Some(ServerResult::InputRequiredResult(
            InputRequiredResult::new(Some(requests), Some(state)),
        )))
    }

    /// Resumes the call parked under `state` with the client's answers.
    pub fn resume(
        &self,
        client: &str,
        state: &str,
        responses: Option<InputResponses>,
    ) -> Result<mpsc::Receiver<CallEvent>, McpError> {
        let parked = {
            let mut parked = lock(&self.parked);
            match parked.get(state) {
                Some(p) if p.client == client => parked.remove(state),
                _ => None,
            }
        };
        let Some(parked) = parked else {
            return Err(McpError::invalid_params(
                "requestState is unknown or expired: send the request again without it",
                None,
            ));
        };
        let mut responses = responses.unwrap_or_default();
        for (key, reply) in parked.replies {
            let answer = responses.remove(&key).ok_or_else(|| {
                McpError::invalid_params(format!("inputResponses lacks \"{key}\""), None)
            });
            let _ = reply.send(answer);
        }
        Ok(parked.events)
    }

    /// Calls waiting for a retry.
    #[cfg(test)]
    pub fn parked(&self) -> usize {
        lock(&self.parked).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{ElicitRequest, ElicitRequestParams, ElicitationSchema};

    fn elicitation() -> InputRequest {
        let schema = ElicitationSchema::builder().build().unwrap();
        InputRequest::Elicitation(ElicitRequest::new(
            ElicitRequestParams::FormElicitationParams {
                meta: None,
                message: "name?".into(),
                requested_schema: schema,
            },
        ))
    }

    #[tokio::test]
    async fn input_parks_the_call_and_the_retry_resumes_it() {
        let bridge = Arc::new(Bridge::default());
        let (tx, rx) = mpsc::channel(4);
        let (reply, answer) = oneshot::channel();
        tx.send(CallEvent::Input {
            request: elicitation(),
            reply,
        })
        .await
        .unwrap();
        let cancel = tokio_util::sync::CancellationToken::new();
        let Some(ServerResult::InputRequiredResult(asked)) =
            bridge.next("alice", rx, &cancel).await.unwrap()
        else {
            panic!("expected input required");
        };
        let state = asked.request_state.unwrap();
        assert!(is_ours(Some(&state)));
        assert_eq!(bridge.parked(), 1);
        // Another client cannot take it over.
        assert!(bridge.resume("mallory", &state, None).is_err());
        let mut responses = InputResponses::new();
        responses.insert("input-1".into(), serde_json::json!({"action": "decline"}));
        let rx = bridge.resume("alice", &state, Some(responses)).unwrap();
        assert_eq!(
            answer.await.unwrap().unwrap(),
            serde_json::json!({"action": "decline"})
        );
        tx.send(CallEvent::Done(Ok(ServerResult::empty(()))))
            .await
            .unwrap();
        assert!(bridge.next("alice", rx, &cancel).await.unwrap().is_some());
        assert_eq!(bridge.parked(), 0);
    }
}
