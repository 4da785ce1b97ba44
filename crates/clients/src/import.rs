//! Turning the servers clients already have into Switchboard servers.
//!
//! Planning reads files and the store and changes nothing (that is what
//! `--dry-run` shows); applying adds the planned servers, with secret-looking
//! env vars and headers moved to the [`SecretStore`] and placeholders left in
//! SQLite. Imported stdio servers are not approved: they were written by
//! someone else, so the user approves each command before it runs.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
};

use serde::Serialize;
use switchboard_auth::{SecretRef, SecretStore, looks_secret};
use switchboard_store::{ServerRecord, Store, TransportConfig};

use crate::{
    ClientKind, ENTRY_NAME, Error, Platform, Result,
    config::LoadedFile,
    entry::{ParsedEntry, Spec, parse_entry},
};

/// Where an entry was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// The client.
    pub client: ClientKind,
    /// Its config file.
    pub path: PathBuf,
    /// `""`, or e.g. `project /path` for Claude Code's per-project servers.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub section: String,
    /// The entry's name in that file.
    pub entry: String,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} \"{}\"", self.client, self.entry)?;
        if !self.section.is_empty() {
            write!(f, " ({})", self.section)?;
        }
        Ok(())
    }
}

/// A config file that could not be read; it is left untouched.
#[derive(Debug, Clone, Serialize)]
pub struct FileProblem {
    /// The client.
    pub client: ClientKind,
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub error: String,
}

/// Every entry found in the files of some clients.
#[derive(Debug, Default)]
pub struct Scan {
    /// Entries, in file order.
    pub found: Vec<(Origin, std::result::Result<ParsedEntry, String>)>,
    /// Files that exist but could not be parsed.
    pub problems: Vec<FileProblem>,
    /// Files that were read.
    pub files: Vec<PathBuf>,
}

/// Reads the config files of `kinds` (user scope, and `project`'s if given).
/// Switchboard's own entry is left out.
pub fn scan(platform: &Platform, kinds: &[ClientKind], project: Option<&Path>) -> Scan {
    let mut scan = Scan::default();
    for &kind in kinds {
        for location in platform.locations(kind, project) {
            if !location.path.is_file() {
                continue;
            }
            match LoadedFile::load(kind, &location.path) {
                Ok(file) => scan_document(&mut scan, kind, &file),
                Err(e) => scan.problems.push(FileProblem {
                    client: kind,
                    path: location.path.clone(),
                    error: e.to_string(),
                }),
            }
        }
    }
    scan
}

/// Adds the entries of one loaded file to `scan`.
pub fn scan_document(scan: &mut Scan, kind: ClientKind, file: &LoadedFile) {
    scan.files.push(file.path.clone());
    for raw in file.doc.entries() {
        if raw.section.is_empty() && raw.name == ENTRY_NAME {
            continue;
        }
        let origin = Origin {
            client: kind,
            path: file.path.clone(),
            section: raw.section,
            entry: raw.name,
        };
        scan.found.push((origin, parse_entry(kind, &raw.value)));
    }
}

/// Expands the variable references clients allow in values: `${env:NAME}`
/// (VS Code, Cursor, Windsurf), `${NAME}` and `${NAME:-default}` (Claude
/// Code, Gemini), `${userHome}`. Others (`${input:…}`, `${workspaceFolder}`)
/// cannot be known outside the client and are left as written.
#[derive(Debug, Clone)]
pub struct Resolver {
    vars: HashMap<String, String>,
    home: PathBuf,
}

impl Resolver {
    /// Uses this process's environment.
    pub fn from_env(home: &Path) -> Self {
        Self::new(std::env::vars().collect(), home)
    }

    /// Uses `vars` as the environment.
    pub fn new(vars: HashMap<String, String>, home: &Path) -> Self {
        Self {
            vars,
            home: home.to_owned(),
        }
    }

