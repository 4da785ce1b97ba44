//! What the user set for a server's sandbox.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Whether a sandboxed server may use the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NetworkGrant {
    /// As inferred from the launch: on for package runners (`npx`, `uvx`, …),
    /// which fetch the server's package, off otherwise.
    #[default]
    Inferred,
    /// Off.
    Off,
    /// On.
    On,
}

impl NetworkGrant {
    /// Order by how much it allows (off < inferred < on).
    fn rank(self) -> u8 {
        match self {
            NetworkGrant::Off => 0,
            NetworkGrant::Inferred => 1,
            NetworkGrant::On => 2,
        }
    }
}

/// A server's sandbox settings. The default (on, nothing granted beyond what
/// is inferred) is what a new stdio server gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxConfig {
    /// Off: the server runs with the user's full rights and environment.
    #[serde(default = "on")]
    pub enabled: bool,
    /// Folders or files it may read, beyond the inferred ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_read: Vec<PathBuf>,
    /// Folders or files it may read and write, beyond the inferred ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_write: Vec<PathBuf>,
    /// Network access.
    #[serde(default)]
    pub network: NetworkGrant,
}

fn on() -> bool {
    true
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_read: Vec::new(),
            allow_write: Vec::new(),
            network: NetworkGrant::Inferred,
        }
    }
}

impl SandboxConfig {
    /// Whether these are the defaults (nothing beyond the inferred grants).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Whether `self` allows something `before` did not: the sandbox turned
    /// off, a path readable or writable that was not, or more network. A
    /// widened sandbox needs the user's approval like a changed command.
    pub fn widens(&self, before: &SandboxConfig) -> bool {
        if before.enabled && !self.enabled {
            return true;
        }
        if !before.enabled || !self.enabled {
            // Off allows everything: nothing is wider than it.
            return false;
        }
        let covered = |path: &Path, grants: &[PathBuf]| grants.iter().any(|g| path.starts_with(g));
        let reads: Vec<PathBuf> = before
            .allow_read
            .iter()
            .chain(&before.allow_write)
            .cloned()
            .collect();
        self.allow_read.iter().any(|p| !covered(p, &reads))
            || self
                .allow_write
                .iter()
                .any(|p| !covered(p, &before.allow_write))
            || self.network.rank() > before.network.rank()
    }
}
