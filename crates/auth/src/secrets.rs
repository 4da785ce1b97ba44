//! Secrets of upstream servers (API keys in env vars, `Authorization`
//! headers): kept in the OS keyring, never in SQLite.
//!
//! The database holds a placeholder such as `<secret:github/env:GITHUB_TOKEN#k3x9q2>`
//! where the value was; [`SecretStore::resolve`] turns it back into the value
//! right before the value is used. One keyring entry exists per (server,
//! purpose); the random suffix keeps two data directories that happen to use
//! the same server name from overwriting each other's entries.
//!
//! The backend is the OS keyring (Keychain, Credential Manager, Secret
//! Service). Where none exists (a headless box without a Secret Service), the
//! user may opt in to a plain file with `SWITCHBOARD_SECRET_STORE=file`:
//! `<data dir>/secrets.json`, mode 0600, readable by anyone who can read the
//! user's files. It is never chosen silently.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use rand::Rng as _;

use crate::Sensitive;

/// Keyring service name of every entry Switchboard writes.
pub const KEYRING_SERVICE: &str = "switchboard";
/// Environment variable choosing the backend: `keyring` (default) or `file`.
pub const SECRET_STORE_ENV: &str = "SWITCHBOARD_SECRET_STORE";
/// File name of the opt-in file backend inside the data directory.
pub const SECRETS_FILE: &str = "secrets.json";

const PLACEHOLDER_START: &str = "<secret:";
const PLACEHOLDER_END: &str = ">";

/// Why a secret could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The OS keyring cannot be reached (no Secret Service, locked, denied).
    #[error(
        "the OS keyring is not available ({0}); unlock or start it, or opt in to a plain file with {SECRET_STORE_ENV}=file"
    )]
    Unavailable(String),
    /// The keyring answered with an error.
    #[error("keyring error: {0}")]
    Keyring(String),
    /// A placeholder names an entry that does not exist.
    #[error("secret {0} is missing from the {1}")]
    Missing(String, &'static str),
    /// The opt-in secrets file could not be read or written.
    #[error("secrets file {}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// `SWITCHBOARD_SECRET_STORE` has a value we do not know.
    #[error("{SECRET_STORE_ENV} must be \"keyring\" or \"file\", got {0:?}")]
    BadChoice(String),
}

/// Where one secret lives: a server and what the secret is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretRef {
    /// The server it belongs to.
    pub server: String,
    /// What it is: `env:NAME` or `header:NAME`.
    pub purpose: String,
    /// Random suffix making the entry unique.
    pub id: String,
}

impl SecretRef {
    /// A new reference for `server` and `purpose` with a fresh random id.
    pub fn new(server: &str, purpose: &str) -> Self {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        let id = (0..8)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect();
        Self {
            server: server.to_owned(),
            purpose: purpose.to_owned(),
            id,
        }
    }

    /// For an environment variable of a stdio server.
    pub fn env(server: &str, name: &str) -> Self {
        Self::new(server, &format!("env:{name}"))
    }

    /// For an HTTP header of a remote server.
    pub fn header(server: &str, name: &str) -> Self {
        Self::new(server, &format!("header:{name}"))
    }

    /// The text stored in the database instead of the secret.
    pub fn placeholder(&self) -> String {
        format!(
            "{PLACEHOLDER_START}{}/{}#{}{PLACEHOLDER_END}",
            self.server, self.purpose, self.id
        )
    }

    /// The reference inside `value`, if `value` is exactly a placeholder.
    pub fn parse(value: &str) -> Option<Self> {
        let inner = value
            .strip_prefix(PLACEHOLDER_START)?
            .strip_suffix(PLACEHOLDER_END)?;
        let (server, rest) = inner.split_once('/')?;
        let (purpose, id) = rest.rsplit_once('#')?;
        if server.is_empty() || purpose.is_empty() || id.is_empty() {
            return None;
        }
        Some(Self {
            server: server.to_owned(),
            purpose: purpose.to_owned(),
            id: id.to_owned(),
        })
    }

