//! The audit chain's key and anchor in the secret store the user chose (the
//! OS keyring by default), beside the servers' secrets.

use switchboard_audit::{Vault, VaultError};
use switchboard_auth::{SecretRef, SecretStore};

/// The audit log's [`Vault`]: entries `audit/<what>#<log>` of the secret store.
#[derive(Debug, Clone)]
pub struct KeyringVault(pub SecretStore);

impl KeyringVault {
    fn entry(name: &str) -> SecretRef {
        let (purpose, id) = name.split_once(':').unwrap_or((name, "0"));
        SecretRef {
            server: "audit".into(),
            purpose: purpose.into(),
            id: id.into(),
        }
    }
}

impl Vault for KeyringVault {
    fn get(&self, name: &str) -> Result<Option<String>, VaultError> {
        self.0
            .get(&Self::entry(name))
            .map(|value| value.map(|v| v.expose().clone()))
            .map_err(|e| VaultError(e.to_string()))
    }

    fn set(&self, name: &str, value: &str) -> Result<(), VaultError> {
        self.0
            .set(&Self::entry(name), value)
            .map_err(|e| VaultError(e.to_string()))
    }
}