    /// `text` with what can be expanded expanded, and the references that could not.
    pub fn expand(&self, text: &str) -> (String, Vec<String>) {
        let mut out = String::new();
        let mut unresolved = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let inner = &after[..end];
            let whole = &rest[start..start + 2 + end + 1];
            match self.lookup(inner) {
                Some(value) => out.push_str(&value),
                None => {
                    out.push_str(whole);
                    unresolved.push(whole.to_owned());
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        (out, unresolved)
    }

    /// The environment variables `text` takes a value from (those set; a
    /// `${NAME:-default}` whose NAME is unset takes none).
    pub fn variables(&self, text: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            if let Some(name) = Self::variable_of(&after[..end])
                && self.vars.contains_key(name)
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_owned());
            }
            rest = &after[end + 1..];
        }
        names
    }

    /// The variable a reference names (`env:NAME`, `NAME`, `NAME:-default`).
    fn variable_of(inner: &str) -> Option<&str> {
        let name = match inner.strip_prefix("env:") {
            Some(name) => name,
            None => inner.split_once(":-").map_or(inner, |(name, _)| name),
        };
        let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        plain.then_some(name)
    }

    fn lookup(&self, inner: &str) -> Option<String> {
        if inner == "userHome" {
            return Some(self.home.display().to_string());
        }
        let (name, default) = match inner.strip_prefix("env:") {
            Some(name) => (name, None),
            None => match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            },
        };
        let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain {
            return None;
        }
        self.vars
            .get(name)
            .cloned()
            .or_else(|| default.map(str::to_owned))
    }
}

/// An entry ready to become a Switchboard server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// Where it comes from.
    pub origin: Origin,
    /// How to reach it, references expanded (secrets still in clear).
    pub transport: TransportConfig,
    /// Whether the client had it switched on.
    pub enabled: bool,
    /// What the user should know (options not carried over).
    pub warnings: Vec<String>,
    /// References only the client can fill in (`${input:…}`, unset variables).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unresolved: Vec<String>,
    /// Variables of this environment expanded into a remote server's URL or
    /// headers: values that will leave the machine, named for the user
    /// before anything is imported.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from_env: Vec<EnvUse>,
}

/// One environment variable that goes into a remote server's request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvUse {
    /// The variable.
    pub variable: String,
    /// Where its value goes: `URL` or `header NAME`.
    pub into: String,
}

/// The variables a remote server's URL and headers take from the environment.
fn remote_env(resolver: &Resolver, url: &str, headers: &BTreeMap<String, String>) -> Vec<EnvUse> {
    let uses = |text: &str, into: String| {
        resolver
            .variables(text)
            .into_iter()
            .map(move |variable| EnvUse {
                variable,
                into: into.clone(),
            })
    };
    uses(url, "URL".into())
        .chain(
            headers
                .iter()
                .flat_map(|(k, v)| uses(v, format!("header {k}"))),
        )
        .collect()
}

fn expand_map(
    resolver: &Resolver,
    map: BTreeMap<String, String>,
    unresolved: &mut Vec<String>,
) -> BTreeMap<String, String> {
    map.into_iter()
        .map(|(k, v)| (k, expand_one(resolver, &v, unresolved)))
        .collect()
}

fn expand_one(resolver: &Resolver, text: &str, unresolved: &mut Vec<String>) -> String {
    let (value, missing) = resolver.expand(text);
    unresolved.extend(missing);
    value
}

