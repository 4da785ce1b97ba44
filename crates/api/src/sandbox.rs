//! A stdio server's sandbox in the control API: what the user set, what it
//! gets when it starts (the inferred grants), and changing it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use switchboard_sandbox::{Access, Plan};
use switchboard_store::{NetworkGrant, SandboxConfig, ServerRecord};
use ts_rs::TS;

use crate::{Api, ApiError, schema::ServerInfo};

/// Whether a sandboxed server may use the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum SandboxNetwork {
    /// As inferred: on for package runners (npx, uvx, …), off otherwise.
    Inferred,
    /// Off.
    Off,
    /// On.
    On,
}

/// One path a sandboxed server may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SandboxGrant {
    /// Folder (and everything beneath) or file.
    pub path: String,
    /// Read and write (false: read only).
    pub write: bool,
    /// Why: `interpreter`, `package`, `argument`, `environment`,
    /// `working_folder`, `cache`, `config`, `temp_dir` or `user`.
    pub why: String,
    /// The argument or variable it came from.
    pub detail: Option<String>,
}

/// A stdio server's sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SandboxInfo {
    /// Off: it runs with the user's full rights and environment.
    pub enabled: bool,
    /// Paths the user let it read.
    pub allow_read: Vec<String>,
    /// Paths the user let it read and write.
    pub allow_write: Vec<String>,
    /// Its network setting.
    pub network: SandboxNetwork,
    /// Whether it gets the network when it starts now.
    pub network_on: bool,
    /// Why the network is on or off.
    pub network_why: String,
    /// Everything it may use beyond the system's libraries and programs
    /// (empty when its program is not found).
    pub grants: Vec<SandboxGrant>,
}

/// New sandbox settings for a stdio server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SetSandbox {
    /// The server.
    pub name: String,
    /// Off: unsandboxed.
    pub enabled: bool,
    /// Paths it may read (must exist).
    pub allow_read: Vec<String>,
    /// Paths it may read and write (must exist).
    pub allow_write: Vec<String>,
    /// Its network.
    pub network: SandboxNetwork,
}

/// The sandbox of `record` as the panel shows it; None for a remote server.
pub(crate) fn sandbox_info(record: &ServerRecord, data_dir: &Path) -> Option<SandboxInfo> {
    record.transport.launch_hash()?;
    let settings = &record.sandbox;
    let plan: Option<Plan> = switchboard_gateway::upstream::sandbox_plan(record, data_dir);
    let strings = |v: &[PathBuf]| v.iter().map(|p| p.display().to_string()).collect();
    Some(SandboxInfo {
        enabled: settings.enabled,
        allow_read: strings(&settings.allow_read),
        allow_write: strings(&settings.allow_write),
        network: match settings.network {
            NetworkGrant::Inferred => SandboxNetwork::Inferred,
            NetworkGrant::Off => SandboxNetwork::Off,
            NetworkGrant::On => SandboxNetwork::On,
        },
        network_on: plan.as_ref().is_none_or(|p| p.network),
        network_why: plan.as_ref().map_or_else(
            || "its program is not found".into(),
            |p| p.network_why.clone(),
        ),
        grants: plan
            .iter()
            .flat_map(|p| p.shown())
            .map(|g| SandboxGrant {
                path: g.path.display().to_string(),
                write: g.access == Access::Write,
                why: serde_json::to_value(g.why)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                detail: g.detail.clone(),
            })
            .collect(),
    })
}

/// A grant names an existing folder or file, kept as its real path.
fn existing(path: &str) -> Result<PathBuf, ApiError> {
    std::fs::canonicalize(path).map_err(|e| {
        ApiError::invalid(format!(
            "cannot grant {path}: {e} (a grant must name an existing folder or file)"
        ))
    })
}

impl Api {
    /// Sets a stdio server's sandbox. A wider sandbox leaves the server
    /// waiting for approval (`launch_approved` false), like a changed command.
    pub(crate) async fn server_set_sandbox(&self, p: SetSandbox) -> Result<ServerInfo, ApiError> {
        let paths = |list: &[String]| {
            list.iter()
                .map(|s| existing(s))
                .collect::<Result<Vec<_>, _>>()
        };
        let settings = SandboxConfig {
            enabled: p.enabled,
            allow_read: paths(&p.allow_read)?,
            allow_write: paths(&p.allow_write)?,
            network: match p.network {
                SandboxNetwork::Inferred => NetworkGrant::Inferred,
                SandboxNetwork::Off => NetworkGrant::Off,
                SandboxNetwork::On => NetworkGrant::On,
            },
        };
        let record = self.store.set_server_sandbox(&p.name, settings).await?;
        let status = self.hub.statuses().get(&p.name).map(crate::api::status_of);
        Ok(crate::api::info_of(record, status, &self.data_dir))
    }
}
