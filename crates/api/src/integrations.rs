//! The MCP clients of this machine in the control API: which ones there are,
//! their servers to import, and pointing one at Switchboard (with the exact
//! change to its config shown first) or putting its config back. The same
//! library calls as `switchboard clients detect | import | install |
//! uninstall`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use switchboard_clients::{
    ClientKind, FileState, Platform,
    import::{self, Action, ImportPlan, Resolver},
    install::{self, InstallRequest, InstallStatus, Mode, Restored},
};
use ts_rs::TS;

use crate::{Api, ApiError, ErrorCode};

/// Whether a client's config points at Switchboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// Its config has no Switchboard entry.
    NotConnected,
    /// The entry is there.
    Connected,
    /// The entry is there and the file was edited since.
    ChangedSince,
    /// Switchboard wrote an entry that is gone now.
    EntryMissing,
}

/// One kind of MCP client and its user config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ClientIntegration {
    /// Its id (`claude-desktop`, `cursor`, ...).
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Whether it appears to be installed here.
    pub installed: bool,
    /// Its user config file.
    pub config_path: String,
    /// Whether that file exists.
    pub config_exists: bool,
    /// Why the file cannot be read (it is left untouched).
    pub config_error: Option<String>,
    /// The servers it has of its own (Switchboard's entry left out).
    pub servers: Vec<String>,
    /// Of those, the ones Switchboard cannot import.
    pub unsupported: Vec<String>,
    /// Whether it points at Switchboard.
    pub connection: Connection,
    /// How (`http`, or `stdio` through `switchboard connect`).
    pub mode: Option<String>,
    /// The Switchboard client whose token it holds.
    pub client: Option<String>,
    /// When that client's first (latest) request arrived, unix ms: None
    /// until the client has used the gateway.
    pub last_seen_at: Option<i64>,
}

/// Names a client kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IntegrationKind {
    /// `claude-desktop`, `cursor`, ...
    pub kind: String,
}

/// Imports a client's servers (or, with `apply` false, says what would be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IntegrationImport {
    /// The client kind.
    pub kind: String,
    /// False: a preview; nothing changes.
    pub apply: bool,
    /// Import remote servers whose URL or headers take values from the
    /// gateway's environment (the preview names each variable).
    pub allow_env: bool,
}

/// One of a client's servers and what importing does with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ImportRow {
    /// Its name in the client's config.
    pub entry: String,
    /// `add` or `merge`.
    pub action: String,
    /// The Switchboard server it becomes (`add`) or is the same as (`merge`).
    pub server: String,
    /// Added under another name, the entry's being taken or unusable.
    pub renamed: bool,
    /// `stdio`, `http` or `sse`.
    pub transport: String,
    /// Its command line or URL.
    pub target: String,
    /// Whether the client had it on.
    pub enabled: bool,
    /// Notes on the entry.
    pub warnings: Vec<String>,
    /// Values it takes from the gateway's environment, as `${VAR} into the ...`.
    pub from_env: Vec<String>,
}

/// An entry left in the client's config, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SkippedRow {
    /// Its name in the client's config.
    pub entry: String,
    /// Why it is not imported.
    pub reason: String,
}

/// What importing does, or did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ImportPreview {
    /// Entries that become (or already are) servers.
    pub servers: Vec<ImportRow>,
    /// Entries left alone.
    pub skipped: Vec<SkippedRow>,
    /// Files that could not be read.
    pub problems: Vec<String>,
    /// Whether it was carried out.
    pub applied: bool,
    /// Servers added.
    pub added: Vec<String>,
    /// Of those, stdio servers whose command waits for approval.
    pub need_approval: Vec<String>,
    /// Secrets moved to the keyring, as `server/purpose`.
    pub secrets: Vec<String>,
}

/// Points a client at Switchboard (or, with `apply` false, shows the change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IntegrationConnect {
    /// The client kind.
    pub kind: String,
    /// False: a preview; nothing changes.
    pub apply: bool,
    /// Use the `switchboard connect` stdio bridge even if the client speaks HTTP.
    pub stdio: bool,
    /// Leave the client's own servers in its config (they are imported still).
    pub keep_servers: bool,
    /// As for an import.
    pub allow_env: bool,
}

