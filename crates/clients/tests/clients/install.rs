//! Install and uninstall beyond the golden round trips: malformed files,
//! later edits, tokens, options, duplicates across clients, secrets.

use std::collections::HashMap;

use switchboard_auth::SecretStore;
use switchboard_clients::{
    ClientKind, ENTRY_NAME, Error, LoadedFile,
    import::{self, Action, Resolver},
    install::{self, Restored, TokenAction},
};
use switchboard_store::TransportConfig;

use crate::common::Env;

async fn install(env: &Env, request: &install::InstallRequest) -> install::InstallOutcome {
    let plan = install::plan_install(
        &env.store,
        Some(&env.secrets),
        &env.platform,
        env.data.path(),
        request,
        &env.resolver(),
    )
    .await
    .unwrap();
    install::apply_install(
        &env.store,
        Some(&env.secrets),
        env.data.path(),
        request,
        plan,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn malformed_files_are_reported_and_left_untouched() {
    let cases = [
        // Claude Desktop parses with JSON.parse: a comment breaks it.
        (
            ClientKind::ClaudeDesktop,
            "{\n  // note\n  \"mcpServers\": {}\n}\n",
        ),
        (ClientKind::VsCode, "{ \"servers\": { \"a\": "),
        (ClientKind::Codex, "[mcp_servers.x\ncommand = 1\n"),
        (ClientKind::Cursor, "[1, 2]\n"),
        (
            ClientKind::ClaudeCode,
            "{\"mcpServers\": [\"not\", \"an object\"]}\n",
        ),
        (ClientKind::Windsurf, "{\"mcpServers\": {},}\n"),
    ];
    for (kind, text) in cases {
        let env = Env::new().await;
        let path = env.write_config(kind, text);
        let scan = import::scan(&env.platform, &[kind], None);
        assert_eq!(scan.problems.len(), 1, "{kind}: {:?}", scan.problems);
        assert!(scan.found.is_empty());
        let error = install::plan_install(
            &env.store,
            Some(&env.secrets),
            &env.platform,
            env.data.path(),
            &env.request(kind),
            &env.resolver(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(error, Error::Malformed { .. } | Error::Shape { .. }),
            "{kind}: {error}"
        );
        assert!(error.to_string().contains("left untouched"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "{kind}");
        let siblings = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(siblings, 1, "{kind}: no backup or temp file is left behind");
        assert!(
            install::read_state(env.data.path(), kind)
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn uninstall_after_later_edits_keeps_them_and_restores_our_removals() {
    let env = Env::new().await;
    let original = "{\n  \"mcpServers\": {\n    \"fetch\": {\"command\": \"uvx\", \"args\": [\"mcp-server-fetch\"]}\n  },\n  \"theme\": \"dark\"\n}\n";
    let path = env.write_config(ClientKind::Cursor, original);
    install(&env, &env.request(ClientKind::Cursor)).await;
    // The user adds a server and changes a setting after install.
    let mut doc = LoadedFile::load(ClientKind::Cursor, &path).unwrap().doc;
    let extra = switchboard_clients::switchboard_entry(
        ClientKind::Cursor,
        &switchboard_clients::Connection::Http {
            url: "https://example.test/mcp".into(),
            token: "x".into(),
        },
    );
    doc.set_entry("later", &extra);
    let edited = doc.render().replace("\"dark\"", "\"light\"");
    std::fs::write(&path, &edited).unwrap();

    let out = install::uninstall(
        &env.store,
        &env.platform,
        env.data.path(),
        ClientKind::Cursor,
    )
    .await
    .unwrap();
    assert_eq!(
        out.restored,
        Restored::Merged {
            restored_entries: vec!["fetch".into()]
        }
    );
    let file = LoadedFile::load(ClientKind::Cursor, &path).unwrap();
    assert!(file.doc.entry(ENTRY_NAME).is_none());
    assert!(file.doc.entry("later").is_some());
    assert!(file.doc.entry("fetch").is_some());
    assert!(file.doc.render().contains("\"light\""));
}

#[tokio::test]
async fn tokens_are_reused_or_rotated_and_profiles_survive() {
    let env = Env::new().await;
    env.write_config(ClientKind::Gemini, "{}\n");
    // A client of that name made by hand: its token is unknown to install.
    env.store
        .add_client("gemini", "0".repeat(64).as_str())
        .await
        .unwrap();
    env.store.add_profile("work", None).await.unwrap();
    env.store
        .assign_profile("gemini", Some("work"))
        .await
        .unwrap();

    let request = env.request(ClientKind::Gemini);
    let plan = install::plan_install(
        &env.store,
        Some(&env.secrets),
        &env.platform,
        env.data.path(),
        &request,
        &env.resolver(),
    )
    .await
    .unwrap();
    assert_eq!(plan.token, TokenAction::Rotate);
    install::apply_install(
        &env.store,
        Some(&env.secrets),
        env.data.path(),
        &request,
        plan,
    )
    .await
    .unwrap();
    let clients = env.store.list_clients().await.unwrap();
    assert_eq!(clients.len(), 1);
    assert_eq!(clients[0].profile.as_deref(), Some("work"));
    let token = install::installed_token(&env.platform, ClientKind::Gemini)
        .unwrap()
        .unwrap();
    assert!(
        env.store
            .client_by_token_hash(&switchboard_auth::hash_token(&token))
            .await
            .unwrap()
            .is_some()
    );

    // Removing the server entry by hand, then installing again, reuses nothing
    // stale: the token in the file is still valid, so it is kept.
    let again = install::plan_install(
        &env.store,
        Some(&env.secrets),
        &env.platform,
        env.data.path(),
        &request,
        &env.resolver(),
    )
    .await
    .unwrap();
    assert_eq!(again.token, TokenAction::Reuse);
    assert!(again.already_installed);
}

#[tokio::test]
async fn keep_servers_and_stdio_options() {
    let env = Env::new().await;
    let path = env.write_config(
        ClientKind::VsCode,
        "{\n\t\"servers\": {\n\t\t\"fetch\": {\"type\": \"stdio\", \"command\": \"uvx\", \"args\": [\"mcp-server-fetch\"]}\n\t}\n}\n",
    );
    let mut request = env.request(ClientKind::VsCode);
    request.keep_servers = true;
    request.stdio = true;
    let outcome = install(&env, &request).await;
    assert_eq!(outcome.applied.added, vec!["fetch".to_owned()]);
    let doc = LoadedFile::load(ClientKind::VsCode, &path).unwrap().doc;
    assert!(doc.entry("fetch").is_some(), "kept");
    let ours = doc.entry(ENTRY_NAME).unwrap();
    assert_eq!(ours["type"], "stdio");
    assert_eq!(ours["command"], "/opt/switchboard/bin/switchboard");
    assert_eq!(ours["args"][0], "connect");
    assert!(
        ours["env"]["SWITCHBOARD_TOKEN"]
            .as_str()
            .unwrap()
            .starts_with("sbt_")
    );
}

#[tokio::test]
async fn a_client_that_is_not_installed_needs_force_and_uninstall_deletes_the_new_file() {
    let env = Env::new().await;
    let request = env.request(ClientKind::Windsurf);
    let error = install::plan_install(
        &env.store,
        Some(&env.secrets),
        &env.platform,
        env.data.path(),
        &request,
        &env.resolver(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::NotInstalled(_)), "{error}");

    let mut forced = request.clone();
    forced.force = true;
    let outcome = install(&env, &forced).await;
    assert!(outcome.backup.is_none());
    let path = env.config_path(ClientKind::Windsurf);
    let doc = LoadedFile::load(ClientKind::Windsurf, &path).unwrap().doc;
    assert_eq!(
        doc.entry(ENTRY_NAME).unwrap()["serverUrl"],
        "http://127.0.0.1:7331/mcp"
    );
    let out = install::uninstall(
        &env.store,
        &env.platform,
        env.data.path(),
        ClientKind::Windsurf,
    )
    .await
    .unwrap();
    assert_eq!(out.restored, Restored::Deleted);
    assert!(!path.exists());
}

#[tokio::test]
async fn duplicates_across_clients_are_merged_and_name_clashes_renamed() {
    let env = Env::new().await;
    env.write_config(
        ClientKind::ClaudeDesktop,
        r#"{"mcpServers": {
            "memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]},
            "search": {"command": "npx", "args": ["-y", "@brave/brave-search-mcp-server"], "env": {"BRAVE_API_KEY": "bsa_fixture"}}
        }}"#,
    );
    env.write_config(
        ClientKind::Cursor,
        r#"{"mcpServers": {
            "mem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]},
            "brave": {"command": "npx", "args": ["-y", "@brave/brave-search-mcp-server"], "env": {"BRAVE_API_KEY": "bsa_fixture"}},
            "search": {"url": "https://search.example.test/mcp"}
        }}"#,
    );
    let kinds = [ClientKind::ClaudeDesktop, ClientKind::Cursor];
    let scan = import::scan(&env.platform, &kinds, None);
    let plan = import::plan(&env.store, Some(&env.secrets), scan, &env.resolver())
        .await
        .unwrap();
    let actions: Vec<(String, Action)> = plan
        .servers
        .iter()
        .map(|p| (p.candidate.origin.to_string(), p.action.clone()))
        .collect();
    assert_eq!(
        actions,
        vec![
            (
                "claude-desktop \"memory\"".into(),
                Action::Add {
                    name: "memory".into(),
                    renamed: false
                }
            ),
            (
                "claude-desktop \"search\"".into(),
                Action::Add {
                    name: "search".into(),
                    renamed: false
                }
            ),
            (
                "cursor \"mem\"".into(),
                Action::Merge {
                    into: "memory".into()
                }
            ),
            (
                "cursor \"brave\"".into(),
                Action::Merge {
                    into: "search".into()
                }
            ),
            (
                "cursor \"search\"".into(),
                Action::Add {
                    name: "search-cursor".into(),
                    renamed: true
                }
            ),
        ]
    );
    import::apply(&env.store, Some(&env.secrets), &plan)
        .await
        .unwrap();

    // A second import finds everything already there, secrets included
    // (compared through the keyring).
    let scan = import::scan(&env.platform, &kinds, None);
    let again = import::plan(&env.store, Some(&env.secrets), scan, &env.resolver())
        .await
        .unwrap();
    assert_eq!(again.added(), 0, "{:?}", again.servers);
    assert!(!crate::common::database_contains(
        env.data.path(),
        "bsa_fixture"
    ));
}

#[tokio::test]
async fn nothing_is_added_when_secrets_cannot_be_stored() {
    let env = Env::new().await;
    env.write_config(
        ClientKind::ClaudeDesktop,
        r#"{"mcpServers": {
            "plain": {"command": "uvx", "args": ["mcp-server-time"]},
            "keyed": {"command": "npx", "args": ["x"], "env": {"API_KEY": "k"}}
        }}"#,
    );
    let broken = env.data.path().join("broken-secrets.json");
    std::fs::write(&broken, "{not json").unwrap();
    let secrets = SecretStore::file(&broken);
    let scan = import::scan(&env.platform, &[ClientKind::ClaudeDesktop], None);
    let plan = import::plan(&env.store, Some(&secrets), scan, &env.resolver())
        .await
        .unwrap();
    let error = import::apply(&env.store, Some(&secrets), &plan)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Secret(_)), "{error}");
    assert!(env.store.list_servers().await.unwrap().is_empty());
}

