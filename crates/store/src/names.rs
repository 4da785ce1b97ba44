use crate::{Error, Result};

const MAX_NAME_LEN: usize = 64;

/// Checks a server name: 1 to 64 characters of `A-Z a-z 0-9 _ -`, starting with a letter or digit, without `__`.
pub fn validate_server_name(name: &str) -> Result<()> {
    validate(name, "server", false)
}

/// Checks a client name: like [`validate_server_name`], except that `__` is allowed.
pub fn validate_client_name(name: &str) -> Result<()> {
    validate(name, "client", true)
}

fn validate(name: &str, kind: &str, allow_double_underscore: bool) -> Result<()> {
    let rules = if allow_double_underscore {
        format!(
            "use 1 to {MAX_NAME_LEN} letters, digits, '_' or '-', starting with a letter or digit"
        )
    } else {
        // The gateway names tools "<server>__<tool>", so "__" in a server name would be ambiguous.
        format!(
            "use 1 to {MAX_NAME_LEN} letters, digits, '_' or '-', starting with a letter or digit, \
             with no \"__\""
        )
    };
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && (allow_double_underscore || !name.contains("__"));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName(format!(
            "invalid {kind} name \"{}\": {rules}",
            name.escape_debug()
        )))
    }
}
