//! One connection's requests in flight, and where what the server says goes.
//!
//! Every request the gateway sends a server gets an id of the connection's
//! own (a counter), so calls of many clients share one stdio pipe, one
//! legacy SSE stream or one HTTP session without their ids ever meeting.
//! Messages the server sends outside a call's own HTTP response stream come
//! through [`Mux::dispatch`]:
//! - an answer goes to the request with its id;
//! - progress goes to the request whose token it names (a request that asked
//!   for progress is sent with its own id as the token);
//! - a request of the server (sampling, elicitation, roots) goes to the one
//!   client call it can belong to: when every call in flight belongs to one
//!   client session, to that session's latest call; otherwise nobody can
//!   tell whose it is, and it is refused rather than shown to another client;
//! - anything else is the connection's own news (list changes, resource
//!   updates, log messages), handed to the connection's [`Events`].

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use serde_json::Value;
use tokio::sync::mpsc;

use crate::wire::{Kind, Message, RpcError};

/// The downstream session a call belongs to, as far as the connection needs
/// to know (an opaque key of the gateway's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CallTag {
    /// The client session that made the call.
    pub session: u64,
}

/// Something the server said about one request.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// The result or error.
    Answer(Message),
    /// A progress notification for it.
    Progress(Message),
    /// A request of the server made while serving it.
    Request(Message),
    /// Another notification sent on its response stream (log messages).
    Notice(Message),
}

/// What a connection's news is handed to.
pub(crate) trait Events: Send + Sync + 'static {
    /// A notification of the server that belongs to no request.
    fn notification(&self, message: Message);
}

struct Pending {
    tx: mpsc::Sender<Inbound>,
    tag: Option<CallTag>,
    progress: bool,
}

/// The requests in flight on one connection.
pub(crate) struct Mux {
    next: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
    events: Arc<dyn Events>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many messages about one request may wait for its reader.
const PER_REQUEST: usize = 64;

impl Mux {
    pub fn new(events: Arc<dyn Events>) -> Arc<Self> {
        Arc::new(Self {
            next: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            events,
        })
    }

    /// Registers a request before it is sent: nothing the server says about
    /// it can arrive before it is known by its id. `tag` names the client
    /// call it serves (None: the gateway's own request); with `progress`
    /// it is sent with its id as progress token.
    pub fn begin(self: &Arc<Self>, tag: Option<CallTag>, progress: bool) -> Ticket {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(PER_REQUEST);
        lock(&self.pending).insert(id, Pending { tx, tag, progress });
        Ticket {
            mux: self.clone(),
            id,
            rx,
        }
    }

    /// Forgets every request in flight: their readers see the end.
    pub fn close(&self) {
        lock(&self.pending).clear();
    }

    /// Routes a message the server sent outside a call's own stream; returns
    /// the answer the server must get, if the gateway answers it here.
    pub fn dispatch(&self, message: Message) -> Option<Message> {
        match message.kind()? {
            Kind::Response | Kind::Error => {
                let id = message.id_text().and_then(|t| t.parse::<u64>().ok());
                match id.and_then(|id| self.sender(id)) {
                    Some(tx) => {
                        let _ = tx.try_send(Inbound::Answer(message));
                    }
                    None => tracing::debug!("answer for no request in flight"),
                }
                None
            }
            Kind::Notification if message.method() == "notifications/progress" => {
                let token = progress_token(&message);
                let tx = token.and_then(|id| {
                    let pending = lock(&self.pending);
                    pending
                        .get(&id)
                        .filter(|p| p.progress)
                        .map(|p| p.tx.clone())
                });
                if let Some(tx) = tx {
                    let _ = tx.try_send(Inbound::Progress(message));
                }
                None
            }
            Kind::Notification => {
                self.events.notification(message);
                None
            }
            Kind::Request => self.request(message),
        }
    }

    fn sender(&self, id: u64) -> Option<mpsc::Sender<Inbound>> {
        lock(&self.pending).get(&id).map(|p| p.tx.clone())
    }

