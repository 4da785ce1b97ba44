//! The record stage: one audit record per exchange, written here for every
//! route and era.
//!
//! A [`Recording`] is started when a request is read and completed exactly
//! once: with the answer, with the refusal, or (when the client goes away
//! first) as cancelled. In strict mode the answer waits for the commit; an
//! answer that cannot be recorded is withheld.

use std::{sync::Arc, time::Instant};

use serde::{Deserialize, de::IgnoredAny};
use serde_json::Value;
use switchboard_audit::{AuditLog, AuditRecord, Decision, Direction, NotRecorded, Status};

use crate::wire::{Message, RpcError};

/// The audit record of one request, filled in while it is served.
pub(crate) struct Recording {
    audit: Arc<AuditLog>,
    record: Option<AuditRecord>,
    started: Instant,
    /// The request's span, when the record also completes it and the
    /// request counts in the metrics (a client's request, not a notification).
    span: Option<tracing::Span>,
}

/// How a list result is recorded: its size, not its items (definitions are
/// pinned separately, and copying thousands of them per call would cost more
/// than the call).
#[derive(Deserialize)]
struct Page {
    #[serde(
        alias = "tools",
        alias = "prompts",
        alias = "resources",
        alias = "resourceTemplates",
        default
    )]
    items: Option<Vec<IgnoredAny>>,
    #[serde(rename = "nextCursor", default)]
    next: Option<Value>,
}

fn is_list(method: &str) -> bool {
    matches!(
        method,
        "tools/list" | "prompts/list" | "resources/list" | "resources/templates/list"
    )
}

impl Recording {
    /// Starts the record of a request of `client`.
    pub fn begin(audit: &Arc<AuditLog>, direction: Direction, method: &str) -> Self {
        Self {
            audit: audit.clone(),
            record: Some(AuditRecord::new(direction, method)),
            started: Instant::now(),
            span: None,
        }
    }

    /// Exports the record with `span` (its OpenTelemetry attributes and
    /// the request metrics) when it is written.
    pub fn trace(&mut self, span: tracing::Span) {
        self.span = Some(span);
    }

    /// Completes the span and the metrics from the finished record.
    fn telemetry(&self, record: &AuditRecord) {
        if let Some(span) = &self.span {
            switchboard_telemetry::mcp::finish(span, record, self.audit.redactor());
        }
    }

    fn with(&mut self, f: impl FnOnce(&mut AuditRecord)) {
        if let Some(record) = self.record.as_mut() {
            f(record);
        }
    }

    /// The client.
    pub fn client(&mut self, client: &str) {
        self.with(|r| r.client = Some(client.to_owned()));
    }

    /// The MCP session id.
    pub fn session(&mut self, id: Option<&str>) {
        self.with(|r| r.session = id.map(str::to_owned));
    }

    /// The server that serves the request.
    pub fn server(&mut self, server: &str) {
        self.with(|r| r.server = Some(server.to_owned()));
    }

    /// What the request is about, as the server names it.
    pub fn name(&mut self, name: &str) {
        self.with(|r| r.name = Some(name.to_owned()));
    }

    /// The protocol version of the exchange.
    pub fn protocol(&mut self, version: &str) {
        self.with(|r| r.protocol_version = Some(version.to_owned()));
    }

    /// The request's params.
    pub fn request(&mut self, params: Option<Value>) {
        self.with(|r| r.request = params);
    }

    /// The policy decision and the rule behind it.
    pub fn decide(&mut self, decision: Decision, rule: &str) {
        self.with(|r| {
            if matches!(decision, Decision::Denied | Decision::RateLimited)
                || matches!(&decision, Decision::Asked(a) if !a.starts_with("allow"))
            {
                r.status = Status::Denied;
            }
            r.decision = decision;
            r.rule = Some(rule.to_owned());
        });
    }

    /// Records `answer` (a result or an error).
    pub async fn finish(&mut self, answer: &Message) -> Result<(), NotRecorded> {
        let Some(mut record) = self.record.take() else {
            return Ok(());
        };
        record.took(self.started);
        if let Some(error) = answer.rpc_error() {
            if record.status != Status::Denied {
                record.status = Status::Error;
            }
            record.error_code = Some(error.code);
            record.error_message = Some(error.message);
        } else if let Some(result) = &answer.result {
            if is_list(&record.method) {
                if let Ok(page) = serde_json::from_str::<Page>(result.get()) {
                    record.response = Some(serde_json::json!({
                        "items": page.items.map_or(0, |i| i.len()),
                        "nextCursor": page.next,
                    }));
                }
            } else {
                let value: Option<Value> = serde_json::from_str(result.get()).ok();
                // A tool that ran and failed answers with a result marked
                // isError: for the log that is an error all the same.
                if record.status != Status::Denied
                    && value
                        .as_ref()
                        .and_then(|v| v.get("isError"))
                        .and_then(Value::as_bool)
                        == Some(true)
                {
                    record.status = Status::Error;
                }
                record.response = value;
            }
        }
        self.telemetry(&record);
        self.audit.record(record).await
    }

    /// Records a request that ended without an answer from a server:
    /// refused, failed or cancelled.
    pub async fn fail(&mut self, error: &RpcError, cancelled: bool) -> Result<(), NotRecorded> {
        let Some(mut record) = self.record.take() else {
            return Ok(());
        };
        record.took(self.started);
        if cancelled {
            record.status = Status::Cancelled;
        } else if record.status != Status::Denied {
            record.status = Status::Error;
        }
        record.error_code = Some(error.code);
        record.error_message = Some(error.message.clone());
        self.telemetry(&record);
        self.audit.record(record).await
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        let Some(mut record) = self.record.take() else {
            return;
        };
        // The client went away before the answer.
        record.took(self.started);
        record.status = Status::Cancelled;
        record.error_message = Some("the client left before the answer".into());
        self.telemetry(&record);
        let audit = self.audit.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = audit.record(record).await {
                    tracing::error!(error = %e, "cancelled call not recorded");
                }
            });
        }
    }
}

/// Records a message a server sent (a notification, or a request answered
/// here), for `client` when it was for one.
pub(crate) async fn server_message(
    audit: &AuditLog,
    server: &str,
    client: Option<&str>,
    version: Option<&str>,
    message: &Message,
) {
    let mut record = AuditRecord::new(Direction::ServerToClient, message.method());
    record.server = Some(server.to_owned());
    record.client = client.map(str::to_owned);
    record.request = message.params_value();
    record.protocol_version = version.map(str::to_owned);
    if let Err(e) = audit.record(record).await {
        tracing::error!(server, error = %e, "message not recorded");
    }
}

/// Records a request of a server put to a client, with its outcome.
pub(crate) async fn server_request(
    audit: &AuditLog,
    server: &str,
    client: &str,
    version: Option<&str>,
    request: &Message,
    started: Instant,
    outcome: &Result<Value, RpcError>,
) {
    let mut record = AuditRecord::new(Direction::ServerToClient, request.method());
    record.server = Some(server.to_owned());
    record.client = Some(client.to_owned());
    record.request = request.params_value();
    record.protocol_version = version.map(str::to_owned);
    record.took(started);
    match outcome {
        Ok(value) => record.response = Some(value.clone()),
        Err(e) => record.failed(Some(e.code), e.message.clone()),
    }
    if let Err(e) = audit.record(record).await {
        tracing::error!(server, error = %e, "message not recorded");
    }
}