    /// The keyring account name: `server/purpose#id`.
    pub fn account(&self) -> String {
        format!("{}/{}#{}", self.server, self.purpose, self.id)
    }
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.server, self.purpose)
    }
}

/// Whether a variable or header called `name` probably holds a secret.
pub fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["token", "key", "secret", "password", "authorization"]
        .iter()
        .any(|word| name.contains(word))
}

#[derive(Clone)]
enum Backend {
    Keyring(Arc<keyring_core::CredentialStore>),
    // The OS keyring could not be set up; every use reports why.
    Unavailable(String),
    File {
        path: PathBuf,
        // Serialises read-modify-write cycles of this process.
        lock: Arc<Mutex<()>>,
    },
}

/// Stores and reads server secrets; cheap to clone. Calls block (the keyring
/// talks to another process): from async code use `spawn_blocking`.
#[derive(Clone)]
pub struct SecretStore {
    backend: Backend,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match &self.backend {
            Backend::Keyring(_) | Backend::Unavailable(_) => "SecretStore(keyring)",
            Backend::File { .. } => "SecretStore(file)",
        })
    }
}

impl SecretStore {
    /// The OS keyring: Keychain on macOS, Credential Manager on Windows, the
    /// Secret Service (GNOME Keyring, KWallet) elsewhere. If it cannot be set
    /// up, the store is still returned and every use says why, so commands
    /// that need no secret work without a keyring.
    pub fn os_keyring() -> Self {
        let backend = match keyring::Entry::store_status() {
            Err(e) => Backend::Unavailable(e.to_string()),
            Ok(()) => match keyring_core::get_default_store() {
                Some(store) => Backend::Keyring(store),
                None => Backend::Unavailable("no credential store".into()),
            },
        };
        Self { backend }
    }

    /// A keyring-core store chosen by the caller (tests use its mock store).
    pub fn with_store(store: Arc<keyring_core::CredentialStore>) -> Self {
        Self {
            backend: Backend::Keyring(store),
        }
    }

    /// The opt-in plain file backend at `path` (created with mode 0600).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            backend: Backend::File {
                path: path.into(),
                lock: Arc::new(Mutex::new(())),
            },
        }
    }

    /// The backend the user chose with `SWITCHBOARD_SECRET_STORE` (default:
    /// the OS keyring); the file backend lives in `data_dir`.
    pub fn from_env(data_dir: &Path) -> Result<Self, SecretError> {
        match std::env::var(SECRET_STORE_ENV).ok().as_deref() {
            None | Some("") | Some("keyring") => Ok(Self::os_keyring()),
            Some("file") => Ok(Self::file(data_dir.join(SECRETS_FILE))),
            Some(other) => Err(SecretError::BadChoice(other.to_owned())),
        }
    }

    /// What this store is, for messages: `"OS keyring"` or the file's path.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Keyring(_) | Backend::Unavailable(_) => "OS keyring".into(),
            Backend::File { path, .. } => format!("secrets file {}", path.display()),
        }
    }

    fn kind(&self) -> &'static str {
        match &self.backend {
            Backend::Keyring(_) | Backend::Unavailable(_) => "keyring",
            Backend::File { .. } => "secrets file",
        }
    }

    /// Checks that the store can be used: reads an entry that does not exist.
    pub fn check(&self) -> Result<(), SecretError> {
        let probe = SecretRef {
            server: "switchboard".into(),
            purpose: "probe".into(),
            id: "0".into(),
        };
        self.get(&probe).map(|_| ())
    }

    /// Stores `value` under `secret`, replacing what was there.
    pub fn set(&self, secret: &SecretRef, value: &str) -> Result<(), SecretError> {
        match &self.backend {
            Backend::Unavailable(why) => Err(SecretError::Unavailable(why.clone())),
            Backend::Keyring(store) => entry(store, secret)?
                .set_password(value)
                .map_err(keyring_error),
            Backend::File { path, lock } => {
                let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                let mut map = read_file(path)?;
                map.insert(secret.account(), value.to_owned());
                write_file(path, &map)
            }
        }
    }

    /// The secret stored under `secret`, if any.
    pub fn get(&self, secret: &SecretRef) -> Result<Option<Sensitive<String>>, SecretError> {
        match &self.backend {
            Backend::Unavailable(why) => Err(SecretError::Unavailable(why.clone())),
            Backend::Keyring(store) => match entry(store, secret)?.get_password() {
                Ok(value) => Ok(Some(Sensitive::new(value))),
                Err(keyring_core::Error::NoEntry) => Ok(None),
                Err(e) => Err(keyring_error(e)),
            },
            Backend::File { path, lock } => {
                let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                Ok(read_file(path)?
                    .remove(&secret.account())
                    .map(Sensitive::new))
            }
        }
    }

    /// Removes the secret; whether there was one.
    pub fn delete(&self, secret: &SecretRef) -> Result<bool, SecretError> {
        match &self.backend {
            Backend::Unavailable(why) => Err(SecretError::Unavailable(why.clone())),
            Backend::Keyring(store) => match entry(store, secret)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring_core::Error::NoEntry) => Ok(false),
                Err(e) => Err(keyring_error(e)),
            },
            Backend::File { path, lock } => {
                let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                let mut map = read_file(path)?;
                let found = map.remove(&secret.account()).is_some();
                if found {
                    write_file(path, &map)?;
                }
                Ok(found)
            }
        }
    }

    /// `value` itself, or the secret it is a placeholder for.
    pub fn resolve(&self, value: &str) -> Result<Sensitive<String>, SecretError> {
        match SecretRef::parse(value) {
            None => Ok(Sensitive::new(value.to_owned())),
            Some(secret) => self
                .get(&secret)?
                .ok_or_else(|| SecretError::Missing(secret.to_string(), self.kind())),
        }
    }

    /// Every value of `map` resolved (env vars or headers of one server).
    pub fn resolve_map(
        &self,
        map: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, SecretError> {
        map.iter()
            .map(|(k, v)| Ok((k.clone(), self.resolve(v)?.expose().clone())))
            .collect()
    }
}

