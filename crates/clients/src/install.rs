//! Pointing a client at Switchboard, and back.
//!
//! Install rewrites the client's user config: the servers Switchboard now
//! serves (imported from that same file) are taken out, and one `switchboard`
//! entry is added: streamable HTTP with the client's own token where the
//! client speaks it, else a `switchboard connect` command. Nothing else in the
//! file changes. The first install keeps a timestamped copy of the file next to
//! it; uninstall puts that copy back byte for byte, or, if the file changed
//! since (the client or the user edited it), removes our entry and restores
//! the servers we took out, keeping the later edits.
//!
//! The client token: only its hash is stored, so install reuses the token
//! already in the file when it still belongs to the client; otherwise it
//! creates the client (named after the kind), or, when a client of that name
//! exists whose token we cannot know, gives it a new token (the old one stops
//! working; its profile is kept). Uninstall removes the client: its token then
//! exists nowhere.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use switchboard_auth::{SecretStore, Sensitive};
use switchboard_store::Store;

use crate::{
    ClientKind, ENTRY_NAME, Error, Platform, Result,
    config::{Document, LoadedFile},
    diff,
    entry::{Connection, entry_token, switchboard_entry},
    error::io,
    import::{self, Applied, ImportPlan, Resolver, Scan},
};

/// What install is asked to do.
#[derive(Debug, Clone)]
pub struct InstallRequest {
    /// The client.
    pub kind: ClientKind,
    /// The gateway's MCP URL (`http://127.0.0.1:7331/mcp`).
    pub gateway_url: String,
    /// The `switchboard` program for stdio entries (an absolute path).
    pub connect_program: String,
    /// Its arguments (`["--data-dir", DIR, "connect"]` or `["connect"]`).
    pub connect_args: Vec<String>,
    /// Use the stdio bridge even if the client speaks HTTP.
    pub stdio: bool,
    /// Leave the client's other servers in its config.
    pub keep_servers: bool,
    /// Name of the Switchboard client whose token the entry carries.
    pub client_name: String,
    /// Write the config even if the client does not seem to be installed.
    pub force: bool,
}

/// How the client reaches Switchboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Streamable HTTP with a bearer token.
    Http,
    /// The `switchboard connect` stdio bridge.
    Stdio,
}

/// What happens to the client token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenAction {
    /// The token already in the config still works: kept.
    Reuse,
    /// A new client is created.
    Create,
    /// The client exists but its token is unknown: it gets a new one.
    Rotate,
}

impl TokenAction {
    /// What happens to the token of client `client`, said before (`done`
    /// false) or after.
    pub fn note(&self, client: &str, done: bool) -> String {
        let will = if done { "was" } else { "would be" };
        match self {
            TokenAction::Reuse => {
                format!("The token of client \"{client}\" in the config still works: kept.")
            }
            TokenAction::Create => {
                format!("Client \"{client}\" {will} created; its token goes into the config only.")
            }
            TokenAction::Rotate => format!(
                "Client \"{client}\" exists but its token is unknown: it {will} given a new one \
                 (the old one stops working)."
            ),
        }
    }
}

/// What an install will do; nothing has changed yet.
#[derive(Debug)]
pub struct InstallPlan {
    /// The client.
    pub kind: ClientKind,
    /// The config file.
    pub path: PathBuf,
    /// How the client will reach Switchboard.
    pub mode: Mode,
    /// True when the file already is exactly what install would write.
    pub already_installed: bool,
    /// The servers of the file and what importing does with them.
    pub import: ImportPlan,
    /// Entries taken out of the file (Switchboard serves them now).
    pub removed: Vec<String>,
    /// Entries left in the file, and why.
    pub kept: Vec<(String, String)>,
    /// What happens to the client token.
    pub token: TokenAction,
    /// The change to the file (the token shown as `sbt_…` unless reused).
    pub diff: String,
    original: Option<Vec<u8>>,
    prior: Option<InstallState>,
    reused_token: Option<Sensitive<String>>,
}

/// What install did.
#[derive(Debug, Serialize)]
pub struct InstallOutcome {
    /// The config file written.
    pub path: PathBuf,
    /// The copy of the original, if there was an original.
    pub backup: Option<PathBuf>,
    /// Servers imported.
    pub applied: Applied,
    /// What happened to the client token.
    pub token: TokenAction,
}

