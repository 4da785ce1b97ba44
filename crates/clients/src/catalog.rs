//! The server catalog: entries in the official MCP registry's `server.json`
//! format (name, description, packages with runtime hints, remotes, the env
//! vars, arguments and headers they need). A snapshot ships with Switchboard
//! (`catalog/servers.json`, refreshed by `catalog/update.py`); a registry file
//! or URL the user gives is read the same way.
//!
//! [`Form`] lists what adding an entry asks for; [`build`] turns an entry and
//! the user's answers into a server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_store::TransportConfig;

use crate::{Error, Result, import::sanitize_name};

/// The snapshot bundled with Switchboard.
pub const BUNDLED: &str = include_str!("../../../catalog/servers.json");

/// Where the bundled snapshot's entries came from, for messages.
pub const BUNDLED_SOURCE: &str = "the bundled catalog";

/// A value the user supplies: an env var, a header, an argument or a `{variable}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// The user must give it.
    #[serde(default)]
    pub is_required: bool,
    /// It is a secret (goes to the keyring).
    #[serde(default)]
    pub is_secret: bool,
    /// Used when the user gives nothing.
    #[serde(default)]
    pub default: Option<String>,
    /// A fixed value, possibly with `{variables}`.
    #[serde(default)]
    pub value: Option<String>,
    /// `string`, `number`, `boolean`, `filepath`.
    #[serde(default)]
    pub format: Option<String>,
    /// The allowed values, if limited.
    #[serde(default)]
    pub choices: Vec<String>,
    /// Variables used in `value`.
    #[serde(default)]
    pub variables: BTreeMap<String, Input>,
}

/// A named input: an environment variable or a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedInput {
    /// The variable or header name.
    pub name: String,
    /// The rest.
    #[serde(flatten)]
    pub input: Input,
}

/// A command-line argument of a package or its runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Argument {
    /// `positional` or `named`.
    #[serde(rename = "type", default = "positional")]
    pub kind: String,
    /// For named arguments, the flag (`--port`).
    #[serde(default)]
    pub name: Option<String>,
    /// A hint naming a positional argument's value.
    #[serde(default)]
    pub value_hint: Option<String>,
    /// The value's rules.
    #[serde(flatten)]
    pub input: Input,
}

fn positional() -> String {
    "positional".into()
}

/// Some registries write an argument as a bare string: a fixed positional value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum ArgumentForm {
    Full(Argument),
    Bare(String),
}

fn arguments<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<Argument>, D::Error> {
    let forms: Option<Vec<ArgumentForm>> = Option::deserialize(d)?;
    Ok(forms
        .unwrap_or_default()
        .into_iter()
        .map(|form| match form {
            ArgumentForm::Full(argument) => argument,
            ArgumentForm::Bare(value) => Argument {
                kind: positional(),
                name: None,
                value_hint: None,
                input: Input {
                    value: Some(value),
                    ..Input::default()
                },
            },
        })
        .collect())
}

fn transport_type<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    let value: Option<Value> = Option::deserialize(d)?;
    Ok(match value {
        Some(Value::String(s)) => s,
        Some(Value::Object(o)) => o
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("stdio")
            .to_owned(),
        _ => "stdio".into(),
    })
}

fn null_as_empty<'de, D, T>(d: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A way to run the server locally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    /// `npm`, `pypi`, `oci`, `nuget`, `mcpb`.
    pub registry_type: String,
    /// The package (or image) name.
    pub identifier: String,
    /// Its version.
    #[serde(default)]
    pub version: Option<String>,
    /// The program that runs it (`npx`, `uvx`, `docker`, `dnx`).
    #[serde(default)]
    pub runtime_hint: Option<String>,
    /// The transport it speaks (`stdio` for what Switchboard launches).
    #[serde(default = "stdio", deserialize_with = "transport_type")]
    pub transport: String,
    /// Arguments for the runtime.
    #[serde(default, deserialize_with = "arguments")]
    pub runtime_arguments: Vec<Argument>,
    /// Arguments for the package.
    #[serde(default, deserialize_with = "arguments")]
    pub package_arguments: Vec<Argument>,
    /// Environment variables it reads.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub environment_variables: Vec<NamedInput>,
}

