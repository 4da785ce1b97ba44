//! Helpers for typed MCP messages.

use rmcp::ErrorData as McpError;

/// Converts a result into the type the request expects.
///
/// rmcp parses results into untagged unions, so a result can land in a
/// sibling variant of the same shape; going through JSON yields the one
/// asked for (or a clear error when the peer answered something else).
pub(crate) fn reparse<S, T>(result: S) -> Result<T, McpError>
where
    S: serde::Serialize,
    T: serde::de::DeserializeOwned,
{
    serde_json::to_value(result)
        .and_then(serde_json::from_value)
        .map_err(|e| McpError::internal_error(format!("unexpected answer from peer: {e}"), None))
}
