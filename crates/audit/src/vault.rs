//! What makes the chain hold against someone who can write the database: a
//! key and an anchor kept outside it, in a [`Vault`] (the OS keyring).
//!
//! - The **key** (256 random bits) keys every record's hash (HMAC-SHA256),
//!   so a record changed, inserted or removed cannot be re-chained without it.
//!   It is made the first time a log is opened for writing; records before it
//!   (written by an older version) keep their plain SHA-256 links, and the key
//!   says from which id on the chain is keyed.
//! - The **anchor** is the newest committed record's id and hash, written
//!   after every committed batch (one write in flight at a time; a burst of
//!   batches is written as its newest). `verify` names records removed from
//!   the end of the log: the log must still reach the anchored record.
//!
//! Entries are named after where the log lives (the file, or the PostgreSQL
//! server and database), never after anything stored in the database, so
//! whoever edits it cannot point `verify` at another entry.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use hmac::{Hmac, Mac};
use rand::Rng as _;
use sha2::{Digest as _, Sha256};

/// Where the chain's key and anchor are kept. Calls may block (a keyring
/// talks to another process); the log calls them off the async threads.
pub trait Vault: Send + Sync + 'static {
    /// The value stored under `name`, if any.
    fn get(&self, name: &str) -> Result<Option<String>, VaultError>;
    /// Stores `value` under `name`, replacing what was there.
    fn set(&self, name: &str, value: &str) -> Result<(), VaultError>;
}

/// Why the vault could not be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct VaultError(pub String);

/// A vault in this process's memory: for tests, and for embedding the log
/// where nothing must outlive the process.
#[derive(Debug, Default)]
pub struct MemoryVault {
    entries: Mutex<HashMap<String, String>>,
}

impl Vault for MemoryVault {
    fn get(&self, name: &str) -> Result<Option<String>, VaultError> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        Ok(entries.get(name).cloned())
    }

    fn set(&self, name: &str, value: &str) -> Result<(), VaultError> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert(name.to_owned(), value.to_owned());
        Ok(())
    }
}

/// The key of one log's chain.
#[derive(Clone)]
pub(crate) struct ChainKey {
    secret: [u8; 64],
    /// The first record id keyed with it.
    pub(crate) since: i64,
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainKey")
            .field("since", &self.since)
            .finish_non_exhaustive()
    }
}

type HmacSha256 = Hmac<Sha256>;

impl ChainKey {
    fn fresh(since: i64) -> Self {
        let mut secret = [0u8; 64];
        rand::rng().fill(&mut secret);
        Self { secret, since }
    }

    /// The stored form: `v1 <since> <key in hex>`.
    fn to_text(&self) -> String {
        format!("v1 {} {}", self.since, hex::encode(self.secret))
    }

    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(' ');
        if parts.next()? != "v1" {
            return None;
        }
        let since = parts.next()?.parse().ok()?;
        let secret = hex::decode(parts.next()?).ok()?.try_into().ok()?;
        parts.next().is_none().then_some(Self { secret, since })
    }

    /// HMAC-SHA256 of `parts`, each followed by a newline, in hex.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> String {
        // HMAC takes keys of any length; were it to refuse one, the empty
        // hash would match no record (nothing verifies, nothing passes).
        let Ok(mut mac) = <HmacSha256 as Mac>::new_from_slice(&self.secret) else {
            return String::new();
        };
        for part in parts {
            mac.update(part);
            mac.update(b"\n");
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The newest committed record, as the anchor keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Anchor {
    pub(crate) id: i64,
    pub(crate) hash: String,
}

impl Anchor {
    fn to_text(&self) -> String {
        format!("{} {}", self.id, self.hash)
    }

    fn parse(text: &str) -> Option<Self> {
        let (id, hash) = text.split_once(' ')?;
        Some(Self {
            id: id.parse().ok()?,
            hash: hash.to_owned(),
        })
    }
}

/// Whether a log's chain is keyed, and why not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum KeyState {
    /// Keyed from this record id on.
    Keyed(i64),
    /// Not keyed: why (no vault, the keyring unavailable, no key for this log).
    Unkeyed(String),
}

/// One log's entries in a vault.
#[derive(Clone)]
pub(crate) struct Seal {
    vault: Option<Arc<dyn Vault>>,
    /// Names the log's entries: a digest of where it lives.
    log: String,
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seal").field("log", &self.log).finish()
    }
}

impl Seal {
    pub(crate) fn new(vault: Option<Arc<dyn Vault>>, place: &str) -> Self {
        let digest = Sha256::digest(place.as_bytes());
        Self {
            vault,
            log: hex::encode(&digest[..12]),
        }
    }

    fn key_name(&self) -> String {
        format!("chain-key:{}", self.log)
    }

    fn anchor_name(&self) -> String {
        format!("chain-anchor:{}", self.log)
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Vault) -> Result<T, VaultError> + Send + 'static,
    ) -> Result<T, VaultError> {
        let Some(vault) = self.vault.clone() else {
            return Err(VaultError("no keyring is configured".into()));
        };
        tokio::task::spawn_blocking(move || f(vault.as_ref()))
            .await
            .map_err(|e| VaultError(format!("the keyring call failed: {e}")))?
    }

    /// The log's key, if it has one.
    pub(crate) async fn key(&self) -> Result<Option<ChainKey>, VaultError> {
        let name = self.key_name();
        let text = self.call(move |v| v.get(&name)).await?;
        match text {
            None => Ok(None),
            Some(text) => ChainKey::parse(&text)
                .map(Some)
                .ok_or_else(|| VaultError("the stored chain key is not readable".into())),
        }
    }

    /// The log's key, made (keying records from `since` on) when it has none.
    pub(crate) async fn key_or_create(&self, since: i64) -> Result<ChainKey, VaultError> {
        if let Some(key) = self.key().await? {
            return Ok(key);
        }
        let key = ChainKey::fresh(since);
        let (name, text) = (self.key_name(), key.to_text());
        self.call(move |v| v.set(&name, &text)).await?;
        Ok(key)
    }

    pub(crate) async fn anchor(&self) -> Result<Option<Anchor>, VaultError> {
        let name = self.anchor_name();
        Ok(self
            .call(move |v| v.get(&name))
            .await?
            .as_deref()
            .and_then(Anchor::parse))
    }

    pub(crate) async fn set_anchor(&self, anchor: &Anchor) -> Result<(), VaultError> {
        let (name, text) = (self.anchor_name(), anchor.to_text());
        self.call(move |v| v.set(&name, &text)).await
    }

    pub(crate) fn has_vault(&self) -> bool {
        self.vault.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_anchors_read_back() {
        let key = ChainKey::fresh(42);
        let back = ChainKey::parse(&key.to_text()).unwrap_or_else(|| panic!("unreadable"));
        assert_eq!((back.since, back.secret), (42, key.secret));
        assert!(ChainKey::parse("v1 1 zz").is_none());
        assert!(ChainKey::parse("v2 1 00").is_none());
        let anchor = Anchor {
            id: 7,
            hash: "ab".into(),
        };
        assert_eq!(Anchor::parse(&anchor.to_text()), Some(anchor));
    }

    #[test]
    fn the_mac_depends_on_the_key() {
        let (a, b) = (ChainKey::fresh(1), ChainKey::fresh(1));
        assert_eq!(a.mac(&[b"x"]), a.mac(&[b"x"]));
        assert_ne!(a.mac(&[b"x"]), b.mac(&[b"x"]));
        assert_ne!(a.mac(&[b"x", b"y"]), a.mac(&[b"xy"]));
    }
}
