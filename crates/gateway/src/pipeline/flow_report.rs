//! Which clients hold a toxic flow: a view with a tool that reads private
//! data, one whose results carry untrusted content and one that sends data
//! out. Injected text in the untrusted content can then steer the client to
//! send the private data away.

use std::sync::Arc;

use switchboard_policy::flows::FlowLabels;

use super::{Core, tools_cache::View};
use crate::policy::Policy;

/// One labelled tool of a client's view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowTool {
    /// Its server.
    pub server: String,
    /// Its name as the server names it.
    pub tool: String,
    /// Its name on `/mcp`.
    pub name: String,
    /// Its labels and why.
    pub labels: FlowLabels,
}

/// What a client's view can do in a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowReport {
    /// The client.
    pub client: String,
    /// Whether its view holds all three kinds of tool.
    pub toxic: bool,
    /// Whether the guard is on (outbound calls ask after untrusted content).
    pub guard: bool,
    /// The tools of its view with any label (or one the user set), in
    /// server order.
    pub tools: Vec<FlowTool>,
}

/// The report of `client` for this view under `policy`.
pub(crate) fn flow_report(policy: &Policy, client: &str, view: &View) -> FlowReport {
    let mut tools = Vec::new();
    for (i, listed) in view.tools.iter().enumerate() {
        let server = view.server_of(i);
        let own = listed
            .name
            .strip_prefix(server)
            .and_then(|rest| rest.strip_prefix(crate::names::NAME_SEPARATOR));
        let Some(own) = own else {
            continue;
        };
        let mut tool = listed.clone();
        tool.name = own.to_owned().into();
        let labels: Arc<FlowLabels> = policy.flow_labels(server, &tool);
        // A tool the user set stays listed, so it can be set back.
        let labelled = labels.private_data || labels.untrusted_content || labels.outbound;
        if labelled || policy.flow_overridden(server, own) {
            tools.push(FlowTool {
                server: server.to_owned(),
                tool: own.to_owned(),
                name: listed.name.to_string(),
                labels: (*labels).clone(),
            });
        }
    }
    let any = |f: fn(&FlowLabels) -> bool| tools.iter().any(|t| f(&t.labels));
    let toxic = any(|l| l.private_data) && any(|l| l.untrusted_content) && any(|l| l.outbound);
    FlowReport {
        client: client.to_owned(),
        toxic,
        guard: policy.settings().flow_guard,
        tools,
    }
}

impl Core {
    /// What `client`'s view can do in a flow now.
    pub(crate) fn flow_report(&self, client: &str) -> FlowReport {
        flow_report(&self.policy, client, &self.view(client))
    }
}
