//! Grants inferred from a launch, and what widens a sandbox.

use std::{collections::BTreeMap, path::Path};

use switchboard_sandbox::{Access, Launch, NetworkGrant, Plan, SandboxConfig, Why, plan};

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }

    fn file(&self, rel: &str, text: &str) -> std::path::PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn dir(&self, rel: &str) -> std::path::PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    fn plan(
        &self,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        config: &SandboxConfig,
    ) -> Plan {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let home = self.dir("home");
        let temp = self.path("tmp/server");
        let path = self.path("bin").display().to_string();
        plan(
            &Launch {
                program,
                args: &args,
                env: &env,
                cwd: None,
                base_dir: self.dir.path(),
                home: Some(&home),
                path: &path,
                temp_dir: &temp,
            },
            config,
        )
    }
}

fn has(plan: &Plan, path: &Path, access: Access, why: Why) -> bool {
    plan.grants
        .iter()
        .any(|g| g.path == path && g.access == access && g.why == why)
}

fn covered(plan: &Plan, path: &Path) -> bool {
    plan.grants.iter().any(|g| path.starts_with(&g.path))
}

#[test]
fn a_node_script_in_node_modules_gets_the_modules_folder_and_its_root_dir_read_write() {
    let f = Fixture::new();
    let node = f.file("prefix/bin/node", "");
    f.dir("prefix/lib/node_modules");
    let script = f.file("app/node_modules/@scope/server/dist/index.js", "");
    let root = f.dir("data");
    let plan = f.plan(
        &node,
        &[script.to_str().unwrap(), root.to_str().unwrap()],
        &[],
        &SandboxConfig::default(),
    );
    assert!(
        has(&plan, &f.path("prefix"), Access::Read, Why::Interpreter),
        "{plan:#?}"
    );
    assert!(has(
        &plan,
        &f.path("app/node_modules"),
        Access::Read,
        Why::Package
    ));
    assert!(has(&plan, &root, Access::Write, Why::Argument));
    assert!(has(
        &plan,
        &f.path("tmp/server"),
        Access::Write,
        Why::TempDir
    ));
    assert!(!plan.network, "network is off unless granted");
    assert!(
        !covered(&plan, &f.path("home")),
        "the home folder is not granted"
    );
}

#[test]
fn a_venv_console_script_gets_the_venv_and_the_base_interpreter() {
    let f = Fixture::new();
    let base = f.file("python/bin/python3.11", "");
    f.dir("python/lib/python3.11");
    f.file(
        "venv/pyvenv.cfg",
        &format!("home = {}\n", f.path("python/bin").display()),
    );
    f.file("venv/bin/python", "");
    let script = f.file(
        "venv/bin/mcp-server-git",
        &format!("#!{}\nimport sys\n", f.path("venv/bin/python").display()),
    );
    let repo = f.dir("repo");
    let plan = f.plan(
        &script,
        &["--repository", repo.to_str().unwrap()],
        &[],
        &SandboxConfig::default(),
    );
    assert!(
        has(&plan, &f.path("venv"), Access::Read, Why::Interpreter),
        "{plan:#?}"
    );
    assert!(
        has(&plan, &f.path("python"), Access::Read, Why::Interpreter),
        "{plan:#?}"
    );
    assert!(covered(&plan, &base));
    assert!(has(&plan, &repo, Access::Write, Why::Argument));
}

#[test]
fn a_path_in_the_environment_is_writable_or_its_folder_when_missing() {
    let f = Fixture::new();
    let program = f.file("bin/server", "");
    let data = f.dir("data");
    let existing = f.file("state/memory.jsonl", "");
    let plan = f.plan(
        &program,
        &[],
        &[
            (
                "MEMORY_FILE_PATH",
                data.join("graph.jsonl").to_str().unwrap(),
            ),
            ("STATE", existing.to_str().unwrap()),
            ("HOME_FILE", f.path("home/missing.txt").to_str().unwrap()),
            ("NOT_A_PATH", "hello"),
        ],
        &SandboxConfig::default(),
    );
    assert!(
        has(&plan, &data, Access::Write, Why::Environment),
        "{plan:#?}"
    );
    assert!(has(&plan, &existing, Access::Write, Why::Environment));
    assert!(
        !covered(&plan, &f.path("home")),
        "a missing file in HOME does not grant HOME"
    );
}

