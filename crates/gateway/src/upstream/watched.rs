//! Every upstream transport, watched by the gateway as messages pass.
//!
//! Two things about a call must be known in the order the wire shows them,
//! not in the order rmcp's tasks happen to run:
//! - which upstream request serves a downstream call: bound as the request is
//!   sent, so a server->client request or progress notification that the
//!   server sends about it can never arrive first;
//! - which notifications are still on their way to a client: counted as they
//!   are received (before the response that follows them), so the result can
//!   wait for them (see [`crate::dispatch::ProgressRelays`]).

use std::{borrow::Cow, sync::Arc};

use rmcp::{
    RoleClient,
    model::{GetExtensions, GetMeta, JsonRpcMessage},
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};

use crate::dispatch::{CallLink, Dispatch, RelayGuard};

/// Marks an upstream request as the one serving a downstream call.
#[derive(Debug, Clone)]
pub(crate) struct ServesCall(pub Arc<CallLink>);

/// The relays a received notification was counted for; they end when its
/// handler's context (which carries this) is dropped.
#[derive(Debug, Clone)]
struct Counted(#[expect(dead_code, reason = "held for its drop")] Arc<Vec<RelayGuard>>);

/// An upstream transport with the gateway watching it.
pub(crate) struct Watched<T> {
    inner: T,
    dispatch: Arc<Dispatch>,
    server: String,
}

impl<T> Watched<T> {
    pub fn new(inner: T, dispatch: Arc<Dispatch>, server: &str) -> Self {
        Self {
            inner,
            dispatch,
            server: server.to_owned(),
        }
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for Watched<T> {
    type Error = T::Error;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        if let JsonRpcMessage::Request(sent) = &item
            && let Some(ServesCall(link)) = sent.request.extensions().get::<ServesCall>()
            && let Some(token) = sent.request.get_meta().get_progress_token()
        {
            link.bind(sent.id.clone(), token);
        }
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        let mut message = self.inner.receive().await?;
        if let JsonRpcMessage::Notification(received) = &mut message {
            let guards = self
                .dispatch
                .count_relays(&self.server, &received.notification);
            if !guards.is_empty() {
                received
                    .notification
                    .extensions_mut()
                    .insert(Counted(Arc::new(guards)));
            }
        }
        Some(message)
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