/// The candidate for one parsed entry.
pub fn candidate(origin: Origin, entry: ParsedEntry, resolver: &Resolver) -> Candidate {
    let mut warnings = Vec::new();
    let mut unresolved = Vec::new();
    if !entry.ignored.is_empty() {
        warnings.push(format!(
            "client-specific options not carried over: {}",
            entry.ignored.join(", ")
        ));
    }
    let from_env = match &entry.spec {
        Spec::Stdio { .. } => Vec::new(),
        Spec::Http { url, headers } | Spec::Sse { url, headers } => {
            remote_env(resolver, url, headers)
        }
    };
    let transport = match entry.spec {
        Spec::Stdio {
            command,
            args,
            env,
            cwd,
        } => TransportConfig::Stdio {
            command: expand_one(resolver, &command, &mut unresolved),
            args: args
                .iter()
                .map(|a| expand_one(resolver, a, &mut unresolved))
                .collect(),
            env: expand_map(resolver, env, &mut unresolved),
            cwd: cwd.map(|c| expand_one(resolver, &c, &mut unresolved)),
        },
        Spec::Http { url, headers } => TransportConfig::Http {
            url: expand_one(resolver, &url, &mut unresolved),
            headers: expand_map(resolver, headers, &mut unresolved),
        },
        Spec::Sse { url, headers } => TransportConfig::Sse {
            url: expand_one(resolver, &url, &mut unresolved),
            headers: expand_map(resolver, headers, &mut unresolved),
        },
    };
    unresolved.sort();
    unresolved.dedup();
    Candidate {
        origin,
        transport,
        enabled: entry.enabled,
        warnings,
        unresolved,
        from_env,
    }
}

/// What importing one candidate does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Adds a server under this name.
    Add {
        /// The new server's name.
        name: String,
        /// True when the entry's own name was taken or unusable.
        renamed: bool,
    },
    /// A server that does the same exists already (imported before, or found
    /// in another client this time): nothing is added.
    Merge {
        /// The server it is the same as.
        into: String,
    },
}

/// One candidate and what happens to it.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    /// The entry.
    pub candidate: Candidate,
    /// What importing does with it.
    pub action: Action,
}

/// An entry that cannot be imported, and why (it stays in the client's config).
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// Where it is.
    pub origin: Origin,
    /// Why.
    pub reason: String,
}

/// What an import will do.
#[derive(Debug, Default, Serialize)]
pub struct ImportPlan {
    /// Entries that become (or already are) servers.
    pub servers: Vec<Planned>,
    /// Entries left alone.
    pub skipped: Vec<Skipped>,
    /// Files that could not be parsed (left untouched).
    pub problems: Vec<FileProblem>,
}

impl ImportPlan {
    /// The Switchboard server an entry ends up as, if it is imported.
    pub fn server_for(&self, origin: &Origin) -> Option<&str> {
        self.servers
            .iter()
            .find(|p| &p.candidate.origin == origin)
            .map(|p| match &p.action {
                Action::Add { name, .. } => name.as_str(),
                Action::Merge { into } => into.as_str(),
            })
    }

    /// How many servers it adds.
    pub fn added(&self) -> usize {
        self.servers
            .iter()
            .filter(|p| matches!(p.action, Action::Add { .. }))
            .count()
    }

    /// Values of the environment the added remote servers would send, as
    /// `${VAR} into the header X of "entry"`.
    pub fn env_uses(&self) -> Vec<String> {
        self.servers
            .iter()
            .filter(|p| matches!(p.action, Action::Add { .. }))
            .flat_map(|p| {
                let entry = &p.candidate.origin.entry;
                p.candidate
                    .from_env
                    .iter()
                    .map(move |u| format!("${{{}}} into the {} of \"{entry}\"", u.variable, u.into))
            })
            .collect()
    }

    fn adds_secrets(&self) -> bool {
        self.servers.iter().any(|p| {
            matches!(p.action, Action::Add { .. })
                && !secret_values(&p.candidate.transport).is_empty()
        })
    }
}

/// Server names must work in `NAME__tool`: other characters become `-`.
pub fn sanitize_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("__") {
        out = out.replace("__", "_");
    }
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    // Trimmed after the cut, so that the name does not end with '_' either.
    let out: String = out
        .trim_start_matches(['-', '_'])
        .chars()
        .take(48)
        .collect();
    let out = out.trim_end_matches(['-', '_']);
    if out.is_empty() {
        "server".into()
    } else {
        out.to_owned()
    }
}

/// What a transport's pairs are, as secret purposes name them: `env` or `header`.
fn pair_kind(transport: &TransportConfig) -> &'static str {
    match transport {
        TransportConfig::Stdio { .. } => "env",
        TransportConfig::Http { .. } | TransportConfig::Sse { .. } => "header",
    }
}

