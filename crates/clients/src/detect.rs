//! Which MCP clients are on this machine, and what their configs hold.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{
    ClientKind, ENTRY_NAME, Platform,
    config::LoadedFile,
    entry::parse_entry,
    install::{self, InstallStatus},
    platform::Scope,
};

/// The state of one config file.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FileState {
    /// No such file.
    Missing,
    /// Parsed.
    Ok {
        /// Names of its server entries (Switchboard's own left out).
        servers: Vec<String>,
        /// Of those, the ones Switchboard cannot import.
        unsupported: Vec<String>,
    },
    /// It exists but cannot be parsed (left untouched).
    Malformed {
        /// Why.
        error: String,
    },
}

/// One config file of a client.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Its scope.
    #[serde(flatten)]
    pub scope: Scope,
    /// What it holds.
    #[serde(flatten)]
    pub state: FileState,
}

/// One client.
#[derive(Debug, Clone, Serialize)]
pub struct Detected {
    /// The client.
    pub kind: ClientKind,
    /// Its name.
    pub name: &'static str,
    /// Whether it appears to be installed.
    pub installed: bool,
    /// Its config files.
    pub files: Vec<FileReport>,
    /// Whether Switchboard is installed in its user config.
    pub switchboard: InstallStatus,
}

/// Reports every known client (installed or not), reading user configs and,
/// if `project` is given, that project's configs.
pub fn detect(platform: &Platform, data_dir: &Path, project: Option<&Path>) -> Vec<Detected> {
    ClientKind::ALL
        .into_iter()
        .map(|kind| {
            let files = platform
                .locations(kind, project)
                .into_iter()
                .map(|location| FileReport {
                    state: file_state(kind, &location.path),
                    path: location.path,
                    scope: location.scope,
                })
                .collect();
            Detected {
                kind,
                name: kind.display_name(),
                installed: platform.is_installed(kind),
                files,
                switchboard: install::status(platform, data_dir, kind)
                    .unwrap_or(InstallStatus::NotInstalled),
            }
        })
        .collect()
}

fn file_state(kind: ClientKind, path: &Path) -> FileState {
    if !path.is_file() {
        return FileState::Missing;
    }
    match LoadedFile::load(kind, path) {
        Ok(file) => {
            let entries: Vec<_> = file
                .doc
                .entries()
                .into_iter()
                .filter(|e| !(e.section.is_empty() && e.name == ENTRY_NAME))
                .collect();
            FileState::Ok {
                unsupported: entries
                    .iter()
                    .filter(|e| parse_entry(kind, &e.value).is_err())
                    .map(|e| e.name.clone())
                    .collect(),
                servers: entries.into_iter().map(|e| e.name).collect(),
            }
        }
        Err(e) => FileState::Malformed {
            error: e.to_string(),
        },
    }
}