#[test]
fn references_are_expanded_where_they_can_be() {
    let resolver = Resolver::new(
        HashMap::from([("TOKEN".to_owned(), "t0k".to_owned())]),
        std::path::Path::new("/home/u"),
    );
    assert_eq!(resolver.expand("${env:TOKEN}"), ("t0k".into(), vec![]));
    assert_eq!(
        resolver.expand("Bearer ${TOKEN}"),
        ("Bearer t0k".into(), vec![])
    );
    assert_eq!(resolver.expand("${MISSING:-dflt}"), ("dflt".into(), vec![]));
    assert_eq!(
        resolver.expand("${userHome}/x"),
        ("/home/u/x".into(), vec![])
    );
    assert_eq!(
        resolver.expand("${input:key} and ${workspaceFolder}"),
        (
            "${input:key} and ${workspaceFolder}".into(),
            vec!["${input:key}".into(), "${workspaceFolder}".into()]
        )
    );
    assert_eq!(
        resolver.expand("$NOT_A_REF {x}"),
        ("$NOT_A_REF {x}".into(), vec![])
    );
}

#[test]
fn a_restored_entry_keeps_its_numbers_as_written() {
    use switchboard_clients::{ClientKind, Document};
    let path = std::path::Path::new("mcp.json");
    let original = r#"{"mcpServers": {"a": {"command": "x", "args": [8888888888000000000000000001, 2.2222222222222224e+97]}}}"#;
    let original = Document::parse(ClientKind::Cursor, path, original).unwrap();
    let mut restored = Document::parse(ClientKind::Cursor, path, "").unwrap();
    assert!(restored.copy_entry_from(&original, "a"));
    let text = restored.render();
    assert!(
        text.contains("8888888888000000000000000001") && text.contains("2.2222222222222224e+97"),
        "{text}"
    );
}

