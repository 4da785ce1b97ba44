//! Name mapping on the aggregated endpoint `/mcp`: `server__tool` names,
//! `server+uri` resource URIs and cursors that span servers all split back
//! into what they were made of, and the names import gives servers are
//! names that work there.
//!
//! Input: a server name and a tool name (or URI, or cursor), split at the
//! first NUL byte; the whole input is also read as a name from a client.

use switchboard_clients::import::sanitize_name;
use switchboard_gateway::names::{
    SpanningCursor, qualify, qualify_uri, split_qualified, split_qualified_uri,
};
use switchboard_store::validate_server_name;

pub fn round_trip(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (server, name) = text.split_once('\0').unwrap_or((&text, ""));

    if validate_server_name(server).is_ok() && !name.is_empty() {
        assert_eq!(
            split_qualified(&qualify(server, name)),
            Some((server, name))
        );
        assert_eq!(
            split_qualified_uri(&qualify_uri(server, name)),
            Some((server, name))
        );
    }
    if !server.contains('\n') {
        for upstream in [None, Some(name.to_owned())] {
            let cursor = SpanningCursor {
                server: server.to_owned(),
                upstream,
            };
            assert_eq!(SpanningCursor::decode(&cursor.encode()), Some(cursor));
        }
    }

    // What a client sends splits into parts that make it again.
    if let Some((server, tool)) = split_qualified(&text) {
        assert!(!server.is_empty() && !tool.is_empty());
        assert_eq!(qualify(server, tool), text);
    }
    if let Some((server, uri)) = split_qualified_uri(&text) {
        assert!(!server.contains('+') && !uri.is_empty());
        assert_eq!(qualify_uri(server, uri), text);
    }
    if let Some(cursor) = SpanningCursor::decode(&text) {
        assert_eq!(cursor.encode(), text, "one text per cursor");
    }

    // Import names a server after the client's entry.
    let imported = sanitize_name(&text);
    assert!(
        validate_server_name(&imported).is_ok(),
        "{text:?} is imported as {imported:?}"
    );
    assert_eq!(
        split_qualified(&qualify(&imported, "tool")),
        Some((imported.as_str(), "tool"))
    );
}
