//! The doctor: findings with fixes, and no alarms for what is fine.

use std::{collections::BTreeMap, ffi::OsString, net::SocketAddr};

use switchboard_auth::SecretRef;
use switchboard_clients::{
    ClientKind,
    doctor::{self, GatewayProbe, Input, Report, ServerState, Severity},
    install,
};
use switchboard_store::{ServerRecord, TransportConfig};

use crate::common::Env;

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A PATH with one folder holding fake `node` and `npx`.
fn fake_path(env: &Env) -> OsString {
    let bin = env.home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["node", "npx"] {
        let path = bin.join(name);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    bin.into_os_string()
}

/// What a Linux kernel with Landlock ABI `abi` supports (0: none).
fn landlock(abi: u32) -> switchboard_sandbox::Support {
    switchboard_sandbox::Support {
        platform: "linux".into(),
        landlock_abi: abi,
        files: abi >= 1,
        tcp: abi >= 4,
        udp: abi >= 10,
        scopes: abi >= 6,
        network_namespace: abi >= 1,
        missing: Vec::new(),
    }
}

async fn run(env: &Env, gateway: GatewayProbe, listen: SocketAddr) -> Report {
    doctor::run(Input {
        data_dir: env.data.path(),
        platform: &env.platform,
        store: Ok(&env.store),
        secrets: Ok(&env.secrets),
        gateway,
        listen,
        path: fake_path(env),
        contexts: Vec::new(),
        sandbox: Ok(landlock(7)),
        audit: None,
    })
    .await
}

fn find<'a>(report: &'a Report, area: &str, subject: &str) -> Vec<&'a doctor::Check> {
    report
        .checks
        .iter()
        .filter(|c| c.area == area && c.subject == subject)
        .collect()
}

fn every_problem_has_a_fix(report: &Report) {
    for check in report.at_least(Severity::Warning) {
        assert!(check.fix.is_some(), "{check:?}");
    }
}