/// Whether any value of `map` is a placeholder.
pub fn has_placeholders(map: &BTreeMap<String, String>) -> bool {
    map.values().any(|v| SecretRef::parse(v).is_some())
}

fn entry(
    store: &Arc<keyring_core::CredentialStore>,
    secret: &SecretRef,
) -> Result<keyring_core::Entry, SecretError> {
    store
        .build(KEYRING_SERVICE, &secret.account(), None)
        .map_err(keyring_error)
}

fn keyring_error(e: keyring_core::Error) -> SecretError {
    match e {
        keyring_core::Error::NoStorageAccess(inner) => SecretError::Unavailable(inner.to_string()),
        keyring_core::Error::NoDefaultStore => SecretError::Unavailable(e.to_string()),
        keyring_core::Error::PlatformFailure(inner) => SecretError::Unavailable(inner.to_string()),
        other => SecretError::Keyring(other.to_string()),
    }
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> SecretError {
    SecretError::File {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

fn read_file(path: &Path) -> Result<BTreeMap<String, String>, SecretError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| file_error(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(file_error(path, e)),
    }
}

fn write_file(path: &Path, map: &BTreeMap<String, String>) -> Result<(), SecretError> {
    use std::io::Write as _;
    let text = serde_json::to_string_pretty(map).map_err(|e| file_error(path, e))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| file_error(path, e))?;
    }
    // Written beside the file and renamed over it, so a crash never leaves half a file.
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(|e| file_error(&tmp, e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| file_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| file_error(path, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn stores(dir: &Path) -> Vec<SecretStore> {
        vec![
            SecretStore::with_store(keyring_core::mock::Store::new().unwrap()),
            SecretStore::file(dir.join(SECRETS_FILE)),
        ]
    }

    #[test]
    fn placeholders_round_trip() {
        let secret = SecretRef::env("github", "GITHUB_TOKEN");
        let text = secret.placeholder();
        assert!(
            text.starts_with("<secret:github/env:GITHUB_TOKEN#"),
            "{text}"
        );
        assert_eq!(SecretRef::parse(&text), Some(secret));
        let header = SecretRef::header("linear", "Authorization");
        assert_eq!(SecretRef::parse(&header.placeholder()), Some(header));
        for not in [
            "",
            "plain",
            "<secret:>",
            "<secret:x>",
            "<secret:x/y>",
            "<secret:/y#1>",
        ] {
            assert_eq!(SecretRef::parse(not), None, "{not}");
        }
        assert_ne!(SecretRef::env("a", "B").id, SecretRef::env("a", "B").id);
    }

    #[test]
    fn secret_names() {
        for name in [
            "GITHUB_TOKEN",
            "api_key",
            "Authorization",
            "DB_PASSWORD",
            "CLIENT_SECRET",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in ["PATH", "DEBUG", "X-Team", "LOG_LEVEL"] {
            assert!(!looks_secret(name), "{name}");
        }
    }

    #[test]
    fn set_get_resolve_delete() {
        let dir = tempfile::tempdir().unwrap();
        for store in stores(dir.path()) {
            store.check().unwrap();
            let secret = SecretRef::env("github", "GITHUB_TOKEN");
            assert!(store.get(&secret).unwrap().is_none(), "{store:?}");
            store.set(&secret, "ghp_123").unwrap();
            assert_eq!(store.get(&secret).unwrap().unwrap().expose(), "ghp_123");
            assert_eq!(
                store.resolve(&secret.placeholder()).unwrap().expose(),
                "ghp_123"
            );
            assert_eq!(store.resolve("plain").unwrap().expose(), "plain");
            let map = BTreeMap::from([
                ("GITHUB_TOKEN".to_owned(), secret.placeholder()),
                ("DEBUG".to_owned(), "1".to_owned()),
            ]);
            assert!(has_placeholders(&map));
            let resolved = store.resolve_map(&map).unwrap();
            assert_eq!(resolved["GITHUB_TOKEN"], "ghp_123");
            assert_eq!(resolved["DEBUG"], "1");
            assert!(store.delete(&secret).unwrap());
            assert!(!store.delete(&secret).unwrap());
            let err = store.resolve(&secret.placeholder()).unwrap_err();
            assert!(err.to_string().contains("github/env:GITHUB_TOKEN"), "{err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join(SECRETS_FILE);
        let store = SecretStore::file(&path);
        store.set(&SecretRef::env("s", "K"), "v").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!std::fs::read_to_string(&path).unwrap().is_empty());
    }

    #[test]
    fn a_broken_file_is_an_error_not_an_empty_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRETS_FILE);
        std::fs::write(&path, "{not json").unwrap();
        let store = SecretStore::file(&path);
        assert!(matches!(store.check(), Err(SecretError::File { .. })));
        assert!(store.set(&SecretRef::env("s", "K"), "v").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");
    }

    /// Runs against the real OS keyring when `SWITCHBOARD_TEST_KEYRING=1`
    /// (Linux: under `dbus-run-session` with an unlocked gnome-keyring, as
    /// tests/acceptance/test_clients.py does); otherwise there may be none.
    #[test]
    fn os_keyring_round_trip() {
        if std::env::var("SWITCHBOARD_TEST_KEYRING").as_deref() != Ok("1") {
            return;
        }
        let store = SecretStore::os_keyring();
        store.check().unwrap();
        let secret = SecretRef::header("auth-test", "Authorization");
        store.set(&secret, "Bearer abc").unwrap();
        let again = SecretStore::os_keyring();
        assert_eq!(
            again.resolve(&secret.placeholder()).unwrap().expose(),
            "Bearer abc"
        );
        assert!(again.delete(&secret).unwrap());
        assert!(again.get(&secret).unwrap().is_none());
    }

    #[test]
    fn secrets_do_not_print() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::file(dir.path().join(SECRETS_FILE));
        let secret = SecretRef::env("s", "K");
        store.set(&secret, "hunter2").unwrap();
        let value = store.get(&secret).unwrap().unwrap();
        assert_eq!(
            format!("{value:?} {store:?}"),
            "<redacted> SecretStore(file)"
        );
    }
}
