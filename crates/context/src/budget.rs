//! A client's tool mode and budget.
//!
//! `passthrough` lists every tool the client may use; `search` lists
//! `search_tools`, `call_tool` and the tools the user keeps always listed;
//! `auto` lists everything while the client's view fits its budget and
//! switches to search once it does not.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::Error;

/// How `/mcp` offers a client its tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ToolMode {
    /// Every tool, as the servers list them.
    Passthrough,
    /// `search_tools` and `call_tool` (and the always-listed tools).
    Search,
    /// Passthrough within the budget, search past it.
    #[default]
    Auto,
}

impl ToolMode {
    /// The name used in settings, the CLI and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolMode::Passthrough => "passthrough",
            ToolMode::Search => "search",
            ToolMode::Auto => "auto",
        }
    }
}

impl fmt::Display for ToolMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ToolMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "passthrough" => Ok(ToolMode::Passthrough),
            "search" => Ok(ToolMode::Search),
            "auto" => Ok(ToolMode::Auto),
            other => Err(Error::UnknownMode(other.to_owned())),
        }
    }
}

/// How many tools, and how many tokens of definitions, a client should be
/// given at most (None: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Budget {
    /// Tools listed at most.
    pub tools: Option<u32>,
    /// Tokens of tool definitions at most.
    pub tokens: Option<u32>,
}

/// The defaults for a client, by the kind its name says (installed clients
/// are named after their kind, e.g. `cursor`, `cursor-work`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    /// The mode a client gets unless set.
    pub mode: ToolMode,
    /// The budget a client gets unless set.
    pub budget: Budget,
    /// Where the tool-count limit comes from, when the kind has one.
    pub why: &'static str,
}

/// Tokens of definitions a desktop assistant is given by default: about a
/// tenth of a 200k-token context window.
pub const DEFAULT_TOKEN_BUDGET: u32 = 20_000;

/// The defaults for the client named `name`.
pub fn defaults_for(name: &str) -> Defaults {
    let kind = KINDS
        .iter()
        .find(|(id, ..)| name == *id || name.strip_prefix(id).is_some_and(|r| r.starts_with('-')));
    match kind {
        Some((_, mode, tools, tokens, why)) => Defaults {
            mode: *mode,
            budget: Budget {
                tools: *tools,
                tokens: *tokens,
            },
            why,
        },
        // Scripts and SDK clients: no limit is known, nothing changes.
        None => Defaults {
            mode: ToolMode::Auto,
            budget: Budget::default(),
            why: "no limit known for this client",
        },
    }
}

type Kind = (
    &'static str,
    ToolMode,
    Option<u32>,
    Option<u32>,
    &'static str,
);

/// Known client kinds: id, mode, tool limit, token budget, and why.
const KINDS: [Kind; 8] = [
    (
        "claude-code",
        ToolMode::Passthrough,
        None,
        None,
        "Claude Code searches its tools itself",
    ),
    (
        "cursor",
        ToolMode::Auto,
        Some(40),
        Some(DEFAULT_TOKEN_BUDGET),
        "Cursor sends at most 40 tools to the model",
    ),
    (
        "vscode",
        ToolMode::Auto,
        Some(128),
        Some(DEFAULT_TOKEN_BUDGET),
        "VS Code allows at most 128 tools per request",
    ),
    (
        "windsurf",
        ToolMode::Auto,
        Some(100),
        Some(DEFAULT_TOKEN_BUDGET),
        "Windsurf allows at most 100 tools in all",
    ),
    (
        "claude-desktop",
        ToolMode::Auto,
        None,
        Some(DEFAULT_TOKEN_BUDGET),
        "no tool limit known; tokens: a tenth of a 200k context",
    ),
    (
        "codex",
        ToolMode::Auto,
        None,
        Some(DEFAULT_TOKEN_BUDGET),
        "no tool limit known; tokens: a tenth of a 200k context",
    ),
    (
        "gemini",
        ToolMode::Auto,
        None,
        Some(DEFAULT_TOKEN_BUDGET),
        "no tool limit known; tokens: a tenth of a 200k context",
    ),
    (
        "zed",
        ToolMode::Auto,
        None,
        Some(DEFAULT_TOKEN_BUDGET),
        "no tool limit known; tokens: a tenth of a 200k context",
    ),
];

/// The size of what a client would be listed in passthrough.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct View {
    /// Tools.
    pub tools: usize,
    /// Tokens of their definitions.
    pub tokens: usize,
}

impl Budget {
    /// What of `view` is past this budget (tools, tokens).
    pub fn exceeded(&self, view: View) -> (bool, bool) {
        (
            self.tools.is_some_and(|max| view.tools > max as usize),
            self.tokens.is_some_and(|max| view.tokens > max as usize),
        )
    }

    /// Whether `view` is past this budget in either way.
    pub fn over(&self, view: View) -> bool {
        let (tools, tokens) = self.exceeded(view);
        tools || tokens
    }
}

/// What `/mcp` lists to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Listing {
    /// Every tool it may use.
    Full,
    /// The search tools and the always-listed ones.
    Search,
}

impl ToolMode {
    /// What a client in this mode is listed, given how many tools its view
    /// holds and (asked for only when the decision needs it: counting
    /// costs) how many tokens.
    pub fn listing(self, budget: Budget, tools: usize, tokens: impl FnOnce() -> usize) -> Listing {
        match self {
            ToolMode::Passthrough => Listing::Full,
            ToolMode::Search => Listing::Search,
            ToolMode::Auto => {
                let over = budget.tools.is_some_and(|max| tools > max as usize)
                    || budget.tokens.is_some_and(|max| tokens() > max as usize);
                if over { Listing::Search } else { Listing::Full }
            }
        }
    }
}