/// The env vars (stdio) or headers (remote) that look like secrets, with their values.
pub fn secret_values(transport: &TransportConfig) -> Vec<(String, String)> {
    let (map, purpose) = (transport.pairs(), pair_kind(transport));
    map.iter()
        .filter(|(k, v)| looks_secret(k) && !v.is_empty() && SecretRef::parse(v).is_none())
        .map(|(k, v)| (format!("{purpose}:{k}"), v.clone()))
        .collect()
}

/// Equal, where a placeholder on the stored side matches any value (its
/// secret could not be read to compare).
fn same_transport(candidate: &TransportConfig, stored: &TransportConfig) -> bool {
    fn maps(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> bool {
        a.len() == b.len()
            && a.iter().all(|(k, v)| {
                b.get(k)
                    .is_some_and(|w| w == v || SecretRef::parse(w).is_some())
            })
    }
    match (candidate, stored) {
        (
            TransportConfig::Stdio {
                command: c1,
                args: a1,
                env: e1,
                cwd: d1,
            },
            TransportConfig::Stdio {
                command: c2,
                args: a2,
                env: e2,
                cwd: d2,
            },
        ) => c1 == c2 && a1 == a2 && d1 == d2 && maps(e1, e2),
        (
            TransportConfig::Http {
                url: u1,
                headers: h1,
            },
            TransportConfig::Http {
                url: u2,
                headers: h2,
            },
        )
        | (
            TransportConfig::Sse {
                url: u1,
                headers: h1,
            },
            TransportConfig::Sse {
                url: u2,
                headers: h2,
            },
        ) => u1.trim_end_matches('/') == u2.trim_end_matches('/') && maps(h1, h2),
        _ => false,
    }
}

/// The stored transport with its placeholders replaced by their secrets
/// where the secret store can tell them.
fn resolved(secrets: Option<&SecretStore>, transport: &TransportConfig) -> TransportConfig {
    let Some(secrets) = secrets else {
        return transport.clone();
    };
    let fix = |map: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        map.iter()
            .map(|(k, v)| {
                let value = secrets
                    .resolve(v)
                    .map(|s| s.expose().clone())
                    .unwrap_or_else(|_| v.clone());
                (k.clone(), value)
            })
            .collect()
    };
    match transport {
        TransportConfig::Stdio {
            command,
            args,
            env,
            cwd,
        } => TransportConfig::Stdio {
            command: command.clone(),
            args: args.clone(),
            env: fix(env),
            cwd: cwd.clone(),
        },
        TransportConfig::Http { url, headers } => TransportConfig::Http {
            url: url.clone(),
            headers: fix(headers),
        },
        TransportConfig::Sse { url, headers } => TransportConfig::Sse {
            url: url.clone(),
            headers: fix(headers),
        },
    }
}

/// Decides what importing `scan` does, given the servers in `store`. Nothing changes.
pub async fn plan(
    store: &Store,
    secrets: Option<&SecretStore>,
    scan: Scan,
    resolver: &Resolver,
) -> Result<ImportPlan> {
    let mut known: Vec<(String, TransportConfig)> = store
        .list_servers()
        .await?
        .into_iter()
        .map(|s| {
            let transport = resolved(secrets, &s.transport);
            (s.name, transport)
        })
        .collect();
    let mut plan = ImportPlan {
        problems: scan.problems,
        ..ImportPlan::default()
    };
    for (origin, parsed) in scan.found {
        let entry = match parsed {
            Ok(entry) => entry,
            Err(reason) => {
                plan.skipped.push(Skipped { origin, reason });
                continue;
            }
        };
        let candidate = candidate(origin, entry, resolver);
        if !candidate.unresolved.is_empty() {
            plan.skipped.push(Skipped {
                reason: format!(
                    "uses {}, which only {} can fill in; add it with `switchboard servers add` and the value",
                    candidate.unresolved.join(", "),
                    candidate.origin.client.display_name()
                ),
                origin: candidate.origin,
            });
            continue;
        }
        if let Some((existing, _)) = known
            .iter()
            .find(|(_, t)| same_transport(&candidate.transport, t))
        {
            plan.servers.push(Planned {
                action: Action::Merge {
                    into: existing.clone(),
                },
                candidate,
            });
            continue;
        }
        let wanted = sanitize_name(&candidate.origin.entry);
        let taken = |name: &str| {
            known.iter().any(|(n, _)| n == name)
                || switchboard_store::validate_server_name(name).is_err()
        };
        let mut name = wanted.clone();
        if taken(&name) {
            name = format!("{wanted}-{}", candidate.origin.client.id());
            let mut n = 2;
            while taken(&name) {
                name = format!("{wanted}-{n}");
                n += 1;
            }
        }
        let renamed = name != candidate.origin.entry;
        known.push((name.clone(), candidate.transport.clone()));
        plan.servers.push(Planned {
            action: Action::Add { name, renamed },
            candidate,
        });
    }
    Ok(plan)
}