/// The change to a client's config, and what was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ConnectPreview {
    /// The config file.
    pub path: String,
    /// `http` or `stdio`.
    pub mode: String,
    /// Its config already points at Switchboard: nothing to do.
    pub already_connected: bool,
    /// The unified diff of the file (a new token shows as `sbt_…`).
    pub diff: String,
    /// What happens to the Switchboard client and its token.
    pub token: String,
    /// The client's servers taken out of its config (Switchboard serves them).
    pub removed: Vec<String>,
    /// Entries left in its config, and why.
    pub kept: Vec<SkippedRow>,
    /// Its servers' import.
    pub import: ImportPreview,
    /// Whether the file was written.
    pub applied: bool,
    /// The copy of the original, once written.
    pub backup: Option<String>,
}

/// How a client's config was put back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Disconnected {
    /// The config file.
    pub path: String,
    /// Byte for byte the file from before the connect.
    pub exact: bool,
    /// What was done, in a sentence.
    pub summary: String,
    /// The Switchboard client removed with it (its token no longer works).
    pub removed_client: Option<String>,
}

fn clients_error(e: switchboard_clients::Error) -> ApiError {
    use switchboard_clients::Error as E;
    let code = match &e {
        E::UnknownClient(_) => ErrorCode::NotFound,
        E::NotInstalled(_) | E::NotInstalledHere(_) => ErrorCode::Conflict,
        E::Malformed { .. } | E::Shape { .. } | E::Unsupported(_) | E::Usage(_) => {
            ErrorCode::Invalid
        }
        E::Io { .. } | E::Store(_) | E::Secret(_) | E::Catalog(_) => ErrorCode::Internal,
    };
    ApiError::new(code, e.to_string())
}

fn kind_of(text: &str) -> Result<ClientKind, ApiError> {
    text.parse::<ClientKind>().map_err(clients_error)
}

fn platform() -> Result<Platform, ApiError> {
    Platform::current().map_err(clients_error)
}

fn mode_name(mode: Mode) -> String {
    match mode {
        Mode::Http => "http",
        Mode::Stdio => "stdio",
    }
    .to_owned()
}

fn preview_of(plan: &ImportPlan) -> ImportPreview {
    ImportPreview {
        servers: plan
            .servers
            .iter()
            .map(|p| {
                let c = &p.candidate;
                let (action, server, renamed) = match &p.action {
                    Action::Add { name, renamed } => ("add", name.clone(), *renamed),
                    Action::Merge { into } => ("merge", into.clone(), false),
                };
                ImportRow {
                    entry: c.origin.entry.clone(),
                    action: action.into(),
                    server,
                    renamed,
                    transport: c.transport.kind().to_owned(),
                    target: c.transport.target(),
                    enabled: c.enabled,
                    warnings: c.warnings.clone(),
                    from_env: c
                        .from_env
                        .iter()
                        .map(|u| format!("${{{}}} into the {}", u.variable, u.into))
                        .collect(),
                }
            })
            .collect(),
        skipped: plan
            .skipped
            .iter()
            .map(|s| SkippedRow {
                entry: s.origin.entry.clone(),
                reason: s.reason.clone(),
            })
            .collect(),
        problems: plan
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.client, p.error))
            .collect(),
        ..ImportPreview::default()
    }
}

/// Values of the gateway's environment go into a remote server's requests
/// only when the user said so.
fn check_env(plan: &ImportPlan, allowed: bool) -> Result<(), ApiError> {
    if allowed {
        return Ok(());
    }
    let uses = plan.env_uses();
    if uses.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(format!(
        "nothing changed: remote servers would send values of the gateway's environment: {}; \
         allow that to go on",
        uses.join(", ")
    )))
}