fn stdio() -> String {
    "stdio".into()
}

/// A hosted endpoint of the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Remote {
    /// `streamable-http` or `sse`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The URL, possibly with `{variables}`.
    pub url: String,
    /// Headers it expects.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub headers: Vec<NamedInput>,
    /// Variables used in the URL.
    #[serde(default)]
    pub variables: BTreeMap<String, Input>,
}

/// The source repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// Its URL.
    #[serde(default)]
    pub url: Option<String>,
}

/// One catalog entry: a `server.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerEntry {
    /// Reverse-DNS name, e.g. `io.github.brave/brave-search-mcp-server`.
    pub name: String,
    /// A display name.
    #[serde(default)]
    pub title: Option<String>,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// Its version.
    #[serde(default)]
    pub version: Option<String>,
    /// Its website.
    #[serde(default)]
    pub website_url: Option<String>,
    /// Its source.
    #[serde(default)]
    pub repository: Option<Repository>,
    /// Ways to run it locally.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub packages: Vec<Package>,
    /// Hosted endpoints.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub remotes: Vec<Remote>,
    /// The sandbox its local packages need, as the entry declares it under
    /// `_meta` [`SANDBOX_META`] (None: the defaults, inferred from the launch).
    #[serde(skip)]
    pub sandbox: Option<switchboard_sandbox::SandboxConfig>,
}

/// The `_meta` key under which a catalog entry declares its sandbox grants
/// (`{"network": "on", "allow_read": [...], "allow_write": [...]}`; `~/` is
/// the user's home folder).
pub const SANDBOX_META: &str = "io.github.switchboard-mcp/sandbox";

impl ServerEntry {
    /// The name a Switchboard server gets by default: the last part of the
    /// registry name, without an `mcp-server` suffix or prefix.
    pub fn suggested_name(&self) -> String {
        let last = self.name.rsplit('/').next().unwrap_or(&self.name);
        let mut name = last.to_ascii_lowercase();
        for affix in ["-mcp-server", "-mcp", "mcp-server-", "mcp-"] {
            let trimmed = if affix.ends_with('-') {
                name.strip_prefix(affix)
            } else {
                name.strip_suffix(affix)
            };
            if let Some(t) = trimmed.filter(|t| !t.is_empty()) {
                name = t.to_owned();
                break;
            }
        }
        sanitize_name(&name)
    }
}

/// A set of entries and where they came from.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The entries, one per name.
    pub servers: Vec<ServerEntry>,
    /// Where they came from, for messages.
    pub source: String,
}

/// A search hit.
#[derive(Debug, Clone, Serialize)]
pub struct Hit<'a> {
    /// The entry.
    pub server: &'a ServerEntry,
    /// Higher is better.
    pub score: u32,
}

impl Catalog {
    /// The bundled snapshot.
    pub fn bundled() -> Result<Self> {
        Self::parse(BUNDLED, BUNDLED_SOURCE)
    }