/// What Switchboard remembers about one install (`<data dir>/integrations/KIND.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstallState {
    /// The client.
    pub kind: ClientKind,
    /// The config file.
    pub path: PathBuf,
    /// The copy of the file before the first install (None: there was no file).
    pub backup: Option<PathBuf>,
    /// Unix permission bits of the original file.
    #[serde(default)]
    pub original_mode: Option<u32>,
    /// SHA-256 of what install wrote, to tell whether the file changed since.
    pub installed_sha256: String,
    /// Entries install took out.
    pub removed_entries: Vec<String>,
    /// The Switchboard client whose token the entry carries.
    pub client: String,
    /// How the client reaches Switchboard.
    pub mode: Mode,
    /// When, unix milliseconds.
    pub installed_at_ms: i64,
}

fn state_path(data_dir: &Path, kind: ClientKind) -> PathBuf {
    data_dir
        .join("integrations")
        .join(format!("{}.json", kind.id()))
}

/// The remembered install of `kind`, if any.
pub fn read_state(data_dir: &Path, kind: ClientKind) -> Result<Option<InstallState>> {
    let path = state_path(data_dir, kind);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Malformed {
                path,
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path, e)),
    }
}

fn write_state(data_dir: &Path, state: &InstallState) -> Result<()> {
    let path = state_path(data_dir, state.kind);
    let text = serde_json::to_string_pretty(state).map_err(|e| Error::Usage(e.to_string()))?;
    write_atomic(&path, text.as_bytes(), Some(0o600))
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `YYYYMMDDTHHMMSSZ` for unix seconds `secs` (UTC).
pub fn timestamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Writes `bytes` to `path` through a temporary file and a rename, so the
/// client never reads half a file. A symlink is followed, not replaced.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    use std::io::Write as _;
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let dir = target
        .parent()
        .ok_or_else(|| Error::Usage(format!("{} has no parent folder", target.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.switchboard-tmp"));
    let mut file = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io(&tmp, e))?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
            .map_err(|e| io(&tmp, e))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    std::fs::rename(&tmp, &target).map_err(|e| io(&target, e))
}

fn file_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The `switchboard` program a client launches for the stdio bridge: the
/// CLI next to this program (the desktop app ships both), else this program
/// when it is the CLI, else `switchboard` on the PATH.
pub fn cli_program() -> PathBuf {
    let exe = std::env::current_exe().and_then(std::fs::canonicalize).ok();
    let name = format!("switchboard{}", std::env::consts::EXE_SUFFIX);
    if let Some(exe) = exe {
        if exe.file_name().is_some_and(|n| n == name.as_str()) {
            return exe;
        }
        if let Some(sibling) = exe.parent().map(|d| d.join(&name))
            && sibling.is_file()
        {
            return sibling;
        }
    }
    PathBuf::from(name)
}

/// The program and arguments a client launches for the stdio bridge:
/// `program [--data-dir DIR] connect`, the folder named only when it is not
/// the default one.
pub fn connect_command(program: &Path, data_dir: &Path) -> (String, Vec<String>) {
    let default = switchboard_store::Store::default_data_dir();
    let mut args = Vec::new();
    if default.as_deref() != Some(data_dir) {
        let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_owned());
        args.extend(["--data-dir".to_owned(), dir.display().to_string()]);
    }
    args.push("connect".into());
    (program.display().to_string(), args)
}

/// The file `text` becomes: `removed` entries out, our entry in.
pub fn render(
    kind: ClientKind,
    path: &Path,
    text: &str,
    removed: &[String],
    connection: &Connection,
) -> Result<String> {
    let mut doc = Document::parse(kind, path, text)?;
    for name in removed {
        doc.remove_entry(name);
    }
    doc.set_entry(ENTRY_NAME, &switchboard_entry(kind, connection));
    Ok(doc.render())
}

fn connection(request: &InstallRequest, mode: Mode, token: &str) -> Connection {
    match mode {
        Mode::Http => Connection::Http {
            url: request.gateway_url.clone(),
            token: token.to_owned(),
        },
        Mode::Stdio => Connection::Stdio {
            program: request.connect_program.clone(),
            args: request.connect_args.clone(),
            token: token.to_owned(),
        },
    }
}

/// Decides what installing does. Reads the file, the store and (to compare
/// servers) the secret store; changes nothing.
pub async fn plan_install(
    store: &Store,
    secrets: Option<&SecretStore>,
    platform: &Platform,
    data_dir: &Path,
    request: &InstallRequest,
    resolver: &Resolver,
) -> Result<InstallPlan> {
    let kind = request.kind;
    if !request.force && !platform.is_installed(kind) {
        return Err(Error::NotInstalled(kind.display_name().into()));
    }
    let location = platform.user_config(kind);
    let prior = read_state(data_dir, kind)?;
    // What is needed of the parsed file (which is not `Send`) is read here,
    // before the store is asked anything.
    let (original, original_text, scan, existing) = {
        let file = LoadedFile::load(kind, &location.path)?;
        let original_text = match &file.original {
            Some(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            None => String::new(),
        };
        // Only the file's own top-level servers: those are the ones install replaces.
        let mut scan = Scan::default();
        import::scan_document(&mut scan, kind, &file);
        scan.found.retain(|(origin, _)| origin.section.is_empty());
        let existing = file.doc.entry(ENTRY_NAME).and_then(|v| entry_token(&v));
        (file.original, original_text, scan, existing)
    };
    let import = import::plan(store, secrets, scan, resolver).await?;
    let (mut removed, mut kept) = (Vec::new(), Vec::new());
    for planned in &import.servers {
        if request.keep_servers {
            kept.push((
                planned.candidate.origin.entry.clone(),
                "--keep-servers".into(),
            ));
        } else {
            removed.push(planned.candidate.origin.entry.clone());
        }
    }
    for skipped in &import.skipped {
        kept.push((skipped.origin.entry.clone(), skipped.reason.clone()));
    }

    let mode = if request.stdio || !kind.supports_http() {
        Mode::Stdio
    } else {
        Mode::Http
    };
    let mut reused_token = None;
    let token = match existing {
        Some(token) => match store
            .client_by_token_hash(&switchboard_auth::hash_token(&token))
            .await?
        {
            Some(client) if client.name == request.client_name => {
                reused_token = Some(Sensitive::new(token));
                TokenAction::Reuse
            }
            _ => client_exists_action(store, &request.client_name).await?,
        },
        None => client_exists_action(store, &request.client_name).await?,
    };
    let shown = match &reused_token {
        Some(t) => t.expose().clone(),
        None => format!("{}…", switchboard_auth::CLIENT_TOKEN_PREFIX),
    };
    let rendered = render(
        kind,
        &location.path,
        &original_text,
        &removed,
        &connection(request, mode, &shown),
    )?;
    let already_installed = reused_token.is_some() && rendered == original_text;
    let diff = diff::unified(
        &original_text,
        &rendered,
        &format!("{} (now)", location.path.display()),
        &format!("{} (after install)", location.path.display()),
    );
    Ok(InstallPlan {
        kind,
        path: location.path,
        mode,
        already_installed,
        import,
        removed,
        kept,
        token,
        diff,
        original,
        prior,
        reused_token,
    })
}

async fn client_exists_action(store: &Store, name: &str) -> Result<TokenAction> {
    let exists = store.list_clients().await?.iter().any(|c| c.name == name);
    Ok(if exists {
        TokenAction::Rotate
    } else {
        TokenAction::Create
    })
}

/// Gives client `name` a new token, keeping its profile and tool settings.
async fn rotate_client(store: &Store, name: &str, token_hash: &str) -> Result<()> {
    let context = store.client_context(name).await?;
    let profile = store
        .list_clients()
        .await?
        .into_iter()
        .find(|c| c.name == name)
        .and_then(|c| c.profile);
    store.remove_client(name).await?;
    store.add_client(name, token_hash).await?;
    store.write_client_context(name, &context).await?;
    if let Some(profile) = profile {
        store.assign_profile(name, Some(&profile)).await?;
    }
    Ok(())
}

fn backup_path(path: &Path) -> PathBuf {
    let secs = now_ms() / 1000;
    let base = format!(
        "{}.switchboard-backup-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        timestamp(secs)
    );
    let mut candidate = path.with_file_name(&base);
    let mut n = 2;
    while candidate.exists() {
        candidate = path.with_file_name(format!("{base}-{n}"));
        n += 1;
    }
    candidate
}

/// Carries out `plan`: imports the servers, sets up the token, keeps a
/// backup, writes the file, and remembers the install.
pub async fn apply_install(
    store: &Store,
    secrets: Option<&SecretStore>,
    data_dir: &Path,
    request: &InstallRequest,
    plan: InstallPlan,
) -> Result<InstallOutcome> {
    let applied = import::apply(store, secrets, &plan.import).await?;
    let token = match (&plan.token, &plan.reused_token) {
        (TokenAction::Reuse, Some(token)) => token.clone(),
        (action, _) => {
            let token = switchboard_auth::new_client_token();
            let hash = switchboard_auth::hash_token(token.expose());
            if *action == TokenAction::Rotate {
                rotate_client(store, &request.client_name, &hash).await?;
            } else {
                store.add_client(&request.client_name, &hash).await?;
            }
            token
        }
    };
    let original_text = plan
        .original
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let rendered = render(
        plan.kind,
        &plan.path,
        &original_text,
        &plan.removed,
        &connection(request, plan.mode, token.expose()),
    )?;

    let original_mode = file_mode(&plan.path);
    let (backup, first_mode) = match &plan.prior {
        // A later install keeps the copy of the file as it was before the first.
        Some(prior) => (prior.backup.clone(), prior.original_mode),
        None => match &plan.original {
            Some(bytes) => {
                let backup = backup_path(&plan.path);
                write_atomic(&backup, bytes, original_mode)?;
                (Some(backup), original_mode)
            }
            None => (None, None),
        },
    };
    // The file now holds a token: readable by the user alone.
    let mode = Some(original_mode.map_or(0o600, |m| m & 0o700));
    write_atomic(&plan.path, rendered.as_bytes(), mode)?;

    let mut removed_entries = plan
        .prior
        .as_ref()
        .map(|p| p.removed_entries.clone())
        .unwrap_or_default();
    for name in &plan.removed {
        if !removed_entries.contains(name) {
            removed_entries.push(name.clone());
        }
    }
    write_state(
        data_dir,
        &InstallState {
            kind: plan.kind,
            path: plan.path.clone(),
            backup: backup.clone(),
            original_mode: first_mode,
            installed_sha256: sha256(rendered.as_bytes()),
            removed_entries,
            client: request.client_name.clone(),
            mode: plan.mode,
            installed_at_ms: now_ms(),
        },
    )?;
    Ok(InstallOutcome {
        path: plan.path,
        backup,
        applied,
        token: plan.token,
    })
}

/// How uninstall put the file back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum Restored {
    /// The backup was copied back: the file is byte for byte the original.
    Exact {
        /// The copy it came from.
        backup: PathBuf,
    },
    /// There was no file before install: it was removed.
    Deleted,
    /// The file changed after install: our entry was removed and the entries
    /// install had taken out were put back; later edits stay.
    Merged {
        /// The entries put back.
        restored_entries: Vec<String>,
    },
    /// No install was remembered; the `switchboard` entry was removed.
    EntryRemoved,
}

/// What uninstall did.
#[derive(Debug, Serialize)]
pub struct UninstallOutcome {
    /// The config file.
    pub path: PathBuf,
    /// How it was restored.
    pub restored: Restored,
    /// The Switchboard client removed with it (its token stops working).
    pub removed_client: Option<String>,
}

/// Undoes the install of `kind`.
pub async fn uninstall(
    store: &Store,
    platform: &Platform,
    data_dir: &Path,
    kind: ClientKind,
) -> Result<UninstallOutcome> {
    let Some(state) = read_state(data_dir, kind)? else {
        return remove_entry_only(store, platform, kind).await;
    };
    let path = state.path.clone();
    let current = match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(&path, e)),
    };
    let unchanged = current
        .as_deref()
        .is_some_and(|b| sha256(b) == state.installed_sha256);
    let restored = if unchanged {
        match &state.backup {
            Some(backup) => {
                let bytes = std::fs::read(backup).map_err(|e| io(backup, e))?;
                write_atomic(&path, &bytes, state.original_mode)?;
                Restored::Exact {
                    backup: backup.clone(),
                }
            }
            None => {
                std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
                Restored::Deleted
            }
        }
    } else {
        let file = LoadedFile::load(kind, &path)?;
        let mut doc = file.doc;
        doc.remove_entry(ENTRY_NAME);
        let mut restored_entries = Vec::new();
        if let Some(backup) = &state.backup {
            let text = std::fs::read_to_string(backup).map_err(|e| io(backup, e))?;
            let original = Document::parse(kind, backup, &text)?;
            for name in &state.removed_entries {
                if doc.entry(name).is_none() && doc.copy_entry_from(&original, name) {
                    restored_entries.push(name.clone());
                }
            }
        }
        if file.original.is_some() {
            write_atomic(&path, doc.render().as_bytes(), file_mode(&path))?;
        }
        Restored::Merged { restored_entries }
    };
    let removed_client = remove_client(store, &state.client).await?;
    let state_file = state_path(data_dir, kind);
    std::fs::remove_file(&state_file).map_err(|e| io(&state_file, e))?;
    Ok(UninstallOutcome {
        path,
        restored,
        removed_client,
    })
}

