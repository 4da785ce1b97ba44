//! Where the front applies the policy: visibility of servers and tools, and
//! the permission, approval and rate limit of each call.

use std::time::Duration;

use rmcp::{
    ErrorData as McpError, RoleServer,
    model::{CallToolRequestParams, ErrorCode, Tool},
    service::RequestContext,
};
use switchboard_audit::Decision;
use switchboard_store::Permission;

use super::{Bound, Front, audit::Scope};
use crate::{
    policy::{AskRequest, Verdict},
    upstream::Upstream,
};

/// JSON-RPC error code of a call refused by policy.
pub const POLICY_DENIED: ErrorCode = ErrorCode(-32010);
/// JSON-RPC error code of a call refused by a rate limit.
pub const RATE_LIMITED: ErrorCode = ErrorCode(-32029);

/// The error a client gets for a refused call.
pub(crate) fn denied(what: &str, verdict: &Verdict) -> McpError {
    McpError::new(
        POLICY_DENIED,
        format!("{what} was denied by policy: {}", verdict.rule),
        Some(serde_json::json!({ "rule": verdict.rule })),
    )
}

impl Front {
    /// The tools of `up` this session may see: denied ones are left out.
    pub(super) fn visible_tools<'a>(
        &self,
        bound: &Bound,
        server: &str,
        tools: impl IntoIterator<Item = &'a Tool>,
    ) -> Vec<Tool> {
        let policy = &self.core.policy;
        tools
            .into_iter()
            .filter(|t| {
                policy
                    .tool_verdict(&bound.caller.client, server, t)
                    .permission
                    != Permission::Deny
            })
            .cloned()
            .collect()
    }

    /// Decides whether a call may run: permission (asking the user when the
    /// policy says so), then rate limits. Records the decision on `audit`.
    pub(super) async fn authorize_call(
        &self,
        bound: &Bound,
        up: &Upstream,
        request: &CallToolRequestParams,
        context: &RequestContext<RoleServer>,
        audit: &mut Scope,
    ) -> Result<(), McpError> {
        let policy = &self.core.policy;
        let client = bound.caller.client.as_str();
        let name = request.name.as_ref();
        audit.server(up.name());
        // A tool the cache does not know yet is judged by the defaults for
        // unannotated tools; the server has the last word on whether it exists.
        let tool = up
            .tools()
            .iter()
            .find(|t| t.name == name)
            .cloned()
            .unwrap_or_else(|| Tool::new(name.to_owned(), "", serde_json::Map::new()));
        let verdict = policy.tool_verdict(client, up.name(), &tool);
        let what = format!("tool \"{}__{name}\"", up.name());
        match verdict.permission {
            Permission::Deny => {
                audit.decide(Decision::Denied, &verdict.rule);
                return Err(denied(&what, &verdict));
            }
            Permission::Ask => {
                let shown = request.arguments.as_ref().map(|a| {
                    let mut v = serde_json::Value::Object(a.clone());
                    self.core.audit.redactor().redact(&mut v);
                    v
                });
                let session_id = audit.session().map(str::to_owned);
                let ask = AskRequest {
                    client,
                    session_key: bound.key,
                    session_id: session_id.as_deref(),
                    server: up.name(),
                    tool: name,
                    arguments: request.arguments.as_ref(),
                    shown_arguments: shown,
                };
                let progress = context
                    .meta
                    .get_progress_token()
                    .map(|t| (context.peer.clone(), t));
                let timeout = Duration::from_secs(policy.settings().approval_timeout_secs);
                let (answer, id) = policy
                    .approvals
                    .ask(ask, timeout, progress, context.ct.clone())
                    .await
                    .map_err(|e| {
                        McpError::internal_error(format!("cannot queue the approval: {e}"), None)
                    })?;
                let rule = match id {
                    Some(id) => format!("{} (approval #{id})", verdict.rule),
                    None => format!("{} (allowed for this session)", verdict.rule),
                };
                audit.decide(Decision::Asked(answer.as_str().into()), &rule);
                if answer == crate::policy::Answer::Always {
                    // The stored allow must hold for the very next call.
                    if let Err(e) = policy.reload().await {
                        tracing::warn!(error = %e, "cannot reload policy");
                    }
                }
                if !answer.allowed() {
                    let verdict = Verdict {
                        permission: Permission::Deny,
                        rule: format!("{rule}: the user answered {}", answer.as_str()),
                    };
                    return Err(denied(&what, &verdict));
                }
            }
            Permission::Allow => audit.decide(Decision::Allowed, &verdict.rule),
        }
        if let Err((why, wait)) = policy.take_rate(client, up.name(), name) {
            audit.decide(Decision::RateLimited, &why);
            return Err(McpError::new(
                RATE_LIMITED,
                format!("rate limited: {why}; retry after {wait:.1} s"),
                Some(serde_json::json!({ "retryAfterSeconds": (wait * 10.0).ceil() / 10.0 })),
            ));
        }
        Ok(())
    }
}