    /// Reads a registry list (`{"servers": [{"server": …}]}`), a list of
    /// `server.json` objects, or a single one.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::Catalog(format!("{source} is not JSON: {e}")))?;
        let mut servers: Vec<(ServerEntry, bool)> = Vec::new();
        let items: Vec<Value> = match value {
            Value::Array(items) => items,
            Value::Object(mut object) => match object.remove("servers") {
                Some(Value::Array(items)) => items,
                _ => vec![Value::Object(object)],
            },
            _ => Vec::new(),
        };
        for item in items {
            // A registry answer wraps each entry as {"server": …, "_meta": …}.
            let latest = item
                .pointer("/_meta/io.modelcontextprotocol.registry~1official/isLatest")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let sandbox = item
                .pointer(&format!("/_meta/{}", SANDBOX_META.replace('/', "~1")))
                .cloned()
                .map(serde_json::from_value::<switchboard_sandbox::SandboxConfig>)
                .transpose()
                .map_err(|e| Error::Catalog(format!("{source}: a sandbox declaration: {e}")))?;
            let server = match item.get("server") {
                Some(inner) => inner.clone(),
                None => item,
            };
            let mut entry: ServerEntry = serde_json::from_value(server).map_err(|e| {
                Error::Catalog(format!("{source}: an entry is not a server.json: {e}"))
            })?;
            entry.sandbox = sandbox;
            match servers.iter_mut().find(|(s, _)| s.name == entry.name) {
                Some(slot) if latest || !slot.1 => *slot = (entry, latest),
                Some(_) => {}
                None => servers.push((entry, latest)),
            }
        }
        if servers.is_empty() {
            return Err(Error::Catalog(format!("{source} holds no servers")));
        }
        Ok(Self {
            servers: servers.into_iter().map(|(s, _)| s).collect(),
            source: source.to_owned(),
        })
    }

    /// Reads a registry file, or fetches a registry URL (following its
    /// `nextCursor` pages, up to 50).
    pub async fn load(location: &str) -> Result<Self> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Self::fetch(location).await;
        }
        let text = std::fs::read_to_string(location)
            .map_err(|e| Error::Catalog(format!("cannot read {location}: {e}")))?;
        Self::parse(&text, location)
    }

    async fn fetch(url: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Catalog(e.to_string()))?;
        let mut merged: Vec<Value> = Vec::new();
        let mut next = Some(url.to_owned());
        let mut pages = 0;
        while let Some(page_url) = next.take() {
            pages += 1;
            let response = http
                .get(&page_url)
                .header("Accept", "application/json")
                .send()
                .await
                .map_err(|e| Error::Catalog(format!("cannot fetch {page_url}: {e}")))?;
            if !response.status().is_success() {
                return Err(Error::Catalog(format!(
                    "{page_url} answered {}",
                    response.status()
                )));
            }
            let value: Value = response
                .json()
                .await
                .map_err(|e| Error::Catalog(format!("{page_url} is not JSON: {e}")))?;
            let cursor = value
                .pointer("/metadata/nextCursor")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_owned);
            match value {
                Value::Object(mut object) if object.contains_key("servers") => {
                    if let Some(Value::Array(items)) = object.remove("servers") {
                        merged.extend(items);
                    }
                }
                Value::Array(items) => merged.extend(items),
                other => merged.push(other),
            }
            if let Some(cursor) = cursor
                && pages < 50
                && let Ok(mut next_url) = url::Url::parse(url)
            {
                let kept: Vec<(String, String)> = next_url
                    .query_pairs()
                    .filter(|(k, _)| k != "cursor")
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                next_url
                    .query_pairs_mut()
                    .clear()
                    .extend_pairs(kept)
                    .append_pair("cursor", &cursor);
                next = Some(next_url.to_string());
            }
        }
        Self::parse(&Value::Array(merged).to_string(), url)
    }

    /// Entries matching every word of `text` (name, title, description,
    /// package identifiers), best first.
    pub fn search(&self, text: &str) -> Vec<Hit<'_>> {
        let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
        let mut hits: Vec<Hit<'_>> = self
            .servers
            .iter()
            .filter_map(|server| {
                let name = server.name.to_lowercase();
                let title = server.title.clone().unwrap_or_default().to_lowercase();
                let description = server.description.to_lowercase();
                let packages: Vec<String> = server
                    .packages
                    .iter()
                    .map(|p| p.identifier.to_lowercase())
                    .collect();
                let mut score = 0;
                for word in &words {
                    let mut best = 0;
                    if name.rsplit('/').next() == Some(word.as_str()) || title == *word {
                        best = 100;
                    } else if name.contains(word.as_str()) || title.contains(word.as_str()) {
                        best = 50;
                    } else if packages.iter().any(|p| p.contains(word.as_str())) {
                        best = 30;
                    } else if description.contains(word.as_str()) {
                        best = 10;
                    }
                    if best == 0 {
                        return None;
                    }
                    score += best;
                }
                Some(Hit { server, score })
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then(a.server.name.cmp(&b.server.name))
        });
        hits
    }

    /// The entry `id` names: its full name, the part after the last `/`, a
    /// package identifier or the title (when only one entry matches).
    pub fn find(&self, id: &str) -> Result<&ServerEntry> {
        if let Some(exact) = self.servers.iter().find(|s| s.name == id) {
            return Ok(exact);
        }
        let lower = id.to_lowercase();
        let matches: Vec<&ServerEntry> = self
            .servers
            .iter()
            .filter(|s| {
                s.name.rsplit('/').next().map(str::to_lowercase).as_deref() == Some(lower.as_str())
                    || s.title.as_deref().map(str::to_lowercase).as_deref() == Some(lower.as_str())
                    || s.packages
                        .iter()
                        .any(|p| p.identifier.to_lowercase() == lower)
                    || s.suggested_name() == lower
            })
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(Error::Catalog(format!(
                "no server {id:?} in {}; try `switchboard catalog search WORDS`",
                self.source
            ))),
            many => Err(Error::Catalog(format!(
                "{id:?} matches several servers: {}",
                many.iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// Which way of running the server to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "index", rename_all = "lowercase")]
pub enum Choice {
    /// `packages[i]`, run locally over stdio.
    Package(usize),
    /// `remotes[i]`, reached over HTTP.
    Remote(usize),
}

/// What a form field fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// An environment variable (`--env NAME=VALUE`).
    Env,
    /// An HTTP header (`--header NAME=VALUE`).
    Header,
    /// An argument or a `{variable}` (`--var NAME=VALUE`).
    Var,
}

/// One thing the user may or must fill in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// What it fills in.
    pub kind: FieldKind,
    /// The key the user gives it by.
    pub key: String,
    /// What it is for.
    pub description: Option<String>,
    /// It must be given (there is no default).
    pub required: bool,
    /// It is a secret.
    pub secret: bool,
    /// The value used if none is given.
    pub default: Option<String>,
    /// Allowed values.
    pub choices: Vec<String>,
}

/// One way to run the server and what it asks for.
#[derive(Debug, Clone, Serialize)]
pub struct RunOption {
    /// Which one.
    pub choice: Choice,
    /// A one-line description (`npm @scope/pkg 1.2.3 via npx`).
    pub summary: String,
    /// What the user fills in.
    pub fields: Vec<Field>,
    /// Why it cannot be used, if it cannot.
    pub unsupported: Option<String>,
}

/// The "add server" form of a catalog entry.
#[derive(Debug, Clone, Serialize)]
pub struct Form {
    /// The registry name.
    pub server: String,
    /// The name the new server gets unless the user picks one.
    pub suggested_name: String,
    /// The description.
    pub description: String,
    /// Each way to run it.
    pub options: Vec<RunOption>,
    /// The option used unless the user picks one.
    pub default_choice: Option<Choice>,
}

/// The user's answers.
#[derive(Debug, Clone, Default)]
pub struct Answers {
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Headers.
    pub headers: BTreeMap<String, String>,
    /// Arguments and variables.
    pub vars: BTreeMap<String, String>,
}

fn runtime_of(package: &Package) -> std::result::Result<String, String> {
    if package.transport != "stdio" {
        return Err(format!(
            "runs its own {} server; Switchboard launches stdio packages only",
            package.transport
        ));
    }
    if let Some(hint) = package.runtime_hint.as_deref().filter(|h| !h.is_empty()) {
        return Ok(hint.to_owned());
    }
    match package.registry_type.as_str() {
        "npm" => Ok("npx".into()),
        "pypi" => Ok("uvx".into()),
        "oci" => Ok("docker".into()),
        "nuget" => Ok("dnx".into()),
        other => Err(format!("{other} packages are not supported")),
    }
}

fn argument_key(argument: &Argument) -> Option<String> {
    match argument.kind.as_str() {
        "named" => argument
            .name
            .as_deref()
            .map(|n| n.trim_start_matches('-').to_owned()),
        _ => argument.value_hint.clone(),
    }
}

fn input_field(kind: FieldKind, key: &str, input: &Input) -> Field {
    Field {
        kind,
        key: key.to_owned(),
        description: input.description.clone(),
        required: input.is_required && input.default.is_none(),
        secret: input.is_secret,
        default: input.default.clone(),
        choices: input.choices.clone(),
    }
}

fn variable_fields(input: &Input, out: &mut Vec<Field>) {
    for (name, variable) in &input.variables {
        out.push(input_field(FieldKind::Var, name, variable));
    }
}

fn argument_fields(arguments: &[Argument], out: &mut Vec<Field>) {
    for argument in arguments {
        if argument.input.value.is_some() {
            variable_fields(&argument.input, out);
        } else if let Some(key) = argument_key(argument) {
            out.push(input_field(FieldKind::Var, &key, &argument.input));
        }
    }
}

/// The form for `server`: every way to run it and what each asks for.
pub fn form(server: &ServerEntry) -> Form {
    let mut options = Vec::new();
    for (i, package) in server.packages.iter().enumerate() {
        let mut fields = Vec::new();
        argument_fields(&package.runtime_arguments, &mut fields);
        argument_fields(&package.package_arguments, &mut fields);
        for env in &package.environment_variables {
            if env.input.value.is_some() {
                variable_fields(&env.input, &mut fields);
            } else {
                fields.push(input_field(FieldKind::Env, &env.name, &env.input));
            }
        }
        let runtime = runtime_of(package);
        options.push(RunOption {
            choice: Choice::Package(i),
            summary: format!(
                "{} {}{} via {}",
                package.registry_type,
                package.identifier,
                package
                    .version
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default(),
                runtime.as_deref().unwrap_or("?")
            ),
            unsupported: runtime.err(),
            fields,
        });
    }
    for (i, remote) in server.remotes.iter().enumerate() {
        let mut fields = Vec::new();
        for (name, variable) in &remote.variables {
            fields.push(input_field(FieldKind::Var, name, variable));
        }
        for header in &remote.headers {
            if header.input.value.is_some() {
                variable_fields(&header.input, &mut fields);
            } else {
                fields.push(input_field(FieldKind::Header, &header.name, &header.input));
            }
        }
        let unsupported = match remote.kind.as_str() {
            "streamable-http" | "sse" | "http" => None,
            other => Some(format!("{other} remotes are not supported")),
        };
        options.push(RunOption {
            choice: Choice::Remote(i),
            summary: format!("{} {}", remote.kind, remote.url),
            unsupported,
            fields,
        });
    }
    let default_choice = options
        .iter()
        .find(|o| o.unsupported.is_none())
        .map(|o| o.choice);
    Form {
        server: server.name.clone(),
        suggested_name: server.suggested_name(),
        description: server.description.clone(),
        options,
        default_choice,
    }
}

/// A server built from a catalog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// How to reach it; secrets still in clear.
    pub transport: TransportConfig,
    /// Env vars or headers the entry marks as secret (`env:NAME`, `header:NAME`).
    pub secret_keys: Vec<String>,
    /// Its sandbox: what the entry declares (`~/` expanded), else the defaults.
    pub sandbox: switchboard_sandbox::SandboxConfig,
}

/// Resolves values for one build, collecting what is missing.
struct Filler<'a> {
    answers: &'a Answers,
    missing: Vec<String>,
    secrets: Vec<String>,
}

