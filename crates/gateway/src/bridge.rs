//! Bridging server->client input between protocol eras.
//!
//! A 2025-11-25 (or older) server asks for input with a request of its own
//! (`elicitation/create`, `sampling/createMessage`, `roots/list`) while a call
//! is in flight. A 2026-07-28 client cannot take such a request: it expects the
//! call to end with an `InputRequiredResult` and to be retried with the
//! answers. This module keeps the upstream call running while the client
//! answers: the in-flight call is parked under an opaque `requestState` that
//! only the gateway issues (bound to the client), and the retry resumes it.
//!
//! The other direction (a 2026-07-28 server's `InputRequiredResult` reaching a
//! client with a session) is driven in `pipeline::asks`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::{
    pipeline::refusal::RATE_LIMITED,
    session::{Caps, Held, Slot},
    wire::{Message, RpcError},
};

/// Prefix of the `requestState` values the gateway issues, so retries that
/// carry a server's own state pass through untouched.
const STATE_PREFIX: &str = "switchboard-bridge:";

/// How long a parked call waits for the client's retry.
const PARK_LIMIT: Duration = Duration::from_secs(600);

/// The client's answer to one input request (its result object).
pub(crate) type Reply = oneshot::Sender<Result<Value, RpcError>>;

/// What happens to an upstream call that a 2026-07-28 client made.
pub(crate) enum CallEvent {
    /// The server asks for input (its request: method and params).
    Input { request: Message, reply: Reply },
    /// The call ended (with the server's answer, or with why there is none).
    Done(Result<Message, RpcError>),
}

/// Sending side handed to the call's pump.
pub(crate) type Inputs = mpsc::Sender<CallEvent>;

/// What a bridged call came to, this time.
pub(crate) enum Step {
    /// The server answered.
    Done(Message),
    /// The server needs input: the `InputRequiredResult` for the client.
    InputRequired(Value),
}

struct Parked {
    client: String,
    /// Its place among the client's parked calls.
    _slot: Slot,
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

/// Why a resume failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResumeError {
    /// Unknown, expired, or another client's.
    #[error("requestState is unknown or expired")]
    Unknown,
}

