//! Recording what a client session asks and gets (the audit log's input).

use std::time::Instant;

use rmcp::{ErrorData as McpError, RoleServer, service::RequestContext};
use serde::Serialize;
use switchboard_audit::{AuditRecord, Decision, Direction, Status};

use super::Front;

/// The audit record of one request, filled in while it is served.
pub(crate) struct Scope {
    record: AuditRecord,
    started: Instant,
    /// Lists are recorded by size, not content: their items are definitions
    /// (pinned separately), and copying thousands of them per call would cost
    /// more than the call.
    summarize: bool,
}

impl Scope {
    /// The upstream that serves the request.
    pub fn server(&mut self, name: &str) {
        self.record.server = Some(name.to_owned());
    }

    /// The policy decision and the rule behind it.
    pub fn decide(&mut self, decision: Decision, rule: &str) {
        if matches!(decision, Decision::Denied | Decision::RateLimited)
            || matches!(&decision, Decision::Asked(a) if !a.starts_with("allow"))
        {
            self.record.status = Status::Denied;
        }
        self.record.decision = decision;
        self.record.rule = Some(rule.to_owned());
    }

    /// The protocol version the client speaks.
    pub fn protocol(&mut self, version: &str) {
        self.record.protocol_version = Some(version.to_owned());
    }

    /// The MCP session id, when known.
    pub fn session(&self) -> Option<&str> {
        self.record.session.as_deref()
    }

    /// What the request is about, as the upstream names it.
    pub fn name(&mut self, name: impl Into<String>) {
        self.record.name = Some(name.into());
    }
}

fn session_id(context: &RequestContext<RoleServer>) -> Option<String> {
    context
        .extensions
        .get::<http::request::Parts>()?
        .headers
        .get("mcp-session-id")?
        .to_str()
        .ok()
        .map(str::to_owned)
}

impl Front {
    /// Starts the record of a request.
    pub(super) fn audit_begin(
        &self,
        context: &RequestContext<RoleServer>,
        method: &str,
        name: Option<String>,
        request: Option<&impl Serialize>,
    ) -> Scope {
        let mut record = AuditRecord::new(Direction::ClientToServer, method);
        record.client = Self::caller(&context.extensions).map(|c| c.client);
        record.session = session_id(context);
        record.name = name;
        record.request = request.and_then(|r| serde_json::to_value(r).ok());
        record.protocol_version = match self.bound.get() {
            Some(bound) => Some(bound.protocol_version.clone()),
            None => context.protocol_version().map(|v| v.to_string()),
        };
        if let Some(bound) = self.bound.get()
            && let crate::route::Route::Server(server) = &bound.caller.route
        {
            record.server = Some(server.clone());
        }
        Scope {
            record,
            started: Instant::now(),
            summarize: method.ends_with("/list"),
        }
    }

    /// Completes the record and hands it to the audit log. In strict mode the
    /// answer goes out only once the record is committed; if it cannot be,
    /// the client gets an error instead of an unrecorded answer.
    pub(super) async fn audit_end<T: AuditJson>(
        &self,
        scope: Scope,
        context: &RequestContext<RoleServer>,
        mut result: Result<T, McpError>,
    ) -> Result<T, McpError> {
        if super::is_stateless(context)
            && let Ok(value) = &mut result
        {
            value.mark_complete();
        }
        let Scope {
            mut record,
            started,
            summarize,
        } = scope;
        record.took(started);
        match &result {
            Ok(value) => {
                // Lists are summarised from the typed result: turning
                // thousands of definitions into JSON just to count them
                // would cost more than the call.
                let value = if summarize {
                    value.audit_summary()
                } else {
                    value.audit_json()
                };
                // A tool that ran and failed answers with a result marked
                // isError: for the log that is an error all the same.
                let failed = value
                    .as_ref()
                    .and_then(|v| v.get("isError"))
                    .and_then(serde_json::Value::as_bool);
                if failed == Some(true) {
                    record.status = Status::Error;
                }
                record.response = value;
            }
            Err(e) => {
                // Refusals raised before a call reaches the policy check
                // (a profile hiding the server) carry their rule in the error.
                if e.code == super::policy::POLICY_DENIED && record.decision == Decision::Allowed {
                    let rule = e
                        .data
                        .as_ref()
                        .and_then(|d| d.get("rule"))
                        .and_then(|r| r.as_str())
                        .unwrap_or("denied by policy")
                        .to_owned();
                    record.status = Status::Denied;
                    record.decision = Decision::Denied;
                    record.rule = Some(rule);
                }
                if record.status != Status::Denied {
                    record.status = if context.ct.is_cancelled() {
                        Status::Cancelled
                    } else {
                        Status::Error
                    };
                }
                record.error_code = Some(i64::from(e.code.0));
                record.error_message = Some(e.message.to_string());
            }
        }
        if let Err(e) = self.core.audit.record(record).await {
            tracing::error!(error = %e, "unrecorded answer withheld");
            return Err(McpError::internal_error(e.to_string(), None));
        }
        result
    }