/// `text` with every client token shortened to its prefix.
fn mask_tokens(text: &str) -> String {
    let prefix = switchboard_auth::CLIENT_TOKEN_PREFIX;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        out.push_str(&rest[..at]);
        out.push_str(prefix);
        let tail = &rest[at + prefix.len()..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(tail.len());
        if end > 0 {
            out.push('…');
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

impl Api {
    fn request(&self, kind: ClientKind, p: &IntegrationConnect) -> InstallRequest {
        let (connect_program, connect_args) =
            install::connect_command(&self.cli_program, &self.data_dir);
        InstallRequest {
            kind,
            gateway_url: self.mcp_url.clone(),
            connect_program,
            connect_args,
            stdio: p.stdio,
            keep_servers: p.keep_servers,
            client_name: kind.id().to_owned(),
            force: false,
        }
    }

    pub(crate) async fn integrations_list(
        &self,
        (): (),
    ) -> Result<Vec<ClientIntegration>, ApiError> {
        let platform = platform()?;
        let mut out = Vec::new();
        for detected in switchboard_clients::detect(&platform, &self.data_dir, None) {
            let kind = detected.kind;
            let config = platform.user_config(kind).path;
            let file = detected.files.iter().find(|f| f.path == config);
            let (servers, unsupported, config_error) = match file.map(|f| &f.state) {
                Some(FileState::Ok {
                    servers,
                    unsupported,
                }) => (servers.clone(), unsupported.clone(), None),
                Some(FileState::Malformed { error }) => (vec![], vec![], Some(error.clone())),
                Some(FileState::Missing) | None => (vec![], vec![], None),
            };
            let (connection, mode) = match &detected.switchboard {
                InstallStatus::NotInstalled => (Connection::NotConnected, None),
                InstallStatus::EntryMissing => (Connection::EntryMissing, None),
                InstallStatus::Installed {
                    mode,
                    changed_since,
                } => (
                    if *changed_since {
                        Connection::ChangedSince
                    } else {
                        Connection::Connected
                    },
                    mode.map(mode_name),
                ),
            };
            let client = match connection {
                Connection::Connected | Connection::ChangedSince => {
                    self.token_holder(&platform, kind).await?
                }
                _ => None,
            };
            out.push(ClientIntegration {
                kind: kind.id().to_owned(),
                name: kind.display_name().to_owned(),
                installed: detected.installed,
                config_exists: config.is_file(),
                config_path: config.display().to_string(),
                config_error,
                servers,
                unsupported,
                connection,
                mode,
                last_seen_at: client.as_ref().and_then(|c| c.last_seen_at),
                client: client.map(|c| c.name),
            });
        }
        Ok(out)
    }

    /// The Switchboard client whose token `kind`'s config holds.
    async fn token_holder(
        &self,
        platform: &Platform,
        kind: ClientKind,
    ) -> Result<Option<switchboard_store::ClientRecord>, ApiError> {
        let Some(token) = install::installed_token(platform, kind).map_err(clients_error)? else {
            return Ok(None);
        };
        let hash = switchboard_auth::hash_token(&token);
        Ok(self.store.client_by_token_hash(&hash).await?)
    }

    async fn import_plan(&self, kind: ClientKind) -> Result<ImportPlan, ApiError> {
        let platform = platform()?;
        let scan = import::scan(&platform, &[kind], None);
        if let Some(problem) = scan.problems.first()
            && scan.files.is_empty()
        {
            return Err(ApiError::invalid(problem.error.clone()));
        }
        if scan.files.is_empty() {
            return Err(ApiError::not_found(format!(
                "no config file of {} found",
                kind.display_name()
            )));
        }
        let secrets = self.secrets()?;
        let resolver = Resolver::from_env(&platform.home);
        import::plan(&self.store, Some(&secrets), scan, &resolver)
            .await
            .map_err(clients_error)
    }

    pub(crate) async fn integration_import(
        &self,
        p: IntegrationImport,
    ) -> Result<ImportPreview, ApiError> {
        let kind = kind_of(&p.kind)?;
        let plan = self.import_plan(kind).await?;
        let mut preview = preview_of(&plan);
        if !p.apply {
            return Ok(preview);
        }
        check_env(&plan, p.allow_env)?;
        let secrets = self.secrets()?;
        let applied = import::apply(&self.store, Some(&secrets), &plan)
            .await
            .map_err(clients_error)?;
        preview.applied = true;
        preview.added = applied.added;
        preview.need_approval = applied.need_approval;
        preview.secrets = applied.secrets;
        Ok(preview)
    }

    pub(crate) async fn integration_connect(
        &self,
        p: IntegrationConnect,
    ) -> Result<ConnectPreview, ApiError> {
        let kind = kind_of(&p.kind)?;
        let platform = platform()?;
        let request = self.request(kind, &p);
        let secrets = self.secrets()?;
        let resolver = Resolver::from_env(&platform.home);
        let plan = install::plan_install(
            &self.store,
            Some(&secrets),
            &platform,
            &self.data_dir,
            &request,
            &resolver,
        )
        .await
        .map_err(clients_error)?;
        let mut preview = ConnectPreview {
            path: plan.path.display().to_string(),
            mode: mode_name(plan.mode),
            already_connected: plan.already_installed,
            diff: mask_tokens(&plan.diff),
            token: plan.token.note(&request.client_name, false),
            removed: plan.removed.clone(),
            kept: plan
                .kept
                .iter()
                .map(|(entry, reason)| SkippedRow {
                    entry: entry.clone(),
                    reason: reason.clone(),
                })
                .collect(),
            import: preview_of(&plan.import),
            applied: false,
            backup: None,
        };
        if !p.apply || plan.already_installed {
            return Ok(preview);
        }
        check_env(&plan.import, p.allow_env)?;
        let token = plan.token.clone();
        let outcome =
            install::apply_install(&self.store, Some(&secrets), &self.data_dir, &request, plan)
                .await
                .map_err(clients_error)?;
        preview.applied = true;
        preview.token = token.note(&request.client_name, true);
        preview.backup = outcome.backup.map(|b| b.display().to_string());
        preview.import.applied = true;
        preview.import.added = outcome.applied.added;
        preview.import.need_approval = outcome.applied.need_approval;
        preview.import.secrets = outcome.applied.secrets;
        Ok(preview)
    }

    pub(crate) async fn integration_disconnect(
        &self,
        p: IntegrationKind,
    ) -> Result<Disconnected, ApiError> {
        let kind = kind_of(&p.kind)?;
        let platform = platform()?;
        let outcome = install::uninstall(&self.store, &platform, &self.data_dir, kind)
            .await
            .map_err(clients_error)?;
        Ok(disconnected(
            &outcome.path,
            &outcome.restored,
            outcome.removed_client,
        ))
    }
}

fn disconnected(path: &Path, restored: &Restored, removed_client: Option<String>) -> Disconnected {
    let shown = path.display();
    let summary = match restored {
        Restored::Exact { backup } => {
            format!(
                "Restored {shown} from {} (byte for byte).",
                backup.display()
            )
        }
        Restored::Deleted => format!("Removed {shown}: it did not exist before the connect."),
        Restored::Merged { restored_entries } => format!(
            "{shown} changed since the connect: removed the Switchboard entry{}; later edits are kept.",
            if restored_entries.is_empty() {
                String::new()
            } else {
                format!(" and put back {}", restored_entries.join(", "))
            }
        ),
        Restored::EntryRemoved => format!("Removed the Switchboard entry from {shown}."),
    };
    Disconnected {
        path: shown.to_string(),
        exact: matches!(restored, Restored::Exact { .. } | Restored::Deleted),
        summary,
        removed_client,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_masked_in_diffs() {
        let p = switchboard_auth::CLIENT_TOKEN_PREFIX;
        let text = format!("+ \"Authorization\": \"Bearer {p}abc_DEF-123\"\n- {p}…\n");
        assert_eq!(
            mask_tokens(&text),
            format!("+ \"Authorization\": \"Bearer {p}…\"\n- {p}…\n")
        );
        assert_eq!(mask_tokens("no token"), "no token");
    }
}