impl Filler<'_> {
    /// `{variables}` in `template` replaced.
    fn template(&mut self, template: &str, variables: &BTreeMap<String, Input>) -> String {
        let mut out = template.to_owned();
        for (name, variable) in variables {
            let pattern = format!("{{{name}}}");
            if !out.contains(&pattern) {
                continue;
            }
            match self.pick(FieldKind::Var, name, variable) {
                Some(value) => out = out.replace(&pattern, &value),
                None => return String::new(),
            }
        }
        out
    }

    /// The user's answer, else the default; notes a missing required value.
    fn pick(&mut self, kind: FieldKind, key: &str, input: &Input) -> Option<String> {
        let given = match kind {
            FieldKind::Env => self.answers.env.get(key),
            FieldKind::Header => self.answers.headers.get(key),
            FieldKind::Var => self.answers.vars.get(key),
        };
        if let Some(value) = given.cloned().or_else(|| input.default.clone()) {
            return Some(value);
        }
        if input.is_required {
            let flag = match kind {
                FieldKind::Env => "--env",
                FieldKind::Header => "--header",
                FieldKind::Var => "--var",
            };
            let about = input
                .description
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            self.missing.push(format!("{flag} {key}=…{about}"));
        }
        None
    }

    /// The value of a named input (env var or header): fixed or answered.
    fn named(&mut self, kind: FieldKind, named: &NamedInput) -> Option<String> {
        let value = match &named.input.value {
            Some(template) => {
                // The user may still override a templated value directly.
                let direct = match kind {
                    FieldKind::Env => self.answers.env.get(&named.name),
                    _ => self.answers.headers.get(&named.name),
                };
                match direct {
                    Some(v) => Some(v.clone()),
                    None => Some(self.template(template, &named.input.variables))
                        .filter(|v| !v.is_empty()),
                }
            }
            None => self.pick(kind, &named.name, &named.input),
        };
        if value.is_some()
            && (named.input.is_secret || named.input.variables.values().any(|v| v.is_secret))
        {
            let purpose = if kind == FieldKind::Env {
                "env"
            } else {
                "header"
            };
            self.secrets.push(format!("{purpose}:{}", named.name));
        }
        value
    }

    /// The words an argument adds to the command line.
    fn argument(&mut self, argument: &Argument) -> Vec<String> {
        let value = match &argument.input.value {
            // A template whose variables are not given leaves the argument out.
            Some(template) => {
                Some(self.template(template, &argument.input.variables)).filter(|v| !v.is_empty())
            }
            None => match argument_key(argument) {
                Some(key) => self.pick(FieldKind::Var, &key, &argument.input),
                None => None,
            },
        };
        let Some(value) = value else {
            return Vec::new();
        };
        match (argument.kind.as_str(), argument.name.as_deref()) {
            ("named", Some(flag)) => {
                if argument.input.format.as_deref() == Some("boolean") {
                    match value.as_str() {
                        "true" => vec![flag.to_owned()],
                        _ => Vec::new(),
                    }
                } else {
                    vec![flag.to_owned(), value]
                }
            }
            _ => vec![value],
        }
    }
}