#[test]
fn package_runners_get_their_cache_and_the_network() {
    let f = Fixture::new();
    let npx = f.file("bin/npx", "");
    let plan = f.plan(
        &npx,
        &["-y", "@scope/server"],
        &[],
        &SandboxConfig::default(),
    );
    assert!(
        has(&plan, &f.path("home/.npm"), Access::Write, Why::Cache),
        "{plan:#?}"
    );
    assert!(plan.network, "{}", plan.network_why);
    assert!(plan.network_why.contains("npx"));
    let off = SandboxConfig {
        network: NetworkGrant::Off,
        ..SandboxConfig::default()
    };
    assert!(!f.plan(&npx, &[], &[], &off).network);
}

#[test]
fn user_grants_are_added_and_nothing_is_listed_twice() {
    let f = Fixture::new();
    let program = f.file("bin/server", "");
    let shared = f.dir("shared");
    let inner = f.dir("shared/inner");
    let config = SandboxConfig {
        allow_read: vec![inner.clone(), shared.clone()],
        allow_write: vec![shared.clone()],
        ..SandboxConfig::default()
    };
    let plan = f.plan(&program, &[], &[], &config);
    let mentions: Vec<_> = plan
        .grants
        .iter()
        .filter(|g| g.path.starts_with(&shared))
        .collect();
    assert_eq!(mentions.len(), 1, "{mentions:#?}");
    assert!(has(&plan, &shared, Access::Write, Why::User));
    assert!(plan.shown().all(|g| g.why != Why::System));
}

#[test]
fn off_means_no_grants_and_full_rights() {
    let f = Fixture::new();
    let program = f.file("bin/server", "");
    let config = SandboxConfig {
        enabled: false,
        ..SandboxConfig::default()
    };
    let plan = f.plan(&program, &[], &[], &config);
    assert!(!plan.enabled && plan.grants.is_empty() && plan.network);
}

#[test]
fn what_widens_a_sandbox() {
    let base = SandboxConfig {
        allow_read: vec!["/srv".into()],
        allow_write: vec!["/srv/out".into()],
        network: NetworkGrant::Off,
        ..SandboxConfig::default()
    };
    let with = |f: &dyn Fn(&mut SandboxConfig)| {
        let mut c = base.clone();
        f(&mut c);
        c
    };
    assert!(!base.widens(&base));
    assert!(with(&|c| c.allow_read.push("/etc".into())).widens(&base));
    assert!(
        !with(&|c| c.allow_read.push("/srv/sub".into())).widens(&base),
        "already readable"
    );
    assert!(
        with(&|c| c.allow_write.push("/srv/sub".into())).widens(&base),
        "read is not write"
    );
    assert!(with(&|c| c.network = NetworkGrant::Inferred).widens(&base));
    assert!(with(&|c| c.network = NetworkGrant::On).widens(&base));
    assert!(with(&|c| c.enabled = false).widens(&base));
    assert!(
        !with(&|c| c.allow_write.clear()).widens(&base),
        "fewer grants are narrower"
    );
    let off = with(&|c| c.enabled = false);
    assert!(!base.widens(&off), "anything is narrower than off");
    assert!(SandboxConfig::default().is_default());
}

#[test]
fn settings_round_trip_and_default_to_on() {
    let parsed: SandboxConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(parsed, SandboxConfig::default());
    assert!(parsed.enabled);
    let config = SandboxConfig {
        allow_write: vec!["/data".into()],
        network: NetworkGrant::On,
        ..SandboxConfig::default()
    };
    let text = serde_json::to_string(&config).unwrap();
    assert_eq!(
        text,
        r#"{"enabled":true,"allow_write":["/data"],"network":"on"}"#
    );
    assert_eq!(
        serde_json::from_str::<SandboxConfig>(&text).unwrap(),
        config
    );
}