    /// Records a notification from the client.
    pub(super) async fn audit_notification(&self, method: &str, params: Option<serde_json::Value>) {
        let mut record = AuditRecord::new(Direction::ClientToServer, method);
        if let Some(bound) = self.bound.get() {
            record.client = Some(bound.caller.client.clone());
            if let crate::route::Route::Server(server) = &bound.caller.route {
                record.server = Some(server.clone());
            }
        }
        record.request = params;
        if let Err(e) = self.core.audit.record(record).await {
            tracing::error!(error = %e, "notification not recorded");
        }
    }
}

/// How an answer appears in the audit log.
pub(super) trait AuditJson {
    /// The answer as JSON.
    fn audit_json(&self) -> Option<serde_json::Value>;

    /// Sets `resultType: "complete"` where the result has none: 2026-07-28
    /// clients need it, servers of older versions leave it out.
    fn mark_complete(&mut self) {}

    /// A short form for list results: `{"items": N, "nextCursor": …}`.
    fn audit_summary(&self) -> Option<serde_json::Value> {
        self.audit_json()
    }
}

macro_rules! audit_list_summary {
    ($($t:ty => $items:ident),* $(,)?) => {$(
        impl AuditJson for $t {
            fn audit_json(&self) -> Option<serde_json::Value> {
                serde_json::to_value(self).ok()
            }

            fn mark_complete(&mut self) {
                self.result_type.get_or_insert(rmcp::model::ResultType::COMPLETE);
            }

            fn audit_summary(&self) -> Option<serde_json::Value> {
                Some(serde_json::json!({ "items": self.$items.len(), "nextCursor": self.next_cursor }))
            }
        }
    )*};
}

audit_list_summary!(
    rmcp::model::ListPromptsResult => prompts,
    rmcp::model::ListResourcesResult => resources,
    rmcp::model::ListResourceTemplatesResult => resource_templates,
    rmcp::model::ListToolsResult => tools,
);

macro_rules! audit_json_via_serde {
    ($($t:ty),* $(,)?) => {$(
        impl AuditJson for $t {
            fn audit_json(&self) -> Option<serde_json::Value> {
                serde_json::to_value(self).ok()
            }
        }
    )*};
}

audit_json_via_serde!(
    (),
    rmcp::model::InitializeResult,
    rmcp::model::DiscoverResult,
    rmcp::model::SubscriptionFilter,
    rmcp::model::GetTaskResult,
    rmcp::model::CustomResult,
);

impl AuditJson for rmcp::model::CompleteResult {
    fn audit_json(&self) -> Option<serde_json::Value> {
        serde_json::to_value(self).ok()
    }

    fn mark_complete(&mut self) {
        self.result_type
            .get_or_insert(rmcp::model::ResultType::COMPLETE);
    }
}

impl AuditJson for rmcp::model::CallToolResponse {
    fn audit_json(&self) -> Option<serde_json::Value> {
        match self {
            Self::Complete(r) => serde_json::to_value(r).ok(),
            Self::InputRequired(r) => serde_json::to_value(r).ok(),
            Self::Task(r) => serde_json::to_value(r).ok(),
            _ => None,
        }
    }

    fn mark_complete(&mut self) {
        if let Self::Complete(r) = self {
            r.result_type
                .get_or_insert(rmcp::model::ResultType::COMPLETE);
        }
    }
}

impl AuditJson for rmcp::model::GetPromptResponse {
    fn audit_json(&self) -> Option<serde_json::Value> {
        match self {
            Self::Complete(r) => serde_json::to_value(r).ok(),
            Self::InputRequired(r) => serde_json::to_value(r).ok(),
            _ => None,
        }
    }
    fn mark_complete(&mut self) {
        if let Self::Complete(r) = self {
            r.result_type
                .get_or_insert(rmcp::model::ResultType::COMPLETE);
        }
    }
}

impl AuditJson for rmcp::model::ReadResourceResponse {
    fn audit_json(&self) -> Option<serde_json::Value> {
        match self {
            Self::Complete(r) => serde_json::to_value(r).ok(),
            Self::InputRequired(r) => serde_json::to_value(r).ok(),
            _ => None,
        }
    }
    fn mark_complete(&mut self) {
        if let Self::Complete(r) = self {
            r.result_type
                .get_or_insert(rmcp::model::ResultType::COMPLETE);
        }
    }
}