#[tokio::test]
async fn a_healthy_setup_has_no_problems() {
    let env = Env::new().await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(env.data.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let record = ServerRecord::new(
        "everything",
        TransportConfig::Stdio {
            command: "npx".into(),
            args: vec![
                "-y".into(),
                "@modelcontextprotocol/server-everything".into(),
            ],
            env: BTreeMap::new(),
            cwd: None,
        },
    )
    .approve_launch();
    env.store.add_server(&record).await.unwrap();
    env.write_config(ClientKind::Cursor, "{}");
    let request = env.request(ClientKind::Cursor);
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
    install::apply_install(
        &env.store,
        Some(&env.secrets),
        env.data.path(),
        &request,
        plan,
    )
    .await
    .unwrap();
    let gateway = GatewayProbe::Running {
        mcp_url: "http://127.0.0.1:7331/mcp".into(),
        servers: BTreeMap::from([(
            "everything".to_owned(),
            ServerState {
                state: "ready".into(),
                error: None,
            },
        )]),
    };
    let report = run(&env, gateway, free_addr()).await;
    assert_eq!(report.problems(), 0, "{:#?}", report.checks);
    assert_eq!(
        report.at_least(Severity::Warning).count(),
        0,
        "{:#?}",
        report.checks
    );
    assert_eq!(find(&report, "client", "cursor")[0].severity, Severity::Ok);
    assert_eq!(
        find(&report, "server", "everything")[0].severity,
        Severity::Ok
    );
    // docker and uvx are missing from the fake PATH but nothing needs them.
    assert_eq!(
        find(&report, "runtime", "docker")[0].severity,
        Severity::Info
    );
}

#[tokio::test]
async fn problems_come_with_fixes() {
    let env = Env::new().await;
    let unapproved = ServerRecord::new(
        "git",
        TransportConfig::Stdio {
            command: "uvx".into(),
            args: vec!["mcp-server-git".into()],
            env: BTreeMap::new(),
            cwd: None,
        },
    );
    env.store.add_server(&unapproved).await.unwrap();
    let secret = SecretRef::header("remote", "Authorization");
    let remote = ServerRecord::new(
        "remote",
        TransportConfig::Http {
            url: "https://r.test/mcp".into(),
            headers: BTreeMap::from([("Authorization".into(), secret.placeholder())]),
        },
    );
    env.store.add_server(&remote).await.unwrap();
    let failing = ServerRecord::new(
        "flaky",
        TransportConfig::Http {
            url: "https://f.test/mcp".into(),
            headers: BTreeMap::new(),
        },
    );
    env.store.add_server(&failing).await.unwrap();
    // A client whose token no longer exists.
    env.write_config(
        ClientKind::Gemini,
        r#"{"mcpServers": {"switchboard": {"httpUrl": "http://127.0.0.1:1/mcp", "headers": {"Authorization": "Bearer sbt_gone"}}}}"#,
    );
    // Something else holds the port.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let report = run(&env, GatewayProbe::NotRunning, busy.local_addr().unwrap()).await;
    every_problem_has_a_fix(&report);

    let problem = |area: &str, subject: &str, needle: &str| {
        let found = find(&report, area, subject);
        assert!(
            found
                .iter()
                .any(|c| c.severity == Severity::Problem && c.detail.contains(needle)),
            "{area}/{subject} {needle}: {found:#?}"
        );
    };
    problem(
        "gateway",
        &busy.local_addr().unwrap().to_string(),
        "taken by another program",
    );
    problem("runtime", "uvx", "needed by git");
    problem("server", "git", "waits for your approval");
    problem("server", "git", "not on your login shell's PATH");
    problem("server", "remote", "is missing from the");
    problem("client", "gemini", "not valid any more");
    assert!(find(&report, "server", "git").iter().any(|c| {
        c.fix
            .as_deref()
            .unwrap()
            .contains("switchboard servers approve git")
    }));

    // With a gateway running, its last start error is reported.
    let gateway = GatewayProbe::Running {
        mcp_url: "http://127.0.0.1:7331/mcp".into(),
        servers: BTreeMap::from([(
            "flaky".to_owned(),
            ServerState {
                state: "failed".into(),
                error: Some("connection refused".into()),
            },
        )]),
    };
    let report = run(&env, gateway, free_addr()).await;
    every_problem_has_a_fix(&report);
    let flaky = find(&report, "server", "flaky");
    assert!(
        flaky
            .iter()
            .any(|c| c.detail == "last start failed: connection refused"),
        "{flaky:#?}"
    );
    assert!(flaky[0].fix.as_deref().unwrap().contains("flaky.log"));
}

#[tokio::test]
async fn no_keyring_is_no_alarm_until_a_secret_needs_it() {
    let env = Env::new().await;
    let unusable =
        switchboard_auth::SecretStore::file(env.data.path().join("x").join("secrets.json"));
    std::fs::create_dir_all(env.data.path().join("x")).unwrap();
    std::fs::write(env.data.path().join("x").join("secrets.json"), "garbage").unwrap();
    let report = doctor::run(Input {
        data_dir: env.data.path(),
        platform: &env.platform,
        store: Ok(&env.store),
        secrets: Ok(&unusable),
        gateway: GatewayProbe::NotRunning,
        listen: free_addr(),
        path: fake_path(&env),
        contexts: Vec::new(),
        sandbox: Ok(landlock(7)),
        audit: None,
    })
    .await;
    let keyring = &find(&report, "keyring", "secrets")[0];
    assert_eq!(keyring.severity, Severity::Info, "{keyring:?}");
    assert!(
        keyring
            .fix
            .as_deref()
            .unwrap()
            .contains("SWITCHBOARD_SECRET_STORE=file")
    );
}

#[tokio::test]
async fn a_client_past_its_budget_is_named() {
    let env = Env::new().await;
    let state = |client: &str, mode: &str, searching: bool| doctor::ContextState {
        client: client.into(),
        mode: mode.into(),
        searching,
        tools: 120,
        tokens: 31_000,
        budget_tools: Some(40),
        budget_tokens: Some(20_000),
    };
    let mut within = state("zed", "auto", false);
    within.tools = 10;
    within.tokens = 900;
    let report = doctor::run(Input {
        data_dir: env.data.path(),
        platform: &env.platform,
        store: Ok(&env.store),
        secrets: Ok(&env.secrets),
        gateway: GatewayProbe::NotRunning,
        listen: free_addr(),
        path: fake_path(&env),
        contexts: vec![
            state("cursor", "passthrough", false),
            state("vscode", "auto", true),
            within,
        ],
        sandbox: Ok(landlock(7)),
        audit: None,
    })
    .await;
    let cursor = &find(&report, "context", "cursor")[0];
    assert_eq!(cursor.severity, Severity::Warning, "{cursor:?}");
    assert!(
        cursor.detail.contains("120 tools (budget 40)"),
        "{cursor:?}"
    );
    assert!(cursor.detail.contains("31000 tokens"), "{cursor:?}");
    assert!(
        cursor
            .fix
            .as_deref()
            .unwrap_or("")
            .contains("--tool-mode auto")
    );
    let vscode = &find(&report, "context", "vscode")[0];
    assert_eq!(vscode.severity, Severity::Info, "{vscode:?}");
    assert!(find(&report, "context", "zed").is_empty());
}

async fn sandbox_report(env: &Env, support: switchboard_sandbox::Support) -> Report {
    doctor::run(Input {
        data_dir: env.data.path(),
        platform: &env.platform,
        store: Ok(&env.store),
        secrets: Ok(&env.secrets),
        gateway: GatewayProbe::NotRunning,
        listen: free_addr(),
        path: fake_path(env),
        contexts: Vec::new(),
        sandbox: Ok(support),
        audit: None,
    })
    .await
}

fn stdio_server(name: &str) -> ServerRecord {
    ServerRecord::new(
        name,
        TransportConfig::Stdio {
            command: "node".into(),
            args: vec!["server.js".into()],
            env: BTreeMap::new(),
            cwd: None,
        },
    )
    .approve_launch()
}

#[tokio::test]
async fn the_doctor_names_the_landlock_abi_and_unsandboxed_servers() {
    let env = Env::new().await;
    env.store.add_server(&stdio_server("boxed")).await.unwrap();
    let mut open = stdio_server("open");
    open.sandbox.enabled = false;
    env.store.add_server(&open.approve_launch()).await.unwrap();

    let report = sandbox_report(&env, landlock(7)).await;
    let kernel = &find(&report, "sandbox", "kernel")[0];
    assert_eq!(kernel.severity, Severity::Ok, "{kernel:?}");
    assert!(
        kernel
            .detail
            .starts_with("Landlock ABI 7: file rules, TCP rules"),
        "{kernel:?}"
    );
    let unsandboxed = &find(&report, "sandbox", "open")[0];
    assert_eq!(unsandboxed.severity, Severity::Warning);
    assert!(
        unsandboxed.detail.contains("unsandboxed"),
        "{unsandboxed:?}"
    );
    assert!(
        unsandboxed
            .fix
            .as_deref()
            .unwrap_or("")
            .contains("servers sandbox open --on")
    );
    assert!(find(&report, "sandbox", "boxed").is_empty());
}

#[tokio::test]
async fn without_landlock_sandboxed_servers_are_problems() {
    let env = Env::new().await;
    env.store.add_server(&stdio_server("boxed")).await.unwrap();
    let mut none = landlock(0);
    none.network_namespace = false;
    let report = sandbox_report(&env, none).await;
    assert_eq!(
        find(&report, "sandbox", "kernel")[0].severity,
        Severity::Problem
    );
    let boxed = &find(&report, "sandbox", "boxed")[0];
    assert_eq!(boxed.severity, Severity::Problem, "{boxed:?}");
    assert!(boxed.fix.as_deref().unwrap_or("").contains("--off"));
}