/// Builds the server for `choice` of `server` from `answers`; the error
/// lists every required value that is missing, with its flag.
pub fn build(server: &ServerEntry, choice: Choice, answers: &Answers) -> Result<Built> {
    let mut filler = Filler {
        answers,
        missing: Vec::new(),
        secrets: Vec::new(),
    };
    let transport = match choice {
        Choice::Package(i) => {
            let package = server
                .packages
                .get(i)
                .ok_or_else(|| Error::Usage(format!("{} has no package {i}", server.name)))?;
            build_package(package, &mut filler)?
        }
        Choice::Remote(i) => {
            let remote = server
                .remotes
                .get(i)
                .ok_or_else(|| Error::Usage(format!("{} has no remote {i}", server.name)))?;
            let url = filler.template(&remote.url, &remote.variables);
            let mut headers = BTreeMap::new();
            for header in &remote.headers {
                if let Some(value) = filler.named(FieldKind::Header, header) {
                    headers.insert(header.name.clone(), value);
                }
            }
            // Headers the entry does not list may still be given.
            for (k, v) in &answers.headers {
                headers.entry(k.clone()).or_insert_with(|| v.clone());
            }
            match remote.kind.as_str() {
                "sse" => TransportConfig::Sse { url, headers },
                "streamable-http" | "http" => TransportConfig::Http { url, headers },
                other => {
                    return Err(Error::Catalog(format!("{other} remotes are not supported")));
                }
            }
        }
    };
    if !filler.missing.is_empty() {
        return Err(Error::Usage(format!(
            "{} needs: {}",
            server.name,
            filler.missing.join("; ")
        )));
    }
    Ok(Built {
        transport,
        secret_keys: filler.secrets,
        sandbox: declared_sandbox(server),
    })
}