#[test]
fn installing_again_leaves_the_file_as_it_is() {
    use switchboard_clients::{ClientKind, Connection, install};
    let path = std::path::Path::new("config");
    let connection = Connection::Http {
        url: "http://127.0.0.1:8931/mcp".into(),
        token: "sbc_test".into(),
    };
    for (kind, text) in [
        (ClientKind::Codex, ""),
        (ClientKind::VsCode, "{\n\t// servers below\n}\n"),
    ] {
        let once = install::render(kind, path, text, &[], &connection).unwrap();
        let twice = install::render(kind, path, &once, &[], &connection).unwrap();
        assert_eq!(twice, once, "{kind}");
    }
}

#[test]
fn names_are_made_usable() {
    use switchboard_clients::import::sanitize_name;
    assert_eq!(sanitize_name("github.com/x"), "github-com-x");
    assert_eq!(sanitize_name("a__b"), "a_b");
    assert_eq!(sanitize_name("My Server"), "My-Server");
    assert_eq!(sanitize_name("!!!"), "server");
    // Cut to 48 characters without ending on '_' (`NAME__tool` must split back).
    let long = format!("{}_b", "a".repeat(47));
    assert_eq!(sanitize_name(&long), "a".repeat(47));
}

#[test]
fn secret_values_follow_names() {
    let transport = TransportConfig::Stdio {
        command: "x".into(),
        args: vec![],
        env: [("API_KEY", "k"), ("DEBUG", "1"), ("EMPTY_TOKEN", "")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        cwd: None,
    };
    assert_eq!(
        import::secret_values(&transport),
        vec![("env:API_KEY".to_owned(), "k".to_owned())]
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_token_file_is_private_and_uninstall_restores_its_mode() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::new().await;
    let path = env.write_config(ClientKind::ClaudeCode, "{}\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::create_dir_all(env.home.path().join(".claude")).unwrap();
    install(&env, &env.request(ClientKind::ClaudeCode)).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    install::uninstall(
        &env.store,
        &env.platform,
        env.data.path(),
        ClientKind::ClaudeCode,
    )
    .await
    .unwrap();
    assert_eq!(mode(&path), 0o644);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}\n");
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlinked_config_stays_a_symlink() {
    let env = Env::new().await;
    let real = env.home.path().join("dotfiles").join("mcp.json");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::write(&real, "{\"mcpServers\": {}}\n").unwrap();
    let link = env.config_path(ClientKind::Cursor);
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    install(&env, &env.request(ClientKind::Cursor)).await;
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(std::fs::read_to_string(&real).unwrap().contains(ENTRY_NAME));
    install::uninstall(
        &env.store,
        &env.platform,
        env.data.path(),
        ClientKind::Cursor,
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        "{\"mcpServers\": {}}\n"
    );
}

#[test]
fn timestamps_are_utc() {
    assert_eq!(install::timestamp(0), "19700101T000000Z");
    assert_eq!(install::timestamp(1_795_000_000), "20261118T110640Z");
    assert_eq!(install::timestamp(951_782_400), "20000229T000000Z");
}
