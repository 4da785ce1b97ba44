//! Credentials for Switchboard.
//!
//! Local client tokens: every MCP client of the gateway gets its own bearer
//! token, shown once at creation; only its SHA-256 hash is stored.
//!
//! Server secrets (API keys in env vars and headers) live in the OS keyring
//! through [`SecretStore`]; the database keeps placeholders.
//!
//! OAuth sign-in to remote servers: [`oauth`].

pub mod oauth;
mod secrets;

pub use secrets::{
    KEYRING_SERVICE, SECRET_STORE_ENV, SECRETS_FILE, SecretError, SecretRef, SecretStore,
    has_placeholders, looks_secret,
};

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// Prefix of client tokens, so they are recognisable (and redactable) in text.
pub const CLIENT_TOKEN_PREFIX: &str = "sbt_";
/// Prefix of the control token that guards the control API.
pub const CONTROL_TOKEN_PREFIX: &str = "sbc_";

/// A secret that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; call only where it must leave the process.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> std::fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

fn random_token(prefix: &str) -> Sensitive<String> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Sensitive(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// A new client token (256 random bits).
pub fn new_client_token() -> Sensitive<String> {
    random_token(CLIENT_TOKEN_PREFIX)
}

/// A new control token (256 random bits).
pub fn new_control_token() -> Sensitive<String> {
    random_token(CONTROL_TOKEN_PREFIX)
}

/// The stored form of a token: lowercase hex SHA-256. Tokens carry 256 random
/// bits, so a fast hash is enough (no password stretching needed).
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_prefixed_and_hash_stably() {
        let a = new_client_token();
        let b = new_client_token();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with(CLIENT_TOKEN_PREFIX));
        assert_eq!(a.expose().len(), CLIENT_TOKEN_PREFIX.len() + 43);
        assert_eq!(hash_token(a.expose()), hash_token(a.expose()));
        assert_ne!(hash_token(a.expose()), hash_token(b.expose()));
        assert_eq!(hash_token("abc").len(), 64);
    }

    #[test]
    fn secrets_do_not_print() {
        let t = new_control_token();
        assert_eq!(format!("{t:?} {t}"), "<redacted> <redacted>");
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
