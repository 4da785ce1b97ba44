//! What a server says outside any call, delivered to the sessions that may
//! hear it: those whose endpoint shows the server and whose client's profile
//! includes it. Resource updates go only to subscribers, log messages only
//! to sessions whose level lets them through; listen streams of 2026-07-28
//! clients get what their filter accepted.
#![expect(deprecated, reason = "logging is still part of 2025-11-25")]

use std::sync::Arc;

use rmcp::model::LoggingLevel;
use serde_json::{Value, json};
use switchboard_audit::AuditLog;

use super::{Listen, Sessions};
use crate::{
    mcp_headers::LIFECYCLE,
    policy::Policy,
    route::Caller,
    upstream::Fanout,
    wire::{Message, raw},
};

/// The downstream side of the gateway, as the servers' news sees it.
pub(crate) struct Downstream {
    pub sessions: Arc<Sessions>,
    pub policy: Arc<Policy>,
    pub audit: Arc<AuditLog>,
}

#[derive(Clone, Copy)]
enum List {
    Tools,
    Prompts,
    Resources,
}

impl Downstream {
    /// Whether `caller` may hear about `server`.
    fn may(&self, caller: &Caller, server: &str) -> bool {
        caller.route.includes(server) && self.policy.server_visible(&caller.client, server).is_ok()
    }

    fn list_changed(&self, server: &str, list: List) {
        let method = match list {
            List::Tools => "notifications/tools/list_changed",
            List::Prompts => "notifications/prompts/list_changed",
            List::Resources => "notifications/resources/list_changed",
        };
        let message = Message::notification(method, None);
        for session in self.sessions.all() {
            if self.may(&session.caller, server) {
                session.send(&message);
            }
        }
        for listen in self.sessions.listens() {
            let wanted = match list {
                List::Tools => listen.accepted.tools,
                List::Prompts => listen.accepted.prompts,
                List::Resources => listen.accepted.resources,
            };
            if wanted && self.may(&listen.caller, server) {
                send_listen(&listen, method, json!({}));
            }
        }
    }

    fn resource_updated(&self, server: &str, params: Option<Value>) {
        let Some(mut params) = params else { return };
        let Some(uri) = params.get("uri").and_then(Value::as_str).map(str::to_owned) else {
            return;
        };
        for session in self.sessions.all() {
            if Sessions::subscribed(&session, server, &uri) && self.may(&session.caller, server) {
                params["uri"] = Value::String(session.caller.route.present_uri(server, &uri));
                session.send(&Message::notification(
                    "notifications/resources/updated",
                    Some(raw(&params)),
                ));
            }
        }
        let key = (server.to_owned(), uri);
        for listen in self.sessions.listens() {
            if let Some(named) = listen.accepted.resources_updated.get(&key)
                && self.may(&listen.caller, server)
            {
                send_listen(
                    &listen,
                    "notifications/resources/updated",
                    json!({ "uri": named }),
                );
            }
        }
    }

    fn log(&self, server: &str, message: &Message) {
        #[derive(serde::Deserialize)]
        struct Level {
            level: LoggingLevel,
        }
        let Ok(Level { level }) = message.params_as::<Level>() else {
            return;
        };
        for session in self.sessions.all() {
            if session.hears_level(level) && self.may(&session.caller, server) {
                session.send(message);
            }
        }
        for (caller, min, tx) in self.sessions.log_requests() {
            if super::rank(level) >= super::rank(min) && self.may(&caller, server) {
                let _ = tx.try_send(message.clone());
            }
        }
    }
}

/// A notification on a listen stream, tagged with its subscription.
fn send_listen(listen: &Listen, method: &str, mut params: Value) {
    params["_meta"] = json!({ LIFECYCLE.subscription_id: listen.subscription });
    let message = Message::notification(method, Some(raw(&params)));
    if listen.tx.try_send(message).is_err() {
        tracing::debug!(
            listen = listen.key,
            "listen stream is full or gone; message dropped"
        );
    }
}

impl Fanout for Downstream {
    fn notify(&self, server: &str, version: Option<&str>, message: &Message) {
        match message.method() {
            "notifications/tools/list_changed" => self.list_changed(server, List::Tools),
            "notifications/prompts/list_changed" => self.list_changed(server, List::Prompts),
            "notifications/resources/list_changed" => self.list_changed(server, List::Resources),
            "notifications/resources/updated" => {
                self.resource_updated(server, message.params_value());
            }
            "notifications/message" => self.log(server, message),
            _ => {}
        }
        let (audit, server, version, message) = (
            self.audit.clone(),
            server.to_owned(),
            version.map(str::to_owned),
            message.clone(),
        );
        tokio::spawn(async move {
            crate::record::server_message(&audit, &server, None, version.as_deref(), &message)
                .await;
        });
    }

    fn tools_changed(&self, server: &str) {
        self.list_changed(server, List::Tools);
    }
}