/// The entry's declared sandbox with `~/` in its paths made the home folder.
fn declared_sandbox(server: &ServerEntry) -> switchboard_sandbox::SandboxConfig {
    let Some(mut sandbox) = server.sandbox.clone() else {
        return switchboard_sandbox::SandboxConfig::default();
    };
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let expand = |paths: &mut Vec<std::path::PathBuf>| {
        for path in paths.iter_mut() {
            if let (Ok(rest), Some(home)) = (path.strip_prefix("~"), home.as_ref()) {
                *path = home.join(rest);
            }
        }
    };
    expand(&mut sandbox.allow_read);
    expand(&mut sandbox.allow_write);
    sandbox
}

fn build_package(package: &Package, filler: &mut Filler<'_>) -> Result<TransportConfig> {
    let runtime = runtime_of(package).map_err(Error::Catalog)?;
    let mut env = BTreeMap::new();
    for variable in &package.environment_variables {
        if let Some(value) = filler.named(FieldKind::Env, variable) {
            env.insert(variable.name.clone(), value);
        }
    }
    for (k, v) in &filler.answers.env {
        env.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let mut runtime_args: Vec<String> = Vec::new();
    for argument in &package.runtime_arguments {
        let words = filler.argument(argument);
        // `-e NAME=value` on a docker command line would show a secret to
        // every user running `ps`: pass it as `-e NAME` plus the environment.
        if runtime == "docker"
            && argument.name.as_deref() == Some("-e")
            && let [flag, assignment] = words.as_slice()
            && let Some((name, value)) = assignment.split_once('=')
        {
            env.insert(name.to_owned(), value.to_owned());
            if argument.input.variables.values().any(|v| v.is_secret) {
                filler.secrets.push(format!("env:{name}"));
            }
            runtime_args.extend([flag.clone(), name.to_owned()]);
            continue;
        }
        runtime_args.extend(words);
    }
    let mut package_args: Vec<String> = Vec::new();
    for argument in &package.package_arguments {
        package_args.extend(filler.argument(argument));
    }
    let version = package
        .version
        .as_deref()
        .filter(|v| !v.is_empty() && *v != "latest");
    let mut args: Vec<String> = Vec::new();
    match runtime.as_str() {
        "docker" => {
            let image = match version {
                Some(v) if !image_has_tag(&package.identifier) => {
                    format!("{}:{v}", package.identifier)
                }
                _ => package.identifier.clone(),
            };
            let image_base = strip_tag(&package.identifier);
            let complete = runtime_args.first().map(String::as_str) == Some("run");
            if !complete {
                args.extend(["run", "-i", "--rm"].map(str::to_owned));
            }
            // The container sees only the variables passed with -e.
            for name in env.keys() {
                let passed = runtime_args
                    .windows(2)
                    .any(|w| w[0] == "-e" && w[1] == *name);
                if !passed {
                    args.extend(["-e".to_owned(), name.clone()]);
                }
            }
            let names_image = runtime_args.iter().any(|a| strip_tag(a) == image_base);
            args.extend(runtime_args);
            if !names_image {
                args.push(image);
            }
        }
        "uvx" => {
            args.extend(runtime_args);
            args.push(match version {
                Some(v) => format!("{}=={v}", package.identifier),
                None => package.identifier.clone(),
            });
        }
        "dnx" => {
            args.extend(runtime_args);
            args.push(match version {
                Some(v) => format!("{}@{v}", package.identifier),
                None => package.identifier.clone(),
            });
            args.push("--yes".into());
        }
        _ => {
            // npx and friends: `-y` keeps npx from asking before it installs.
            if runtime_args.is_empty() && runtime == "npx" {
                args.push("-y".into());
            }
            args.extend(runtime_args);
            args.push(match version {
                Some(v) => format!("{}@{v}", package.identifier),
                None => package.identifier.clone(),
            });
        }
    }
    args.extend(package_args);
    Ok(TransportConfig::Stdio {
        command: runtime,
        args,
        env,
        cwd: None,
    })
}

fn image_has_tag(image: &str) -> bool {
    image.contains('@')
        || image
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
}

fn strip_tag(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    let last = image.rfind('/').map_or(0, |i| i + 1);
    match image[last..].find(':') {
        Some(colon) => &image[..last + colon],
        None => image,
    }
}
