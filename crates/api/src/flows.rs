//! Toxic flows in the control API: which tools of each client's view read
//! private data, carry untrusted content or send data out, whether a view
//! holds all three, and the user's say on a tool's labels.

use serde::{Deserialize, Serialize};
use switchboard_gateway::{
    FlowReport,
    policy::{FlowOverride, POLICY_SETTINGS_KEY, PolicySettings, flow_override_key},
};
use ts_rs::TS;

use crate::{Api, ApiError};

/// One labelled tool of a client's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FlowToolInfo {
    /// Server.
    pub server: String,
    /// Tool as the server names it.
    pub tool: String,
    /// Name on `/mcp` (`SERVER__TOOL`).
    pub name: String,
    /// Reads private data.
    pub private_data: bool,
    /// Its results carry content someone else wrote.
    pub untrusted_content: bool,
    /// Can send data out.
    pub outbound: bool,
    /// Why, one line per label.
    pub why: Vec<String>,
    /// The user's overrides of its labels.
    pub overridden: FlowLabelsSet,
}

/// Labels the user set (None: as inferred).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FlowLabelsSet {
    /// Reads private data.
    pub private_data: Option<bool>,
    /// Carries untrusted content.
    pub untrusted_content: Option<bool>,
    /// Sends data out.
    pub outbound: Option<bool>,
}

impl From<&FlowOverride> for FlowLabelsSet {
    fn from(o: &FlowOverride) -> Self {
        Self {
            private_data: o.private_data,
            untrusted_content: o.untrusted_content,
            outbound: o.outbound,
        }
    }
}

/// What one client's view can do in a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ClientFlows {
    /// Client.
    pub client: String,
    /// Its view holds a private-data, an untrusted-content and an outbound
    /// tool: text planted in the untrusted content can steer it to send the
    /// private data out.
    pub toxic: bool,
    /// The guard is on: after an untrusted result, outbound calls ask first.
    pub guard: bool,
    /// The tools of its view with any label.
    pub tools: Vec<FlowToolInfo>,
}

/// Sets what a tool does in a flow (for every client).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SetToolFlow {
    /// Server.
    pub server: String,
    /// Tool as the server names it.
    pub tool: String,
    /// The labels to hold whatever is inferred (None: as inferred).
    pub labels: FlowLabelsSet,
}

fn info(report: FlowReport, settings: &PolicySettings) -> ClientFlows {
    ClientFlows {
        client: report.client,
        toxic: report.toxic,
        guard: report.guard,
        tools: report
            .tools
            .into_iter()
            .map(|t| FlowToolInfo {
                overridden: settings
                    .flow_overrides
                    .get(&flow_override_key(&t.server, &t.tool))
                    .map(FlowLabelsSet::from)
                    .unwrap_or_default(),
                server: t.server,
                tool: t.tool,
                name: t.name,
                private_data: t.labels.private_data,
                untrusted_content: t.labels.untrusted_content,
                outbound: t.labels.outbound,
                why: t.labels.why,
            })
            .collect(),
    }
}

impl Api {
    /// Every client's flows, by name.
    pub(crate) async fn flows_list(&self, (): ()) -> Result<Vec<ClientFlows>, ApiError> {
        let names = self.client_names().await?;
        let contexts = self.contexts.clone();
        // Labelling thousands of tools is CPU work: off the runtime.
        let reports = tokio::task::spawn_blocking(move || contexts.flows(&names))
            .await
            .unwrap_or_default();
        let settings = self.policy.settings();
        Ok(reports.into_iter().map(|r| info(r, &settings)).collect())
    }

    pub(crate) async fn tool_set_flow(&self, p: SetToolFlow) -> Result<(), ApiError> {
        if self.hub.get(&p.server).is_none() {
            return Err(ApiError::not_found(format!(
                "no server named \"{}\"",
                p.server
            )));
        }
        let mut settings = self
            .store
            .get_setting::<PolicySettings>(POLICY_SETTINGS_KEY)
            .await?
            .unwrap_or_default();
        let set = FlowOverride {
            private_data: p.labels.private_data,
            untrusted_content: p.labels.untrusted_content,
            outbound: p.labels.outbound,
        };
        settings.set_flow_override(&p.server, &p.tool, set);
        self.store
            .set_setting(POLICY_SETTINGS_KEY, &settings)
            .await?;
        // Applied now, not at the next look at the store.
        self.policy.reload().await?;
        Ok(())
    }
}