impl Bridge {
    /// Waits for the next thing that happens to the call: its end, or input
    /// the server needs (then the call is parked and the client gets an
    /// `InputRequiredResult`). None: the client went away.
    pub async fn next(
        self: &Arc<Self>,
        client: &str,
        caps: &Arc<Caps>,
        mut events: mpsc::Receiver<CallEvent>,
        gone: impl Future<Output = ()>,
    ) -> Option<Result<Step, RpcError>> {
        let first = tokio::select! {
            event = events.recv() => event,
            () = gone => return None,
        };
        let (request, reply) = match first {
            Some(CallEvent::Done(result)) => return Some(result.map(Step::Done)),
            Some(CallEvent::Input { request, reply }) => (request, reply),
            None => {
                return Some(Err(RpcError::new(
                    -32603,
                    "the server's call ended without an answer",
                )));
            }
        };
        let mut requests = Map::new();
        let mut replies = HashMap::new();
        let mut add = |request: Message, reply: Reply| {
            let key = format!("input-{}", requests.len() + 1);
            requests.insert(
                key.clone(),
                json!({ "method": request.method(), "params": request.params_value() }),
            );
            replies.insert(key, reply);
        };
        add(request, reply);
        // Requests the server sent together go out together.
        tokio::task::yield_now().await;
        while let Ok(event) = events.try_recv() {
            match event {
                CallEvent::Input { request, reply } => add(request, reply),
                CallEvent::Done(result) => {
                    // The call ended while asking: nobody waits for answers.
                    return Some(result.map(Step::Done));
                }
            }
        }
        // Dropping the call's inputs unanswered ends it upstream too.
        let slot = match caps.take(client, Held::Parked) {
            Ok(slot) => slot,
            Err(over) => return Some(Err(RpcError::new(RATE_LIMITED, over.to_string()))),
        };
        let state = format!("{STATE_PREFIX}{}", uuid::Uuid::new_v4());
        lock(&self.parked).insert(
            state.clone(),
            Parked {
                client: client.to_owned(),
                _slot: slot,
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
        Some(Ok(Step::InputRequired(json!({
            "resultType": "input_required",
            "inputRequests": requests,
            "requestState": state,
        }))))
    }

    /// Resumes the call parked under `state` with the client's answers.
    pub fn resume(
        &self,
        client: &str,
        state: &str,
        responses: Option<Map<String, Value>>,
    ) -> Result<mpsc::Receiver<CallEvent>, ResumeError> {
        let parked = {
            let mut parked = lock(&self.parked);
            match parked.get(state) {
                Some(p) if p.client == client => parked.remove(state),
                _ => None,
            }
        };
        let parked = parked.ok_or(ResumeError::Unknown)?;
        let mut responses = responses.unwrap_or_default();
        for (key, reply) in parked.replies {
            let answer = responses
                .remove(&key)
                .ok_or_else(|| RpcError::new(-32602, format!("inputResponses lacks \"{key}\"")));
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
    use crate::wire::raw;

    #[tokio::test]
    async fn input_parks_the_call_and_only_its_client_resumes_it() {
        let bridge = Arc::new(Bridge::default());
        let caps = Arc::new(Caps::default());
        let (tx, rx) = mpsc::channel(4);
        let (reply, answer) = oneshot::channel();
        let request = Message::request(
            crate::wire::int_id(3),
            "elicitation/create",
            Some(raw(&json!({"message": "name?"}))),
        );
        tx.send(CallEvent::Input { request, reply }).await.unwrap();
        let Some(Ok(Step::InputRequired(asked))) = bridge
            .next("alice", &caps, rx, std::future::pending())
            .await
        else {
            panic!("expected input required");
        };
        let state = asked["requestState"].as_str().unwrap().to_owned();
        assert!(is_ours(Some(&state)));
        assert_eq!(
            asked["inputRequests"]["input-1"]["method"],
            "elicitation/create"
        );
        assert_eq!(bridge.parked(), 1);
        // Another client cannot take it over.
        assert!(bridge.resume("mallory", &state, None).is_err());
        let mut responses = Map::new();
        responses.insert("input-1".into(), json!({"action": "decline"}));
        let rx = bridge.resume("alice", &state, Some(responses)).unwrap();
        assert_eq!(answer.await.unwrap().unwrap(), json!({"action": "decline"}));
        let done = Message::response(crate::wire::int_id(1), raw(&json!({})));
        tx.send(CallEvent::Done(Ok(done))).await.unwrap();
        assert!(matches!(
            bridge
                .next("alice", &caps, rx, std::future::pending())
                .await,
            Some(Ok(Step::Done(_)))
        ));
        assert_eq!(bridge.parked(), 0);
    }

    async fn park(
        bridge: &Arc<Bridge>,
        caps: &Arc<Caps>,
        client: &str,
    ) -> Result<String, RpcError> {
        let (tx, rx) = mpsc::channel(4);
        let (reply, _answer) = oneshot::channel();
        let request = Message::request(crate::wire::int_id(1), "roots/list", None);
        tx.send(CallEvent::Input { request, reply }).await.unwrap();
        match bridge.next(client, caps, rx, std::future::pending()).await {
            Some(Ok(Step::InputRequired(asked))) => {
                Ok(asked["requestState"].as_str().unwrap().to_owned())
            }
            Some(Err(e)) => Err(e),
            _ => panic!("expected input required or an error"),
        }
    }

    #[tokio::test]
    async fn one_client_parks_at_most_its_share() {
        let bridge = Arc::new(Bridge::default());
        let caps = Arc::new(Caps::default());
        let mut states = Vec::new();
        for _ in 0..crate::session::caps::PARKED_PER_CLIENT {
            states.push(park(&bridge, &caps, "alice").await.unwrap());
        }
        let refused = park(&bridge, &caps, "alice").await.unwrap_err();
        assert_eq!(refused.code, RATE_LIMITED);
        assert!(
            refused.message.contains("calls waiting for its input"),
            "{}",
            refused.message
        );
        assert!(
            park(&bridge, &caps, "bob").await.is_ok(),
            "another client parks"
        );
        // A resumed call gives its place back.
        let _events = bridge
            .resume("alice", &states[0], Some(Map::new()))
            .unwrap();
        assert!(park(&bridge, &caps, "alice").await.is_ok());
    }
}
