//! One client's config file, as import and install read and write it.
//!
//! A file that parses yields entries that import reads (or skips, saying
//! why) under names that work as server names. Installing Switchboard into
//! it gives a file of the same kind that parses, holds Switchboard's entry
//! with its token and every other entry as it was, and that installing into
//! again leaves as it is (how install tells it is done already); removing
//! the entry again, or restoring one from the original, keeps the rest too.

use std::{collections::HashMap, path::Path};

use switchboard_clients::{
    ClientKind, Connection, Document, ENTRY_NAME, RawEntry, entry_token,
    import::{self, Origin, Resolver},
    install, parse_entry,
};
use switchboard_store::validate_server_name;

const TOKEN: &str = "sbc_fuzz0123456789abcdefghijklmnopqrstuv";

pub fn round_trip(kind: ClientKind, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("config");
    let Ok(original) = Document::parse(kind, path, text) else {
        return;
    };
    let entries = original.entries();
    import_entries(kind, &entries);
    // A repeated key: clients take its last value, Switchboard its first,
    // so of such a file only that it can be installed into is checked.
    let repeated = entries.iter().enumerate().any(|(i, e)| {
        entries[..i]
            .iter()
            .any(|o| o.section == e.section && o.name == e.name)
    });

    let connection = if kind.supports_http() && data.len().is_multiple_of(2) {
        Connection::Http {
            url: "http://127.0.0.1:8931/mcp".into(),
            token: TOKEN.into(),
        }
    } else {
        Connection::Stdio {
            program: "/usr/local/bin/switchboard".into(),
            args: vec!["connect".into()],
            token: TOKEN.into(),
        }
    };
    let top_level: Vec<String> = entries
        .iter()
        .filter(|e| e.section.is_empty() && e.name != ENTRY_NAME)
        .map(|e| e.name.clone())
        .collect();
    // Installing as it is, and installing after importing every entry
    // (they are then replaced by Switchboard's).
    for removed in [Vec::new(), top_level] {
        let installed = install::render(kind, path, text, &removed, &connection)
            .expect("a file that parses can be installed into");
        let doc = reparse(kind, &installed, "installed");
        if repeated {
            continue;
        }
        assert_eq!(
            doc.entry(ENTRY_NAME)
                .and_then(|v| entry_token(&v))
                .as_deref(),
            Some(TOKEN),
            "Switchboard's entry and token:\n{installed}"
        );
        let kept: Vec<RawEntry> = others(&entries)
            .into_iter()
            .filter(|e| !(e.section.is_empty() && removed.contains(&e.name)))
            .collect();
        assert_eq!(others(&doc.entries()), kept, "installed:\n{installed}");
        let again = install::render(kind, path, &installed, &[], &connection)
            .expect("an installed file can be installed into");
        assert_eq!(again, installed, "installing twice changes the file again");

        let mut doc = doc;
        doc.remove_entry(ENTRY_NAME);
        let uninstalled = doc.render();
        let back = reparse(kind, &uninstalled, "uninstalled");
        assert_eq!(others(&back.entries()), kept, "uninstalled:\n{uninstalled}");

        // Uninstall puts back the entries install removed, from the backup.
        let mut restored = back;
        for name in &removed {
            assert!(restored.copy_entry_from(&original, name));
        }
        let restored_text = restored.render();
        let restored = reparse(kind, &restored_text, "restored");
        for name in &removed {
            assert_eq!(
                restored.entry(name),
                original.entry(name),
                "restored {name:?}:\n{restored_text}"
            );
        }
    }
}

fn reparse(kind: ClientKind, text: &str, what: &str) -> Document {
    Document::parse(kind, Path::new("config"), text)
        .unwrap_or_else(|e| panic!("the {what} file does not parse: {e}\n{text}"))
}

/// Every entry but Switchboard's own.
fn others(entries: &[RawEntry]) -> Vec<RawEntry> {
    entries
        .iter()
        .filter(|e| !(e.section.is_empty() && e.name == ENTRY_NAME))
        .cloned()
        .collect()
}

fn import_entries(kind: ClientKind, entries: &[RawEntry]) {
    let home = Path::new("/home/user");
    let resolver = Resolver::new(
        HashMap::from([
            ("HOME".to_owned(), "/home/user".to_owned()),
            (
                "API_KEY".to_owned(),
                "sk-fuzz-0123456789abcdefghij".to_owned(),
            ),
        ]),
        home,
    );
    for raw in entries {
        let name = import::sanitize_name(&raw.name);
        assert!(
            validate_server_name(&name).is_ok(),
            "{:?} -> {name:?}",
            raw.name
        );
        if let Ok(parsed) = parse_entry(kind, &raw.value) {
            let origin = Origin {
                client: kind,
                path: "config".into(),
                section: raw.section.clone(),
                entry: raw.name.clone(),
            };
            let candidate = import::candidate(origin, parsed, &resolver);
            import::secret_values(&candidate.transport);
        }
    }
}
