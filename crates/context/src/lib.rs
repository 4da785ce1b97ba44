//! What a client's tools cost and how they are offered to it.
//!
//! - [`tokens`]: the token size of tool definitions as a client receives
//!   them, counted with OpenAI's `o200k_base` encoding (tiktoken-rs). Other
//!   model families tokenize differently; the figures are an estimate for
//!   them.
//! - [`budget`]: a client's tool mode (passthrough, search, auto) and its
//!   budget of tools and tokens, with defaults by client kind.
//! - [`search`]: the BM25 index (the `bm25` crate) over tool names,
//!   descriptions and parameter names that `search_tools` answers from.
//! - [`meta`]: the two tools a client in search mode is offered instead of
//!   the full list, `search_tools` and `call_tool`.

pub mod budget;
pub mod meta;
pub mod search;
pub mod tokens;

pub use budget::{Budget, Listing, ToolMode, View, defaults_for};
pub use search::{Hit, ToolIndex};
pub use tokens::{ENCODING, count, tool_tokens};

/// What can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tool mode that is not passthrough, search or auto.
    #[error("unknown tool mode {0:?}: expected passthrough, search or auto")]
    UnknownMode(String),
    /// The arguments of `search_tools` or `call_tool` do not fit their schema.
    #[error("{tool}: {detail}")]
    Arguments {
        /// `search_tools` or `call_tool`.
        tool: &'static str,
        /// What is wrong.
        detail: String,
    },
}
