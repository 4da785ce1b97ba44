//! One server entry in each client's dialect, to and from a neutral form.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::ClientKind;

/// A value we write into a config, with its keys in the order we want them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigValue {
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// An array.
    Array(Vec<ConfigValue>),
    /// An object (a table in TOML), in this order.
    Object(Vec<(String, ConfigValue)>),
}

impl ConfigValue {
    fn string(s: impl Into<String>) -> Self {
        ConfigValue::Str(s.into())
    }

    /// The value as JSON (TOML tables as objects).
    pub(crate) fn to_json(&self) -> Value {
        match self {
            ConfigValue::Str(s) => Value::String(s.clone()),
            ConfigValue::Bool(b) => Value::Bool(*b),
            ConfigValue::Array(items) => Value::Array(items.iter().map(Self::to_json).collect()),
            ConfigValue::Object(props) => Value::Object(
                props
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    fn map(map: &BTreeMap<String, String>) -> Self {
        ConfigValue::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), ConfigValue::string(v)))
                .collect(),
        )
    }
}

/// How a client reaches one server, in neutral form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Spec {
    /// A program speaking MCP on stdin/stdout.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Extra environment (values may hold `${env:NAME}`-style references).
        env: BTreeMap<String, String>,
        /// Working directory.
        #[serde(skip_serializing_if = "Option::is_none")]
        cwd: Option<String>,
    },
    /// A streamable-HTTP endpoint.
    Http {
        /// The URL.
        url: String,
        /// Request headers.
        headers: BTreeMap<String, String>,
    },
    /// A legacy HTTP+SSE endpoint.
    Sse {
        /// The URL.
        url: String,
        /// Request headers.
        headers: BTreeMap<String, String>,
    },
}

/// A client's entry, understood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedEntry {
    /// How to reach the server.
    pub spec: Spec,
    /// False when the client has the entry switched off.
    pub enabled: bool,
    /// Keys of the entry Switchboard does not carry over (client-specific options).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
}

/// Keys every client may use that we understand.
const COMMON_KEYS: &[&str] = &[
    "command", "args", "env", "cwd", "url", "headers", "type", "disabled", "enabled",
];

fn extra_keys(kind: ClientKind) -> &'static [&'static str] {
    match kind {
        ClientKind::Windsurf => &["serverUrl"],
        ClientKind::Gemini => &["httpUrl"],
        ClientKind::Codex => &[
            "http_headers",
            "env_http_headers",
            "bearer_token_env_var",
            "env_vars",
        ],
        ClientKind::Zed => &["source", "settings"],
        _ => &[],
    }
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    let Some(Value::Object(map)) = value else {
        return BTreeMap::new();
    };
    map.iter()
        .filter_map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => return None,
                other => other.to_string(),
            };
            Some((k.clone(), text))
        })
        .collect()
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn str_of<'a>(object: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a str> {
    object
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Reads one entry of `kind`'s config; the error says why it cannot be used.
pub fn parse_entry(kind: ClientKind, value: &Value) -> Result<ParsedEntry, String> {
    let Value::Object(object) = value else {
        return Err("not an object".into());
    };
    let enabled = object.get("disabled").and_then(Value::as_bool) != Some(true)
        && object.get("enabled").and_then(Value::as_bool) != Some(false);
    let ignored: Vec<String> = object
        .keys()
        .filter(|k| !COMMON_KEYS.contains(&k.as_str()) && !extra_keys(kind).contains(&k.as_str()))
        .cloned()
        .collect();
    if kind == ClientKind::Zed && str_of(object, "source") == Some("extension") {
        return Err("provided by a Zed extension (configure it in Zed)".into());
    }
    let kind_type = str_of(object, "type").map(str::to_ascii_lowercase);

    // Zed's older form nests the command: {"command": {"path", "args", "env"}}.
    if let Some(Value::Object(nested)) = object.get("command") {
        let command = str_of(nested, "path")
            .ok_or("\"command\" has no \"path\"")?
            .to_owned();
        return Ok(ParsedEntry {
            spec: Spec::Stdio {
                command,
                args: string_list(nested.get("args")),
                env: string_map(nested.get("env")),
                cwd: None,
            },
            enabled,
            ignored,
        });
    }

    if let Some(command) = str_of(object, "command") {
        let mut env = string_map(object.get("env"));
        if kind == ClientKind::Codex {
            // `env_vars` forwards variables of Codex's own environment.
            for name in string_list(object.get("env_vars")) {
                env.entry(name.clone())
                    .or_insert_with(|| format!("${{env:{name}}}"));
            }
        }
        return Ok(ParsedEntry {
            spec: Spec::Stdio {
                command: command.to_owned(),
                args: string_list(object.get("args")),
                env,
                cwd: str_of(object, "cwd").map(str::to_owned),
            },
            enabled,
            ignored,
        });
    }

    let (url, default_sse) = match kind {
        ClientKind::Windsurf => (
            str_of(object, "serverUrl").or_else(|| str_of(object, "url")),
            false,
        ),
        // Gemini: `httpUrl` is streamable HTTP, `url` is SSE.
        ClientKind::Gemini => match str_of(object, "httpUrl") {
            Some(url) => (Some(url), false),
            None => (str_of(object, "url"), true),
        },
        _ => (str_of(object, "url"), false),
    };
    let Some(url) = url else {
        return Err("has neither a command nor a URL".into());
    };
    let mut headers = string_map(object.get("headers"));
    if kind == ClientKind::Codex {
        headers.extend(string_map(object.get("http_headers")));
        for (header, var) in string_map(object.get("env_http_headers")) {
            headers.insert(header, format!("${{env:{var}}}"));
        }
        if let Some(var) = str_of(object, "bearer_token_env_var") {
            headers.insert("Authorization".into(), format!("Bearer ${{env:{var}}}"));
        }
    }
    let sse = match kind_type.as_deref() {
        Some("sse") => true,
        Some("http" | "streamable-http" | "streamablehttp" | "streamable_http") => false,
        _ => default_sse || url_looks_sse(url),
    };
    let url = url.to_owned();
    Ok(ParsedEntry {
        spec: if sse {
            Spec::Sse { url, headers }
        } else {
            Spec::Http { url, headers }
        },
        enabled,
        ignored,
    })
}