async fn remove_client(store: &Store, name: &str) -> Result<Option<String>> {
    match store.remove_client(name).await {
        Ok(()) => Ok(Some(name.to_owned())),
        Err(switchboard_store::Error::NoSuchClient(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn remove_entry_only(
    store: &Store,
    platform: &Platform,
    kind: ClientKind,
) -> Result<UninstallOutcome> {
    let location = platform.user_config(kind);
    // The parsed file is not `Send`: it is dropped before the store is asked.
    let entry = {
        let file = LoadedFile::load(kind, &location.path)?;
        let Some(entry) = file.doc.entry(ENTRY_NAME) else {
            return Err(Error::NotInstalledHere(location.path.display().to_string()));
        };
        let mut doc = file.doc;
        doc.remove_entry(ENTRY_NAME);
        write_atomic(
            &location.path,
            doc.render().as_bytes(),
            file_mode(&location.path),
        )?;
        entry
    };
    // The token in the removed entry belongs to some client: that client goes too.
    let mut removed_client = None;
    if let Some(token) = entry_token(&entry)
        && let Some(client) = store
            .client_by_token_hash(&switchboard_auth::hash_token(&token))
            .await?
    {
        removed_client = remove_client(store, &client.name).await?;
    }
    Ok(UninstallOutcome {
        path: location.path,
        restored: Restored::EntryRemoved,
        removed_client,
    })
}

/// Whether `kind` is installed: the remembered state and the file agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum InstallStatus {
    /// No `switchboard` entry.
    NotInstalled,
    /// The entry is there.
    Installed {
        /// How it connects.
        mode: Option<Mode>,
        /// Whether the file changed since install.
        changed_since: bool,
    },
    /// Switchboard remembers an install but the entry is gone.
    EntryMissing,
}

/// The install status of `kind`'s user config.
pub fn status(platform: &Platform, data_dir: &Path, kind: ClientKind) -> Result<InstallStatus> {
    let state = read_state(data_dir, kind)?;
    let location = platform.user_config(kind);
    let file = LoadedFile::load(kind, &location.path)?;
    let has_entry = file.doc.entry(ENTRY_NAME).is_some();
    Ok(match (has_entry, state) {
        (false, None) => InstallStatus::NotInstalled,
        (false, Some(_)) => InstallStatus::EntryMissing,
        (true, state) => InstallStatus::Installed {
            changed_since: state.as_ref().is_some_and(|s| {
                file.original
                    .as_deref()
                    .is_none_or(|b| sha256(b) != s.installed_sha256)
            }),
            mode: state.map(|s| s.mode),
        },
    })
}

/// The token in `kind`'s installed entry, if there is one.
pub fn installed_token(platform: &Platform, kind: ClientKind) -> Result<Option<String>> {
    let file = LoadedFile::load(kind, &platform.user_config(kind).path)?;
    Ok(file.doc.entry(ENTRY_NAME).and_then(|v| entry_token(&v)))
}
