//! Namespacing for the aggregated endpoint: `server__tool` names, `server+uri`
//! resource URIs and list cursors that span servers.
//!
//! Server names never contain `__` or `+` and never end with `_` (the store
//! validates them), so the first separator in a name always ends the server
//! part and every mapping here is reversible.

use base64::Engine as _;

/// Joins a server name and an upstream name (tool or prompt).
pub const NAME_SEPARATOR: &str = "__";
/// Joins a server name and an upstream resource URI or URI template.
pub const URI_SEPARATOR: char = '+';

/// `server__name`.
pub fn qualify(server: &str, name: &str) -> String {
    format!("{server}{NAME_SEPARATOR}{name}")
}

/// Splits `server__name` into `(server, name)`.
pub fn split_qualified(name: &str) -> Option<(&str, &str)> {
    let (server, rest) = name.split_once(NAME_SEPARATOR)?;
    (!server.is_empty() && !rest.is_empty()).then_some((server, rest))
}

/// `server+uri`.
pub fn qualify_uri(server: &str, uri: &str) -> String {
    format!("{server}{URI_SEPARATOR}{uri}")
}

/// Splits `server+uri` into `(server, uri)`.
pub fn split_qualified_uri(uri: &str) -> Option<(&str, &str)> {
    let (server, rest) = uri.split_once(URI_SEPARATOR)?;
    (!server.is_empty()
        && !rest.is_empty()
        && server
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    .then_some((server, rest))
}

/// Position in a listing that walks the servers in name order, each with its
/// own upstream cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanningCursor {
    /// The server whose page comes next.
    pub server: String,
    /// That server's own cursor (None: its first page).
    pub upstream: Option<String>,
}

impl SpanningCursor {
    /// Opaque text form handed to clients.
    pub fn encode(&self) -> String {
        let raw = match &self.upstream {
            Some(cursor) => format!("{}\n{}", self.server, cursor),
            None => self.server.clone(),
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// Parses a cursor made by [`SpanningCursor::encode`].
    pub fn decode(text: &str) -> Option<Self> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        Some(match raw.split_once('\n') {
            Some((server, upstream)) => Self {
                server: server.to_owned(),
                upstream: Some(upstream.to_owned()),
            },
            None => Self {
                server: raw,
                upstream: None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let q = qualify("github", "create_issue");
        assert_eq!(q, "github__create_issue");
        assert_eq!(split_qualified(&q), Some(("github", "create_issue")));
        // A tool whose own name contains the separator keeps it.
        assert_eq!(split_qualified("fs__read__all"), Some(("fs", "read__all")));
        assert_eq!(split_qualified("plain"), None);
        assert_eq!(split_qualified("__x"), None);
        // A tool's own leading underscore stays with the tool.
        assert_eq!(split_qualified("fs___hidden"), Some(("fs", "_hidden")));
    }

    #[test]
    fn uris_round_trip() {
        for uri in [
            "demo://resource/1",
            "file:///tmp/a+b",
            "https://x.test/{id}",
        ] {
            let q = qualify_uri("ev", uri);
            assert_eq!(split_qualified_uri(&q), Some(("ev", uri)));
        }
        assert_eq!(split_qualified_uri("file:///no-prefix"), None);
        assert_eq!(split_qualified_uri("a b+c"), None);
    }

    #[test]
    fn cursors_round_trip() {
        for c in [
            SpanningCursor {
                server: "a".into(),
                upstream: None,
            },
            SpanningCursor {
                server: "b-2".into(),
                upstream: Some("opaque\nwith newline".into()),
            },
        ] {
            assert_eq!(SpanningCursor::decode(&c.encode()), Some(c));
        }
        assert_eq!(SpanningCursor::decode("%%%"), None);
    }
}
