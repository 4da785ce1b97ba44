//! The decide stage: whether a call may run. Profile, pinned definition,
//! permission, the user's answer, rate limit; the result is a [`Permit`]
//! that the relay spends when the call reaches its server (a call that never
//! does gives its rate-limit token back).
//!
//! A tool the gateway has no definition of is decided once its server has
//! listed its tools (waiting for that at most the connect timeout), and
//! refused when the list does not hold it: never by a default.

use std::{sync::Arc, time::Duration};

use rmcp::model::{JsonObject, Tool};
use serde_json::Value;
use switchboard_audit::Decision;
use switchboard_store::Permission;

use super::{Bound, Core, Outbox, refusal::Refusal};
use crate::{
    policy::{Answer, AskRequest, RateTicket},
    record::Recording,
    upstream::{ToolLookup, Upstream},
};

/// Leave for one call to reach its server.
pub(crate) struct Permit {
    rate: Option<RateTicket>,
}

impl Permit {
    /// A request that needs no permission (everything but tool calls).
    pub fn free() -> Self {
        Self { rate: None }
    }

    /// The call reached its server: the rate token is spent.
    pub fn spend(self) {
        if let Some(rate) = self.rate {
            rate.spend();
        }
    }
}

/// Whether `bound`'s client may use `server` at all.
pub(crate) fn visible(core: &Core, bound: &Bound, server: &str) -> Result<(), Refusal> {
    core.policy
        .server_visible(&bound.caller.client, server)
        .map_err(|verdict| Refusal::Denied {
            what: format!("server \"{server}\""),
            rule: verdict.rule,
            decision: Decision::Denied,
        })
}

/// What a call of a tool needs decided.
pub(crate) struct Call<'a> {
    pub up: &'a Upstream,
    /// The tool as the server names it.
    pub tool: &'a str,
    /// The tool as the client called it (errors speak the caller's names).
    pub called: &'a str,
    pub arguments: Option<&'a JsonObject>,
    /// The client's progress token, to tell it while the user decides.
    pub progress: Option<&'a Value>,
}

/// Decides a tool call; the tool's definition comes with the permit.
pub(crate) async fn tool_call(
    core: &Arc<Core>,
    bound: &Bound,
    call: Call<'_>,
    record: &mut Recording,
    out: &Outbox,
) -> Result<(Permit, Tool), Refusal> {
    let server = call.up.name();
    visible(core, bound, server)?;
    // A server that is not there answers nothing: say so at once (one that is
    // starting gets the usual moment to come up).
    call.up.connection_within(core.settle).await?;
    let tool = match call.up.tool_for_call(call.tool, core.decide_wait).await {
        ToolLookup::Listed(tool) => tool,
        ToolLookup::Unlisted => return Err(Refusal::UnknownTool(call.called.to_owned())),
        ToolLookup::Unknown => {
            return Err(Refusal::Undecidable {
                tool: call.called.to_owned(),
                server: server.to_owned(),
            });
        }
    };
    let client = bound.caller.client.as_str();
    let policy = &core.policy;
    let verdict = policy.flow_verdict(
        policy.tool_verdict(client, server, &tool),
        &bound.flow_key(),
        server,
        &tool,
    );
    let what = format!("tool \"{}\"", call.called);
    match verdict.permission {
        Permission::Deny => {
            return Err(Refusal::Denied {
                what,
                rule: verdict.rule,
                decision: Decision::Denied,
            });
        }
        Permission::Ask => {
            // Held while the call waits: one client cannot flood the queue.
            let _slot = core
                .sessions
                .caps
                .take(client, crate::session::Held::Approvals)?;
            let shown = call.arguments.map(|a| {
                let mut v = Value::Object(a.clone());
                core.audit.redactor().redact(&mut v);
                v
            });
            let ask = AskRequest {
                client,
                session_key: bound.key(),
                session_id: bound.session_id(),
                server,
                tool: call.tool,
                arguments: call.arguments,
                shown_arguments: shown,
                reason: &verdict.rule,
            };
            let progress = call.progress.map(|token| (out.sender(), token.clone()));
            let timeout = Duration::from_secs(policy.settings().approval_timeout_secs);
            let cancel = tokio_util::sync::CancellationToken::new();
            let asking = policy.approvals.ask(ask, timeout, progress, cancel.clone());
            tokio::pin!(asking);
            // A client that leaves stops waiting (the approval expires).
            let answered = tokio::select! {
                answered = &mut asking => answered,
                () = out.closed() => {
                    cancel.cancel();
                    asking.await
                }
            };
            let (answer, id) = answered.map_err(|e| Refusal::Approval(e.to_string()))?;
            let rule = match id {
                Some(id) => format!("{} (approval #{id})", verdict.rule),
                None => format!("{} (allowed for this session)", verdict.rule),
            };
            if answer == Answer::Always {
                // The stored allow must hold for the very next call.
                if let Err(e) = policy.reload().await {
                    tracing::warn!(error = %e, "cannot reload policy");
                }
            }
            if !answer.allowed() {
                return Err(Refusal::Denied {
                    what,
                    rule: format!("{rule}: the user answered {}", answer.as_str()),
                    decision: Decision::Asked(answer.as_str().into()),
                });
            }
            record.decide(Decision::Asked(answer.as_str().into()), &rule);
        }
        Permission::Allow => record.decide(Decision::Allowed, &verdict.rule),
    }
    match policy.take_rate(client, server, call.tool).await {
        Ok(ticket) => Ok((Permit { rate: Some(ticket) }, tool)),
        Err((why, wait)) => Err(Refusal::RateLimited { why, wait }),
    }
}
