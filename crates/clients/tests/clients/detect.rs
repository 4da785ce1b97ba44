//! Where each client's config is on each OS, and what detection reports.

use std::path::Path;

use switchboard_clients::{ClientKind, FileState, Os, Platform, detect, install::InstallStatus};

use crate::common::Env;

fn rel(platform: &Platform, kind: ClientKind) -> String {
    platform
        .user_config(kind)
        .path
        .strip_prefix(&platform.home)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn config_paths_per_os() {
    let home = Path::new("/h").to_owned();
    let linux = Platform::with_home(Os::Linux, home.clone());
    let mac = Platform::with_home(Os::Macos, home.clone());
    let windows = Platform::with_home(Os::Windows, home);
    let expect = [
        (
            ClientKind::ClaudeDesktop,
            ".config/Claude/claude_desktop_config.json",
            "Library/Application Support/Claude/claude_desktop_config.json",
            "AppData/Roaming/Claude/claude_desktop_config.json",
        ),
        (
            ClientKind::ClaudeCode,
            ".claude.json",
            ".claude.json",
            ".claude.json",
        ),
        (
            ClientKind::Cursor,
            ".cursor/mcp.json",
            ".cursor/mcp.json",
            ".cursor/mcp.json",
        ),
        (
            ClientKind::VsCode,
            ".config/Code/User/mcp.json",
            "Library/Application Support/Code/User/mcp.json",
            "AppData/Roaming/Code/User/mcp.json",
        ),
        (
            ClientKind::Windsurf,
            ".codeium/windsurf/mcp_config.json",
            ".codeium/windsurf/mcp_config.json",
            ".codeium/windsurf/mcp_config.json",
        ),
        (
            ClientKind::Codex,
            ".codex/config.toml",
            ".codex/config.toml",
            ".codex/config.toml",
        ),
        (
            ClientKind::Gemini,
            ".gemini/settings.json",
            ".gemini/settings.json",
            ".gemini/settings.json",
        ),
        (
            ClientKind::Zed,
            ".config/zed/settings.json",
            ".config/zed/settings.json",
            "AppData/Roaming/Zed/settings.json",
        ),
    ];
    for (kind, l, m, w) in expect {
        assert_eq!(rel(&linux, kind), l, "{kind} linux");
        assert_eq!(rel(&mac, kind), m, "{kind} macos");
        assert_eq!(rel(&windows, kind), w, "{kind} windows");
    }
    let project = Path::new("/p");
    let project_path = |kind| {
        Platform::project_config(kind, project).map(|l| {
            l.path
                .strip_prefix(project)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
    };
    assert_eq!(
        project_path(ClientKind::ClaudeCode).as_deref(),
        Some(".mcp.json")
    );
    assert_eq!(
        project_path(ClientKind::VsCode).as_deref(),
        Some(".vscode/mcp.json")
    );
    assert_eq!(
        project_path(ClientKind::Cursor).as_deref(),
        Some(".cursor/mcp.json")
    );
    assert_eq!(project_path(ClientKind::ClaudeDesktop), None);
}

#[test]
fn kinds_parse_by_id_and_alias() {
    for kind in ClientKind::ALL {
        assert_eq!(ClientKind::parse(kind.id()), Some(kind));
        assert_eq!(kind.id().parse::<ClientKind>().unwrap(), kind);
    }
    assert_eq!(ClientKind::parse("VS Code"), Some(ClientKind::VsCode));
    assert_eq!(ClientKind::parse("gemini-cli"), Some(ClientKind::Gemini));
    assert_eq!(ClientKind::parse("claude"), Some(ClientKind::ClaudeDesktop));
    let error = "emacs".parse::<ClientKind>().unwrap_err();
    assert!(
        error.to_string().contains("claude-desktop, claude-code"),
        "{error}"
    );
}

#[tokio::test]
async fn detect_reports_installed_clients_and_their_files() {
    let env = Env::new().await;
    env.write_config(
        ClientKind::Cursor,
        "{\"mcpServers\": {\"a\": {\"command\": \"x\"}, \"b\": {\"nope\": 1}}}",
    );
    env.write_config(ClientKind::ClaudeDesktop, "{ broken");
    std::fs::create_dir_all(env.home.path().join(".gemini")).unwrap();
    let project = env.home.path().join("proj");
    std::fs::create_dir_all(project.join(".vscode")).unwrap();
    std::fs::write(
        project.join(".vscode/mcp.json"),
        "{\"servers\": {\"p\": {\"type\": \"http\", \"url\": \"http://x.test/mcp\"}}}",
    )
    .unwrap();

    let found = detect(&env.platform, env.data.path(), Some(&project));
    let get = |kind| found.iter().find(|d| d.kind == kind).unwrap();
    let cursor = get(ClientKind::Cursor);
    assert!(cursor.installed);
    assert!(matches!(
        &cursor.files[0].state,
        FileState::Ok { servers, unsupported } if servers == &["a", "b"] && unsupported == &["b"]
    ));
    assert_eq!(cursor.switchboard, InstallStatus::NotInstalled);
    assert!(matches!(
        get(ClientKind::ClaudeDesktop).files[0].state,
        FileState::Malformed { .. }
    ));
    let gemini = get(ClientKind::Gemini);
    assert!(gemini.installed);
    assert!(matches!(gemini.files[0].state, FileState::Missing));
    let vscode = get(ClientKind::VsCode);
    assert!(!vscode.installed);
    assert!(matches!(
        &vscode.files[1].state,
        FileState::Ok { servers, .. } if servers == &["p"]
    ));
    assert!(!get(ClientKind::Zed).installed);
}