/// Moves the secret-looking values of `transport` into `secrets`, returning
/// the transport with placeholders.
pub fn store_secrets(
    secrets: &SecretStore,
    server: &str,
    transport: &TransportConfig,
) -> Result<TransportConfig> {
    store_secrets_where(secrets, server, transport, &[])
}

/// Like [`store_secrets`], also moving the values named in `also`
/// (`env:NAME` or `header:NAME`, e.g. what a catalog entry marks secret).
pub fn store_secrets_where(
    secrets: &SecretStore,
    server: &str,
    transport: &TransportConfig,
    also: &[String],
) -> Result<TransportConfig> {
    let mut found = secret_values(transport);
    let mut transport = transport.clone();
    let kind = pair_kind(&transport);
    let map = transport.pairs_mut();
    for purpose in also {
        let Some(key) = purpose.strip_prefix(kind).and_then(|r| r.strip_prefix(':')) else {
            continue;
        };
        if let Some(value) = map.get(key)
            && !value.is_empty()
            && SecretRef::parse(value).is_none()
            && !found.iter().any(|(p, _)| p == purpose)
        {
            found.push((purpose.clone(), value.clone()));
        }
    }
    for (purpose, value) in found {
        let key = purpose.split_once(':').map_or(purpose.as_str(), |(_, k)| k);
        let secret = SecretRef::new(server, &purpose);
        secrets.set(&secret, &value)?;
        map.insert(key.to_owned(), secret.placeholder());
    }
    Ok(transport)
}

/// What applying a plan did.
#[derive(Debug, Default, Serialize)]
pub struct Applied {
    /// Servers added.
    pub added: Vec<String>,
    /// Of those, stdio servers that wait for `switchboard servers approve NAME`.
    pub need_approval: Vec<String>,
    /// Secrets moved to the secret store, as `server/purpose`.
    pub secrets: Vec<String>,
}

/// Adds the planned servers. Fails before changing anything when secrets
/// must be stored and the secret store cannot be used.
pub async fn apply(
    store: &Store,
    secrets: Option<&SecretStore>,
    plan: &ImportPlan,
) -> Result<Applied> {
    if plan.adds_secrets() {
        match secrets {
            Some(s) => s.check()?,
            None => {
                return Err(Error::Usage(
                    "some servers carry secrets but no secret store is available".into(),
                ));
            }
        }
    }
    let mut applied = Applied::default();
    for planned in &plan.servers {
        let Action::Add { name, .. } = &planned.action else {
            continue;
        };
        let transport = match secrets {
            Some(s) => {
                for (purpose, _) in secret_values(&planned.candidate.transport) {
                    applied.secrets.push(format!("{name}/{purpose}"));
                }
                store_secrets(s, name, &planned.candidate.transport)?
            }
            None => planned.candidate.transport.clone(),
        };
        let mut record = ServerRecord::new(name, transport);
        record.enabled = planned.candidate.enabled;
        store.add_server(&record).await?;
        if !record.launch_approved() {
            applied.need_approval.push(name.clone());
        }
        applied.added.push(name.clone());
    }
    Ok(applied)
}