fn url_looks_sse(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| u.path().trim_end_matches('/').ends_with("/sse"))
}

/// How a client reaches Switchboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// Streamable HTTP to the gateway with a bearer token.
    Http {
        /// The gateway's MCP URL.
        url: String,
        /// The client's token.
        token: String,
    },
    /// `switchboard connect`, launched by the client, token in its environment.
    Stdio {
        /// The program (an absolute path, since clients have their own PATH).
        program: String,
        /// Its arguments, ending with `connect`.
        args: Vec<String>,
        /// The client's token.
        token: String,
    },
}

impl Connection {
    /// The client token it carries.
    pub fn token(&self) -> &str {
        match self {
            Connection::Http { token, .. } | Connection::Stdio { token, .. } => token,
        }
    }
}

/// The entry `kind` needs to reach Switchboard over `connection`.
pub fn switchboard_entry(kind: ClientKind, connection: &Connection) -> ConfigValue {
    let s = ConfigValue::string;
    let mut props: Vec<(String, ConfigValue)> = Vec::new();
    match connection {
        Connection::Http { url, token } => {
            let auth = BTreeMap::from([("Authorization".to_owned(), format!("Bearer {token}"))]);
            match kind {
                ClientKind::ClaudeCode | ClientKind::VsCode => {
                    props.push(("type".into(), s("http")));
                    props.push(("url".into(), s(url)));
                }
                ClientKind::Windsurf => props.push(("serverUrl".into(), s(url))),
                ClientKind::Gemini => props.push(("httpUrl".into(), s(url))),
                _ => props.push(("url".into(), s(url))),
            }
            let key = if kind == ClientKind::Codex {
                "http_headers"
            } else {
                "headers"
            };
            props.push((key.into(), ConfigValue::map(&auth)));
        }
        Connection::Stdio {
            program,
            args,
            token,
        } => {
            if matches!(kind, ClientKind::ClaudeCode | ClientKind::VsCode) {
                props.push(("type".into(), s("stdio")));
            }
            props.push(("command".into(), s(program)));
            props.push((
                "args".into(),
                ConfigValue::Array(args.iter().map(|a| s(a.as_str())).collect()),
            ));
            let env = BTreeMap::from([(crate::TOKEN_ENV.to_owned(), token.clone())]);
            props.push(("env".into(), ConfigValue::map(&env)));
        }
    }
    ConfigValue::Object(props)
}

/// The client token inside an entry Switchboard wrote, if it has one.
pub fn entry_token(value: &Value) -> Option<String> {
    let object = value.as_object()?;
    for key in ["headers", "http_headers"] {
        if let Some(auth) = object
            .get(key)
            .and_then(Value::as_object)
            .and_then(|h| {
                h.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            })
            .and_then(|(_, v)| v.as_str())
            && let Some(token) = auth.strip_prefix("Bearer ")
        {
            return Some(token.trim().to_owned());
        }
    }
    let env = match object.get("command") {
        Some(Value::Object(nested)) => nested.get("env"),
        _ => object.get("env"),
    };
    env?.get(crate::TOKEN_ENV)?.as_str().map(str::to_owned)
}
