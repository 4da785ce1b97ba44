//! Shared set-up: a temporary home and data dir, a store, an in-memory keyring.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use switchboard_auth::SecretStore;
use switchboard_clients::{ClientKind, Os, Platform, import::Resolver, install::InstallRequest};
use switchboard_store::Store;

pub const TOKEN_STANDIN: &str = "sbt_TOKEN";

pub struct Env {
    pub home: tempfile::TempDir,
    pub data: tempfile::TempDir,
    pub platform: Platform,
    pub store: Store,
    pub secrets: SecretStore,
}

impl Env {
    pub async fn new() -> Self {
        let home = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let platform = Platform::with_home(Os::Linux, home.path().to_owned());
        let store = Store::open(data.path()).await.unwrap();
        let secrets = SecretStore::with_store(keyring_core::mock::Store::new().unwrap());
        Self {
            home,
            data,
            platform,
            store,
            secrets,
        }
    }

    pub fn config_path(&self, kind: ClientKind) -> PathBuf {
        self.platform.user_config(kind).path
    }

    /// Writes `text` as `kind`'s user config (creating its folders).
    pub fn write_config(&self, kind: ClientKind, text: &str) -> PathBuf {
        let path = self.config_path(kind);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn resolver(&self) -> Resolver {
        Resolver::new(
            HashMap::from([
                ("HOME".to_owned(), "/home/alex".to_owned()),
                ("LINEAR_API_KEY".to_owned(), "lin_api_fixture".to_owned()),
            ]),
            Path::new("/home/alex"),
        )
    }

    pub fn request(&self, kind: ClientKind) -> InstallRequest {
        InstallRequest {
            kind,
            gateway_url: "http://127.0.0.1:7331/mcp".into(),
            connect_program: "/opt/switchboard/bin/switchboard".into(),
            connect_args: vec!["connect".into()],
            stdio: false,
            keep_servers: false,
            client_name: kind.id().into(),
            force: false,
        }
    }

    /// Replaces what differs from run to run: temp paths, tokens, secret ids.
    pub fn normalize(&self, text: &str) -> String {
        let mut text = text.replace(&self.home.path().display().to_string(), "~");
        text = text.replace(&self.data.path().display().to_string(), "DATA");
        normalize_tokens(&text)
    }
}

/// `sbt_…` tokens become `sbt_TOKEN`, secret placeholder ids become `ID`.
pub fn normalize_tokens(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("sbt_") {
        out.push_str(&rest[..i]);
        out.push_str(TOKEN_STANDIN);
        let tail = &rest[i + 4..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    let mut result = String::new();
    let mut rest = out.as_str();
    while let Some(i) = rest.find("<secret:") {
        let Some(hash) = rest[i..].find('#') else {
            break;
        };
        let Some(close) = rest[i + hash..].find('>') else {
            break;
        };
        result.push_str(&rest[..i + hash + 1]);
        result.push_str("ID");
        rest = &rest[i + hash + close..];
    }
    result.push_str(rest);
    result
}

/// Compares `actual` with the golden file; `UPDATE_GOLDEN=1` rewrites it.
pub fn golden(path: &Path, actual: &str) {
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "{} differs (UPDATE_GOLDEN=1 rewrites it):\n{}",
            path.display(),
            switchboard_clients::diff::unified(&expected, actual, "golden", "actual")
        );
    }
}

pub fn golden_dir(kind: ClientKind) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients/golden")
        .join(kind.id())
}

pub fn ext(kind: ClientKind) -> &'static str {
    if kind == ClientKind::Codex {
        "toml"
    } else {
        "json"
    }
}

/// Whether any file of the SQLite database (main file or WAL) contains `needle`.
pub fn database_contains(data_dir: &Path, needle: &str) -> bool {
    std::fs::read_dir(data_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("switchboard.db")
        })
        .any(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
}
