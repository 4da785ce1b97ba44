//! Token counts of tool definitions.
//!
//! A definition costs what its JSON, as the client receives it in
//! `tools/list`, costs the model: the compact JSON of the tool (with the
//! name the client sees) counted in OpenAI's `o200k_base` encoding. Models
//! of other families use other tokenizers, so for them this is an estimate
//! (usually within a tenth).

use std::sync::LazyLock;

use rmcp::model::Tool;
use tiktoken_rs::CoreBPE;

/// The encoding the counts are in.
pub const ENCODING: &str = "o200k_base";

/// The encoder; loading its ranks takes a few hundred milliseconds, once.
static BPE: LazyLock<Option<CoreBPE>> = LazyLock::new(|| tiktoken_rs::o200k_base().ok());

/// Loads the encoder now (so the first count does not pay for it).
pub fn warm() {
    LazyLock::force(&BPE);
}

/// Tokens of `text` in [`ENCODING`]. Falls back to a quarter of the length
/// in bytes if the encoder could not be loaded (it is built into the binary,
/// so this does not happen in practice).
pub fn count(text: &str) -> usize {
    match BPE.as_ref() {
        Some(bpe) => bpe.encode_ordinary(text).len(),
        None => text.len().div_ceil(4),
    }
}

/// Tokens of one tool definition as listed (its compact JSON).
pub fn tool_tokens(tool: &Tool) -> usize {
    count(&serde_json::to_string(tool).unwrap_or_default())
}

/// Tokens of the `{"tools":[…]}` wrapper around a list, beyond its tools'
/// own: the brackets, the key and the commas between definitions.
pub fn list_overhead(tools: usize) -> usize {
    // `{"tools":[` and `]}` and one `,` per gap; counted, not guessed.
    static WRAPPER: LazyLock<usize> = LazyLock::new(|| count("{\"tools\":[") + count("]}"));
    *WRAPPER + tools.saturating_sub(1)
}
