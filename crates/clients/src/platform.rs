//! Where each client keeps its config on Linux, macOS and Windows.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{ClientKind, Error, Result};

/// Environment variable that replaces the home directory for detection, so
/// that tests (and curious users) never touch the real client configs.
pub const HOME_OVERRIDE_ENV: &str = "SWITCHBOARD_HOME_OVERRIDE";

/// An operating system family, for its config locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    /// Linux and other XDG systems.
    Linux,
    /// macOS.
    Macos,
    /// Windows.
    Windows,
}

impl Os {
    /// The OS this program runs on.
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Os::Macos
        } else if cfg!(windows) {
            Os::Windows
        } else {
            Os::Linux
        }
    }
}

/// The directories client configs are found under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// The OS whose conventions apply.
    pub os: Os,
    /// The user's home directory.
    pub home: PathBuf,
    /// Per-user app config: `$XDG_CONFIG_HOME` or `~/.config` (Linux),
    /// `~/Library/Application Support` (macOS), `%APPDATA%` (Windows).
    pub app_config: PathBuf,
    /// Codex's home: `$CODEX_HOME` or `~/.codex`.
    pub codex_home: PathBuf,
}

/// Where a config file sits in a client's scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "scope", rename_all = "lowercase")]
pub enum Scope {
    /// The user's own config, used everywhere (what install writes).
    User,
    /// A project's shared config file (`.mcp.json`, `.vscode/mcp.json`, ...).
    Project {
        /// The project folder.
        dir: PathBuf,
    },
}

/// One config file of one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigLocation {
    /// The client.
    pub kind: ClientKind,
    /// The file.
    pub path: PathBuf,
    /// Its scope.
    #[serde(flatten)]
    pub scope: Scope,
}

impl Platform {
    /// The real platform, with the home directory replaced by
    /// `SWITCHBOARD_HOME_OVERRIDE` when that is set.
    pub fn current() -> Result<Self> {
        if let Some(home) = std::env::var_os(HOME_OVERRIDE_ENV).filter(|h| !h.is_empty()) {
            return Ok(Self::with_home(Os::current(), PathBuf::from(home)));
        }
        let home = dirs::home_dir()
            .ok_or_else(|| Error::Usage("cannot tell your home directory".into()))?;
        let mut platform = Self::with_home(Os::current(), home);
        if let Some(dir) = dirs::config_dir() {
            platform.app_config = dir;
        }
        if let Some(dir) = std::env::var_os("CODEX_HOME").filter(|h| !h.is_empty()) {
            platform.codex_home = PathBuf::from(dir);
        }
        Ok(platform)
    }

    /// Every location derived from `home` alone, following `os`'s
    /// conventions (environment variables such as `XDG_CONFIG_HOME` are not read).
    pub fn with_home(os: Os, home: PathBuf) -> Self {
        let app_config = match os {
            Os::Linux => home.join(".config"),
            Os::Macos => home.join("Library").join("Application Support"),
            Os::Windows => home.join("AppData").join("Roaming"),
        };
        Self {
            os,
            codex_home: home.join(".codex"),
            app_config,
            home,
        }
    }

    /// The folder whose existence shows that `kind` is installed (or was run).
    pub fn app_dir(&self, kind: ClientKind) -> PathBuf {
        match kind {
            ClientKind::ClaudeDesktop => self.app_config.join("Claude"),
            ClientKind::ClaudeCode => self.home.join(".claude"),
            ClientKind::Cursor => self.home.join(".cursor"),
            ClientKind::VsCode => self.app_config.join("Code"),
            ClientKind::Windsurf => self.home.join(".codeium").join("windsurf"),
            ClientKind::Codex => self.codex_home.clone(),
            ClientKind::Gemini => self.home.join(".gemini"),
            ClientKind::Zed => self.zed_dir(),
        }
    }

    fn zed_dir(&self) -> PathBuf {
        match self.os {
            // Zed uses ~/.config/zed on macOS too, not Application Support.
            Os::Macos => self.home.join(".config").join("zed"),
            Os::Linux => self.app_config.join("zed"),
            Os::Windows => self.app_config.join("Zed"),
        }
    }

    /// Whether `kind` appears to be installed: its folder or its config exists.
    pub fn is_installed(&self, kind: ClientKind) -> bool {
        self.app_dir(kind).is_dir() || self.user_config(kind).path.is_file()
    }

    /// The user-scope config file of `kind` (what install changes).
    pub fn user_config(&self, kind: ClientKind) -> ConfigLocation {
        let path = match kind {
            ClientKind::ClaudeDesktop => self
                .app_config
                .join("Claude")
                .join("claude_desktop_config.json"),
            ClientKind::ClaudeCode => self.home.join(".claude.json"),
            ClientKind::Cursor => self.home.join(".cursor").join("mcp.json"),
            ClientKind::VsCode => self.app_config.join("Code").join("User").join("mcp.json"),
            ClientKind::Windsurf => self
                .home
                .join(".codeium")
                .join("windsurf")
                .join("mcp_config.json"),
            ClientKind::Codex => self.codex_home.join("config.toml"),
            ClientKind::Gemini => self.home.join(".gemini").join("settings.json"),
            ClientKind::Zed => self.zed_dir().join("settings.json"),
        };
        ConfigLocation {
            kind,
            path,
            scope: Scope::User,
        }
    }

    /// The config `kind` reads from the project folder `dir`, if it has one.
    pub fn project_config(kind: ClientKind, dir: &Path) -> Option<ConfigLocation> {
        let path = match kind {
            ClientKind::ClaudeDesktop | ClientKind::Windsurf => return None,
            ClientKind::ClaudeCode => dir.join(".mcp.json"),
            ClientKind::Cursor => dir.join(".cursor").join("mcp.json"),
            ClientKind::VsCode => dir.join(".vscode").join("mcp.json"),
            ClientKind::Codex => dir.join(".codex").join("config.toml"),
            ClientKind::Gemini => dir.join(".gemini").join("settings.json"),
            ClientKind::Zed => dir.join(".zed").join("settings.json"),
        };
        Some(ConfigLocation {
            kind,
            path,
            scope: Scope::Project {
                dir: dir.to_owned(),
            },
        })
    }

    /// The files to read for `kind`: the user's, then the project's.
    pub fn locations(&self, kind: ClientKind, project: Option<&Path>) -> Vec<ConfigLocation> {
        let mut out = vec![self.user_config(kind)];
        out.extend(project.and_then(|dir| Self::project_config(kind, dir)));
        out
    }
}
