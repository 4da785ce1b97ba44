//! The MCP clients we know and how each one stores its servers.

use serde::{Deserialize, Serialize};

/// An MCP client application whose config Switchboard can read and change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// Claude Desktop: `claude_desktop_config.json`, `mcpServers`, stdio only.
    ClaudeDesktop,
    /// Claude Code: `~/.claude.json` (user and per-project local scopes), `.mcp.json`.
    ClaudeCode,
    /// Cursor: `~/.cursor/mcp.json`, `.cursor/mcp.json`.
    Cursor,
    /// VS Code: `mcp.json` in the user folder or `.vscode/`, key `servers`.
    #[serde(rename = "vscode")]
    VsCode,
    /// Windsurf: `~/.codeium/windsurf/mcp_config.json`.
    Windsurf,
    /// Codex CLI: `~/.codex/config.toml`, tables `[mcp_servers.NAME]`.
    Codex,
    /// Gemini CLI: `~/.gemini/settings.json`.
    Gemini,
    /// Zed: `settings.json`, key `context_servers`.
    Zed,
}

/// The syntax of a client's config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Strict JSON: the client rejects comments and trailing commas.
    Json,
    /// JSON with comments and trailing commas.
    Jsonc,
    /// TOML.
    Toml,
}

impl ClientKind {
    /// Every client, in the order they are shown.
    pub const ALL: [ClientKind; 8] = [
        ClientKind::ClaudeDesktop,
        ClientKind::ClaudeCode,
        ClientKind::Cursor,
        ClientKind::VsCode,
        ClientKind::Windsurf,
        ClientKind::Codex,
        ClientKind::Gemini,
        ClientKind::Zed,
    ];

    /// The id used on the command line and as the client's token name.
    pub fn id(self) -> &'static str {
        match self {
            ClientKind::ClaudeDesktop => "claude-desktop",
            ClientKind::ClaudeCode => "claude-code",
            ClientKind::Cursor => "cursor",
            ClientKind::VsCode => "vscode",
            ClientKind::Windsurf => "windsurf",
            ClientKind::Codex => "codex",
            ClientKind::Gemini => "gemini",
            ClientKind::Zed => "zed",
        }
    }

    /// Every id, for messages.
    pub fn ids() -> Vec<&'static str> {
        Self::ALL.iter().map(|k| k.id()).collect()
    }

    /// The name people know the client by.
    pub fn display_name(self) -> &'static str {
        match self {
            ClientKind::ClaudeDesktop => "Claude Desktop",
            ClientKind::ClaudeCode => "Claude Code",
            ClientKind::Cursor => "Cursor",
            ClientKind::VsCode => "VS Code",
            ClientKind::Windsurf => "Windsurf",
            ClientKind::Codex => "Codex CLI",
            ClientKind::Gemini => "Gemini CLI",
            ClientKind::Zed => "Zed",
        }
    }

    /// The client named `text` (its id or a common alias).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        Self::ALL
            .into_iter()
            .find(|k| k.id() == text)
            .or(match text.as_str() {
                "claude" | "claude-desktop-app" => Some(ClientKind::ClaudeDesktop),
                "claudecode" => Some(ClientKind::ClaudeCode),
                "vs-code" | "code" | "visual-studio-code" => Some(ClientKind::VsCode),
                "codex-cli" => Some(ClientKind::Codex),
                "gemini-cli" => Some(ClientKind::Gemini),
                _ => None,
            })
    }

    /// The syntax of its config files.
    pub fn format(self) -> Format {
        match self {
            // These parse with JSON.parse: a comment would break the client.
            ClientKind::ClaudeDesktop | ClientKind::ClaudeCode | ClientKind::Windsurf => {
                Format::Json
            }
            ClientKind::Cursor | ClientKind::VsCode | ClientKind::Gemini | ClientKind::Zed => {
                Format::Jsonc
            }
            ClientKind::Codex => Format::Toml,
        }
    }

    /// The key (or TOML table) holding the servers.
    pub fn servers_key(self) -> &'static str {
        match self {
            ClientKind::VsCode => "servers",
            ClientKind::Zed => "context_servers",
            ClientKind::Codex => "mcp_servers",
            _ => "mcpServers",
        }
    }

    /// Whether the client can reach a streamable-HTTP server with a header;
    /// if not, it gets a `switchboard connect` stdio entry.
    pub fn supports_http(self) -> bool {
        !matches!(self, ClientKind::ClaudeDesktop)
    }
}

impl std::fmt::Display for ClientKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl std::str::FromStr for ClientKind {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| crate::Error::UnknownClient(s.to_owned()))
    }
}
