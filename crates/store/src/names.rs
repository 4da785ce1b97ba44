use crate::{Error, Result};

const MAX_NAME_LEN: usize = 64;

/// Checks a server name: 1 to 64 characters of `A-Z a-z 0-9 _ -`, starting with a letter or digit,
/// without `__` and not ending with `_`.
pub fn validate_server_name(name: &str) -> Result<()> {
    validate(name, "server", true)
}

/// Checks a client name: like [`validate_server_name`], except that `__` and a final `_` are allowed.
pub fn validate_client_name(name: &str) -> Result<()> {
    validate(name, "client", false)
}

/// `prefixes_tools`: the name goes before `__` in the tool names of `/mcp`.
fn validate(name: &str, kind: &str, prefixes_tools: bool) -> Result<()> {
    let rules = if prefixes_tools {
        // The gateway names tools "<server>__<tool>" and splits them at the first "__", so "__"
        // in a server name, or a final '_' ("a_" + "__" + "b" reads as "a" and "_b"), would be
        // ambiguous.
        format!(
            "use 1 to {MAX_NAME_LEN} letters, digits, '_' or '-', starting with a letter or digit, \
             with no \"__\" and not ending with '_'"
        )
    } else {
        format!(
            "use 1 to {MAX_NAME_LEN} letters, digits, '_' or '-', starting with a letter or digit"
        )
    };
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !(prefixes_tools && (name.contains("__") || name.ends_with('_')));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName(format!(
            "invalid {kind} name \"{}\": {rules}",
            name.escape_debug()
        )))
    }
}
