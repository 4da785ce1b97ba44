//! Per client: a real-shaped config (comments, unknown keys, other servers)
//! is imported and installed; the results are compared with golden files;
//! uninstall gives back the very same bytes.

use serde_json::json;
use switchboard_clients::{
    ClientKind, import,
    install::{self, Restored},
};

use crate::common::{Env, database_contains, ext, golden, golden_dir};

/// Secrets in the fixtures: none may reach SQLite.
const FIXTURE_SECRETS: &[&str] = &[
    "ghp_fixture",
    "sntrys_fixture",
    "ctx7_fixture",
    "figd_fixture",
    "lin_api_fixture",
];

async fn round_trip(kind: ClientKind) {
    let env = Env::new().await;
    let dir = golden_dir(kind);
    let input = std::fs::read_to_string(dir.join(format!("input.{}", ext(kind)))).unwrap();
    let path = env.write_config(kind, &input);

    // What an import would do.
    let scan = import::scan(&env.platform, &[kind], None);
    assert!(scan.problems.is_empty(), "{:?}", scan.problems);
    let plan = import::plan(&env.store, Some(&env.secrets), scan, &env.resolver())
        .await
        .unwrap();
    let summary = json!({
        "servers": plan.servers.iter().map(|p| json!({
            "entry": p.candidate.origin.entry,
            "section": p.candidate.origin.section,
            "action": p.action,
            "enabled": p.candidate.enabled,
            "transport": p.candidate.transport,
            "warnings": p.candidate.warnings,
        })).collect::<Vec<_>>(),
        "skipped": plan.skipped.iter().map(|s| json!({
            "entry": s.origin.entry,
            "reason": s.reason,
        })).collect::<Vec<_>>(),
    });
    golden(
        &dir.join("import.json"),
        &env.normalize(&(serde_json::to_string_pretty(&summary).unwrap() + "\n")),
    );

    // Install: the file, the servers and their secrets.
    let request = env.request(kind);
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
    assert!(!plan.already_installed);
    let diff = env.normalize(&plan.diff);
    let outcome = install::apply_install(
        &env.store,
        Some(&env.secrets),
        env.data.path(),
        &request,
        plan,
    )
    .await
    .unwrap();
    let backup = outcome.backup.clone().expect("a backup of the original");
    assert_eq!(std::fs::read(&backup).unwrap(), input.as_bytes());
    let installed = std::fs::read_to_string(&path).unwrap();
    golden(
        &dir.join(format!("installed.{}", ext(kind))),
        &env.normalize(&installed),
    );
    golden(&dir.join("install.diff"), &diff);

    let servers = env.store.list_servers().await.unwrap();
    let stored: Vec<_> = servers
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "enabled": s.enabled,
                "launch_approved": s.launch_approved(),
                "transport": s.transport,
            })
        })
        .collect();
    golden(
        &dir.join("servers.json"),
        &env.normalize(&(serde_json::to_string_pretty(&stored).unwrap() + "\n")),
    );
    for secret in FIXTURE_SECRETS {
        assert!(
            !database_contains(env.data.path(), secret),
            "{secret} reached SQLite"
        );
    }
    // Every placeholder resolves from the keyring.
    for server in &servers {
        let map = match &server.transport {
            switchboard_store::TransportConfig::Stdio { env, .. } => env,
            switchboard_store::TransportConfig::Http { headers, .. }
            | switchboard_store::TransportConfig::Sse { headers, .. } => headers,
        };
        env.secrets.resolve_map(map).unwrap();
    }
    // The client got its token.
    let token = install::installed_token(&env.platform, kind)
        .unwrap()
        .unwrap();
    let client = env
        .store
        .client_by_token_hash(&switchboard_auth::hash_token(&token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(client.name, kind.id());

    // Installing again changes nothing.
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
    assert!(again.already_installed, "{}", again.diff);

    // Uninstall restores the original bytes and removes the client.
    let out = install::uninstall(&env.store, &env.platform, env.data.path(), kind)
        .await
        .unwrap();
    assert_eq!(out.restored, Restored::Exact { backup });
    assert_eq!(std::fs::read(&path).unwrap(), input.as_bytes());
    assert_eq!(out.removed_client.as_deref(), Some(kind.id()));
    assert!(env.store.list_clients().await.unwrap().is_empty());
}

#[tokio::test]
async fn claude_desktop() {
    round_trip(ClientKind::ClaudeDesktop).await;
}

#[tokio::test]
async fn claude_code() {
    round_trip(ClientKind::ClaudeCode).await;
}

#[tokio::test]
async fn cursor() {
    round_trip(ClientKind::Cursor).await;
}

#[tokio::test]
async fn vscode() {
    round_trip(ClientKind::VsCode).await;
}

#[tokio::test]
async fn windsurf() {
    round_trip(ClientKind::Windsurf).await;
}

#[tokio::test]
async fn codex() {
    round_trip(ClientKind::Codex).await;
}

#[tokio::test]
async fn gemini() {
    round_trip(ClientKind::Gemini).await;
}

#[tokio::test]
async fn zed() {
    round_trip(ClientKind::Zed).await;
}
