//! The audit record of a direct call, written exactly once.

use std::{sync::Arc, time::Instant};

use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use switchboard_audit::{AuditRecord, Status};

use super::{
    CallKey, Core, Sent,
    events::{error_message, json_bytes_response, json_response},
    lock, send_upstream,
};

/// One direct call's record, written exactly once: with its answer, or as
/// cancelled when the call is dropped before it has one.
pub(super) struct Flight {
    core: Arc<Core>,
    record: Option<AuditRecord>,
    started: Instant,
    registered: Option<(CallKey, Arc<Sent>)>,
}

impl Flight {
    pub fn new(
        core: &Arc<Core>,
        record: AuditRecord,
        started: Instant,
        registered: Option<(CallKey, Arc<Sent>)>,
    ) -> Self {
        Self {
            core: core.clone(),
            record: Some(record),
            started,
            registered,
        }
    }

    fn unregister(&mut self) {
        if let Some((key, _)) = self.registered.take() {
            lock(&self.core.direct.calls).remove(&key);
        }
    }

    /// Records the answer and turns it into the client's (as JSON); in
    /// strict mode an answer that cannot be recorded is withheld (an error
    /// instead). The result is not copied: the record takes it once the
    /// client's answer is written.
    pub async fn finish_message(&mut self, client_id: &Value, mut reply: Value) -> Bytes {
        self.unregister();
        reply["id"] = client_id.clone();
        let bytes = Bytes::from(serde_json::to_vec(&reply).unwrap_or_default());
        let Some(mut record) = self.record.take() else {
            return bytes;
        };
        record.took(self.started);
        if let Some(error) = reply.get("error") {
            let message = error.get("message").and_then(Value::as_str);
            record.failed(
                error.get("code").and_then(Value::as_i64),
                message.unwrap_or(""),
            );
            record.error_message = message.map(str::to_owned);
        } else if let Some(result) = reply.get_mut("result") {
            if result.get("isError").and_then(Value::as_bool) == Some(true) {
                record.status = Status::Error;
            }
            record.response = Some(result.take());
        }
        match self.core.audit.record(record).await {
            Ok(()) => bytes,
            Err(e) => {
                tracing::error!(error = %e, "unrecorded answer withheld");
                let error = error_message(client_id, -32603, &e.to_string());
                Bytes::from(serde_json::to_vec(&error).unwrap_or_default())
            }
        }
    }

    pub async fn finish(&mut self, client_id: &Value, reply: Value) -> Response {
        json_bytes_response(self.finish_message(client_id, reply).await)
    }

    /// Records a failure of the call and turns it into the client's error.
    pub async fn fail_message(&mut self, client_id: &Value, code: i64, message: String) -> Value {
        self.unregister();
        if let Some(mut record) = self.record.take() {
            record.took(self.started);
            record.failed(Some(code), message.clone());
            if let Err(e) = self.core.audit.record(record).await {
                tracing::error!(error = %e, "failed call not recorded");
            }
        }
        error_message(client_id, code, &message)
    }

    pub async fn fail(&mut self, client_id: &Value, code: i64, message: String) -> Response {
        json_response(&self.fail_message(client_id, code, message).await)
    }
}

impl Flight {
    /// Records the call as cancelled by the client (the server has been told).
    pub async fn cancelled(&mut self, client_id: &Value) -> Value {
        self.unregister();
        let message = "request cancelled by the client";
        if let Some(mut record) = self.record.take() {
            record.took(self.started);
            record.status = Status::Cancelled;
            record.error_message = Some(message.to_owned());
            if let Err(e) = self.core.audit.record(record).await {
                tracing::error!(error = %e, "cancelled call not recorded");
            }
        }
        error_message(client_id, -32800, message)
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        let Some(mut record) = self.record.take() else {
            return;
        };
        // The client went away (or cancelled) before the answer.
        let registered = self.registered.take();
        if let Some((key, _)) = &registered {
            lock(&self.core.direct.calls).remove(key);
        }
        record.took(self.started);
        record.status = Status::Cancelled;
        record.error_message = Some("the client left before the answer".into());
        let core = self.core.clone();
        tokio::spawn(async move {
            if let Some((_, sent)) = registered {
                let cancel = json!({
                    "jsonrpc": "2.0",
                    "method": "notifications/cancelled",
                    "params": { "requestId": sent.upstream_id, "reason": "cancelled by the client" },
                });
                send_upstream(&sent.route, &sent.version, &cancel).await;
            }
            if let Err(e) = core.audit.record(record).await {
                tracing::error!(error = %e, "cancelled call not recorded");
            }
        });
    }
}
