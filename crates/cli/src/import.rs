//! Reading servers from other clients' MCP config files: Claude Desktop
//! (`{"mcpServers": {...}}`) and VS Code (`{"servers": {...}}`).

use std::{collections::BTreeMap, path::Path};

use serde::Deserialize;
use switchboard_store::{ServerRecord, TransportConfig};

use crate::error::CliError;

#[derive(Debug, Deserialize)]
struct ConfigFile {
    #[serde(default, rename = "mcpServers")]
    mcp_servers: Option<BTreeMap<String, Entry>>,
    #[serde(default)]
    servers: Option<BTreeMap<String, Entry>>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<String>,
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// The servers described by `path`.
pub fn read_config(path: &Path) -> Result<Vec<ServerRecord>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text).map_err(|message| CliError::Import {
        path: path.to_owned(),
        message,
    })
}

fn parse(text: &str) -> Result<Vec<ServerRecord>, String> {
    let file: ConfigFile =
        serde_json::from_str(text).map_err(|e| format!("not a valid MCP config: {e}"))?;
    let entries = file
        .mcp_servers
        .or(file.servers)
        .ok_or("no \"mcpServers\" (Claude Desktop) or \"servers\" (VS Code) object")?;
    entries
        .into_iter()
        .map(|(name, entry)| {
            let transport = transport(&name, entry)?;
            Ok(ServerRecord::new(sanitize(&name), transport))
        })
        .collect()
}

fn transport(name: &str, entry: Entry) -> Result<TransportConfig, String> {
    match (entry.command, entry.url) {
        (Some(command), _) => Ok(TransportConfig::Stdio {
            command,
            args: entry.args,
            env: entry.env,
            cwd: entry.cwd,
        }),
        (None, Some(url)) => Ok(match entry.kind.as_deref() {
            Some("sse") => TransportConfig::Sse {
                url,
                headers: entry.headers,
            },
            _ => TransportConfig::Http {
                url,
                headers: entry.headers,
            },
        }),
        (None, None) => Err(format!(
            "server \"{name}\" has neither \"command\" nor \"url\""
        )),
    }
}

/// Server names must be usable in `NAME__tool`: other characters become `-`.
fn sanitize(name: &str) -> String {
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
    let out = out.trim_matches(|c| c == '-' || c == '_').to_owned();
    if out.is_empty() {
        "server".into()
    } else {
        out.chars().take(64).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_claude_desktop_config() {
        let text = r#"{"mcpServers": {
            "everything": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"], "env": {"A": "1"}},
            "remote": {"url": "https://mcp.example.test/mcp", "headers": {"X-Team": "core"}}
        }, "globalShortcut": "Ctrl+Space"}"#;
        let servers = parse(text).unwrap();
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].name, "everything");
        assert!(
            matches!(&servers[0].transport, TransportConfig::Stdio { command, args, env, .. }
            if command == "npx" && args.len() == 2 && env["A"] == "1")
        );
        assert!(
            matches!(&servers[1].transport, TransportConfig::Http { url, headers }
            if url.ends_with("/mcp") && headers["X-Team"] == "core")
        );
    }

    #[test]
    fn reads_vs_code_config() {
        let text = r#"{"servers": {
            "legacy": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
            "My Server": {"type": "stdio", "command": "uvx", "args": ["mcp-server-git"]}
        }, "inputs": []}"#;
        let servers = parse(text).unwrap();
        assert_eq!(servers[0].name, "My-Server");
        assert!(matches!(servers[1].transport, TransportConfig::Sse { .. }));
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert!(parse("{").unwrap_err().contains("not a valid MCP config"));
        assert!(parse("{}").unwrap_err().contains("no \"mcpServers\""));
        assert!(
            parse(r#"{"servers": {"x": {}}}"#)
                .unwrap_err()
                .contains("neither")
        );
    }

    #[test]
    fn sanitizes_names() {
        assert_eq!(sanitize("a__b"), "a_b");
        assert_eq!(sanitize("github.com/x"), "github-com-x");
        assert_eq!(sanitize("!!!"), "server");
    }
}
