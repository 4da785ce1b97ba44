//! MCP client integrations: find the clients on this machine (Claude Desktop,
//! Claude Code, Cursor, VS Code, Windsurf, Codex CLI, Gemini CLI, Zed), import
//! the servers they already have, point them at Switchboard and back, the
//! bundled server catalog, and the doctor's checks.
//!
//! Config files are read and edited with parsers that keep what we do not
//! touch (comments, order, unknown keys): `jsonc-parser`'s syntax tree for
//! JSON and JSONC, `toml_edit` for TOML. A file we cannot parse is reported
//! and never written.

pub mod catalog;
mod config;
pub mod detect;
pub mod diff;
pub mod doctor;
mod entry;
mod error;
pub mod import;
pub mod install;
mod kind;
mod platform;

pub use config::{Document, LoadedFile, RawEntry};
pub use detect::{Detected, FileReport, FileState, detect};
pub use entry::{
    ConfigValue, Connection, ParsedEntry, Spec, entry_token, parse_entry, switchboard_entry,
};
pub use error::{Error, Result};
pub use kind::{ClientKind, Format};
pub use platform::{ConfigLocation, HOME_OVERRIDE_ENV, Os, Platform, Scope};

/// Name of the entry Switchboard adds to a client's config.
pub const ENTRY_NAME: &str = "switchboard";
/// Environment variable carrying the client token to `switchboard connect`.
pub const TOKEN_ENV: &str = "SWITCHBOARD_TOKEN";