    fn request(&self, message: Message) -> Option<Message> {
        if message.method() == "ping" {
            return Some(Message::response(
                message.id.clone()?,
                crate::wire::raw(&Value::Object(serde_json::Map::new())),
            ));
        }
        let target = {
            let pending = lock(&self.pending);
            let mut sessions = pending.values().filter_map(|p| p.tag.map(|t| t.session));
            let first = sessions.next();
            match first {
                Some(session) if sessions.all(|s| s == session) => pending
                    .iter()
                    .filter(|(_, p)| p.tag.is_some_and(|t| t.session == session))
                    .max_by_key(|(id, _)| **id)
                    .map(|(_, p)| p.tx.clone()),
                _ => None,
            }
        };
        let why = match target {
            Some(tx) => match tx.try_send(Inbound::Request(message.clone())) {
                Ok(()) => return None,
                Err(_) => "the client call it belongs to has ended",
            },
            None => {
                "it cannot be tied to one client's call (none, or calls of several clients are in flight)"
            }
        };
        tracing::info!(method = message.method(), "server request refused: {why}");
        let error = RpcError::new(
            -32600,
            format!("the gateway refused {}: {why}", message.method()),
        );
        Some(Message::error(message.id, &error))
    }
}

/// The request id a progress notification names as its token, when it is
/// one of the connection's ids.
fn progress_token(message: &Message) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Params {
        #[serde(rename = "progressToken")]
        token: Value,
    }
    let params: Params = message.params_as().ok()?;
    match params.token {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A request in flight; dropping it forgets the request.
pub(crate) struct Ticket {
    mux: Arc<Mux>,
    /// The id the request is sent with.
    pub id: u64,
    rx: mpsc::Receiver<Inbound>,
}

impl Ticket {
    /// The next thing the server said about the request (None: the
    /// connection ended).
    pub async fn recv(&mut self) -> Option<Inbound> {
        self.rx.recv().await
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        lock(&self.mux.pending).remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Quiet;
    impl Events for Quiet {
        fn notification(&self, _message: Message) {}
    }

    fn parse(text: &str) -> Message {
        Message::parse(text.as_bytes()).unwrap()
    }

    #[tokio::test]
    async fn answers_and_progress_find_their_request() {
        let mux = Mux::new(Arc::new(Quiet));
        let mut a = mux.begin(Some(CallTag { session: 1 }), true);
        let mut b = mux.begin(Some(CallTag { session: 2 }), false);
        assert!(mux.dispatch(parse(&format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progressToken":{},"progress":1}}}}"#,
            a.id
        ))).is_none());
        assert!(matches!(a.recv().await, Some(Inbound::Progress(_))));
        mux.dispatch(parse(&format!(
            r#"{{"jsonrpc":"2.0","id":{},"result":{{}}}}"#,
            b.id
        )));
        assert!(matches!(b.recv().await, Some(Inbound::Answer(_))));
    }

    #[tokio::test]
    async fn a_server_request_goes_only_to_the_one_session_it_can_belong_to() {
        let mux = Mux::new(Arc::new(Quiet));
        let ask = r#"{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{}}"#;
        // Nobody in flight: refused.
        let refused = mux.dispatch(parse(ask)).expect("an error for the server");
        assert!(refused.rpc_error().is_some());
        // One session (two calls): its latest call hears it.
        let mut first = mux.begin(Some(CallTag { session: 1 }), false);
        let mut second = mux.begin(Some(CallTag { session: 1 }), false);
        assert!(mux.dispatch(parse(ask)).is_none());
        assert!(matches!(second.recv().await, Some(Inbound::Request(_))));
        assert!(first.rx.try_recv().is_err());
        // Another client's call in flight: nobody can tell, so nobody hears it.
        let mut other = mux.begin(Some(CallTag { session: 2 }), false);
        assert!(
            mux.dispatch(parse(ask))
                .is_some_and(|m| m.rpc_error().is_some())
        );
        assert!(other.rx.try_recv().is_err() && second.rx.try_recv().is_err());
        // The gateway's own requests do not count.
        drop(other);
        let _own = mux.begin(None, false);
        assert!(mux.dispatch(parse(ask)).is_none());
        // Pings are answered here.
        let pong = mux
            .dispatch(parse(r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#))
            .unwrap();
        assert_eq!(pong.kind(), Some(Kind::Response));
    }
}
