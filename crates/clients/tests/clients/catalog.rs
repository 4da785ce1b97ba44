//! The catalog: the bundled snapshot, registry formats, search, forms, builds.

use std::collections::BTreeMap;

use serde_json::json;
use switchboard_clients::catalog::{Answers, Catalog, Choice, FieldKind, build, form};
use switchboard_store::TransportConfig;

fn answers(env: &[(&str, &str)], headers: &[(&str, &str)], vars: &[(&str, &str)]) -> Answers {
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    Answers {
        env: map(env),
        headers: map(headers),
        vars: map(vars),
    }
}

#[test]
fn the_bundled_catalog_is_usable() {
    let catalog = Catalog::bundled().unwrap();
    assert!(catalog.servers.len() >= 10, "{}", catalog.servers.len());
    for server in &catalog.servers {
        let form = form(server);
        assert!(
            form.default_choice.is_some(),
            "{} has no usable option",
            server.name
        );
        assert!(!server.description.is_empty(), "{}", server.name);
        switchboard_store::validate_server_name(&form.suggested_name).unwrap();
    }
}

#[test]
fn search_ranks_names_first() {
    let catalog = Catalog::bundled().unwrap();
    let hits = catalog.search("brave");
    assert_eq!(
        hits[0].server.name,
        "io.github.brave/brave-search-mcp-server"
    );
    let hits = catalog.search("postgres");
    assert_eq!(hits[0].server.name, "com.neon/mcp");
    assert!(catalog.search("no-such-thing-anywhere").is_empty());
    assert_eq!(catalog.search("").len(), catalog.servers.len());
    // Every word must match somewhere.
    assert!(catalog.search("brave kubernetes").is_empty());
}

#[test]
fn find_by_short_names() {
    let catalog = Catalog::bundled().unwrap();
    assert_eq!(
        catalog.find("brave-search-mcp-server").unwrap().name,
        "io.github.brave/brave-search-mcp-server"
    );
    assert_eq!(
        catalog.find("@upstash/context7-mcp").unwrap().name,
        "io.github.upstash/context7"
    );
    assert_eq!(
        catalog.find("Terraform").unwrap().name,
        "io.github.hashicorp/terraform-mcp-server"
    );
    assert!(catalog.find("nothing").is_err());
}

#[test]
fn an_npm_package_with_a_required_secret() {
    let catalog = Catalog::bundled().unwrap();
    let brave = catalog
        .find("io.github.brave/brave-search-mcp-server")
        .unwrap();
    let form = form(brave);
    assert_eq!(form.suggested_name, "brave-search");
    let fields = &form.options[0].fields;
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].kind, FieldKind::Env);
    assert!(fields[0].required && fields[0].secret);

    let error = build(brave, Choice::Package(0), &Answers::default()).unwrap_err();
    assert!(
        error.to_string().contains("--env BRAVE_API_KEY=…"),
        "{error}"
    );

    let built = build(
        brave,
        Choice::Package(0),
        &answers(&[("BRAVE_API_KEY", "bsa")], &[], &[]),
    )
    .unwrap();
    assert_eq!(
        built.transport,
        TransportConfig::Stdio {
            command: "npx".into(),
            args: vec!["-y".into(), "@brave/brave-search-mcp-server@2.1.3".into()],
            env: BTreeMap::from([("BRAVE_API_KEY".into(), "bsa".into())]),
            cwd: None,
        }
    );
    assert_eq!(built.secret_keys, vec!["env:BRAVE_API_KEY".to_owned()]);
    // The entry declares that it calls its API: the network is on in its sandbox.
    assert!(built.sandbox.enabled);
    assert_eq!(built.sandbox.network, switchboard_sandbox::NetworkGrant::On);
}

#[test]
fn catalog_entries_declare_their_sandbox_and_home_paths_are_expanded() {
    let catalog = Catalog::bundled().unwrap();
    assert!(
        catalog.servers.iter().all(|s| s.sandbox.is_some()),
        "every bundled entry declares its grants"
    );
    let text = r#"{"servers": [{"server": {"name": "io.example/files", "packages": [
        {"registryType": "npm", "identifier": "files-server", "version": "1.0.0",
         "transport": {"type": "stdio"}}]},
        "_meta": {"io.github.switchboard-mcp/sandbox":
            {"network": "off", "allow_write": ["~/Documents/notes"]}}}]}"#;
    let catalog = Catalog::parse(text, "test").unwrap();
    let built = build(
        catalog.find("io.example/files").unwrap(),
        Choice::Package(0),
        &Answers::default(),
    )
    .unwrap();
    assert_eq!(
        built.sandbox.network,
        switchboard_sandbox::NetworkGrant::Off
    );
    let home = std::path::PathBuf::from(std::env::var_os("HOME").unwrap());
    assert_eq!(
        built.sandbox.allow_write,
        vec![home.join("Documents/notes")]
    );
    let bad = r#"{"servers": [{"server": {"name": "io.example/x"},
        "_meta": {"io.github.switchboard-mcp/sandbox": {"network": "sometimes"}}}]}"#;
    assert!(Catalog::parse(bad, "test").is_err());
}

#[test]
fn a_docker_image_keeps_secrets_off_the_command_line() {
    let catalog = Catalog::bundled().unwrap();
    let github = catalog.find("io.github.github/github-mcp-server").unwrap();
    let built = build(
        github,
        Choice::Package(0),
        &answers(&[], &[], &[("token", "ghp_x")]),
    )
    .unwrap();
    let TransportConfig::Stdio {
        command, args, env, ..
    } = &built.transport
    else {
        panic!("{:?}", built.transport)
    };
    assert_eq!(command, "docker");
    assert_eq!(
        args,
        &[
            "run",
            "-i",
            "--rm",
            "-e",
            "GITHUB_PERSONAL_ACCESS_TOKEN",
            "ghcr.io/github/github-mcp-server"
        ]
    );
    assert_eq!(env["GITHUB_PERSONAL_ACCESS_TOKEN"], "ghp_x");
    assert_eq!(
        built.secret_keys,
        vec!["env:GITHUB_PERSONAL_ACCESS_TOKEN".to_owned()]
    );

    // Defaults fill optional variables; an optional secret left out drops its flag.
    let terraform = catalog.find("terraform").unwrap();
    let built = build(terraform, Choice::Package(0), &Answers::default()).unwrap();
    let TransportConfig::Stdio { args, env, .. } = &built.transport else {
        panic!()
    };
    assert_eq!(
        args,
        &[
            "run",
            "-i",
            "--rm",
            "-e",
            "TFE_ADDRESS",
            "-e",
            "ENABLE_TF_OPERATIONS",
            "docker.io/hashicorp/terraform-mcp-server:1.1.0"
        ]
    );
    assert_eq!(env["TFE_ADDRESS"], "https://app.terraform.io");
    assert!(!env.contains_key("TFE_TOKEN"));
}

#[test]
fn remotes_with_headers() {
    let catalog = Catalog::bundled().unwrap();
    let neon = catalog.find("com.neon/mcp").unwrap();
    let form = form(neon);
    assert_eq!(form.default_choice, Some(Choice::Remote(0)));
    let built = build(neon, Choice::Remote(0), &Answers::default()).unwrap();
    assert_eq!(
        built.transport,
        TransportConfig::Http {
            url: "https://mcp.neon.tech/mcp".into(),
            headers: BTreeMap::from([("x-read-only".into(), "false".into())]),
        }
    );
    let sse = build(
        neon,
        Choice::Remote(1),
        &answers(&[], &[("Authorization", "Bearer n")], &[]),
    )
    .unwrap();
    assert!(
        matches!(&sse.transport, TransportConfig::Sse { headers, .. } if headers["Authorization"] == "Bearer n")
    );
    assert_eq!(sse.secret_keys, vec!["header:Authorization".to_owned()]);

    let apify = catalog.find("com.apify/apify-mcp-server").unwrap();
    let error = build(apify, Choice::Remote(0), &Answers::default()).unwrap_err();
    assert!(
        error.to_string().contains("--header Authorization=…"),
        "{error}"
    );
}

#[test]
fn registry_formats_and_versions() {
    let one = json!({"name": "io.test/one", "description": "d", "version": "1.0.0",
        "packages": [{"registryType": "pypi", "identifier": "one-mcp", "version": "1.0.0",
                      "runtimeHint": "uvx", "transport": {"type": "stdio"},
                      "packageArguments": ["serve", {"type": "named", "name": "--port", "default": "9"}]}]});
    let single = Catalog::parse(&one.to_string(), "file").unwrap();
    assert_eq!(single.servers.len(), 1);
    let built = build(&single.servers[0], Choice::Package(0), &Answers::default()).unwrap();
    assert!(
        matches!(&built.transport, TransportConfig::Stdio { command, args, .. }
        if command == "uvx" && args == &["one-mcp==1.0.0", "serve", "--port", "9"])
    );

    let array = Catalog::parse(&json!([one, {"name": "io.test/two", "remotes": [{"type": "sse", "url": "https://t.test/sse"}]}]).to_string(), "a").unwrap();
    assert_eq!(array.servers.len(), 2);

    // A registry answer lists every version; the latest wins.
    let old =
        json!({"name": "io.test/one", "description": "old", "version": "0.9.0", "packages": []});
    let listed = json!({"servers": [
        {"server": old, "_meta": {"io.modelcontextprotocol.registry/official": {"isLatest": false}}},
        {"server": one, "_meta": {"io.modelcontextprotocol.registry/official": {"isLatest": true}}},
    ], "metadata": {"count": 2}});
    let registry = Catalog::parse(&listed.to_string(), "r").unwrap();
    assert_eq!(registry.servers.len(), 1);
    assert_eq!(registry.servers[0].version.as_deref(), Some("1.0.0"));

    let nuget = json!({"name": "io.test/dotnet", "packages": [{"registryType": "nuget", "identifier": "Time.Mcp", "version": "1.0.8", "runtimeHint": "dnx", "transport": {"type": "stdio"}}]});
    let catalog = Catalog::parse(&nuget.to_string(), "n").unwrap();
    let built = build(&catalog.servers[0], Choice::Package(0), &Answers::default()).unwrap();
    assert!(
        matches!(&built.transport, TransportConfig::Stdio { command, args, .. }
        if command == "dnx" && args == &["Time.Mcp@1.0.8", "--yes"])
    );

    assert!(Catalog::parse("{}", "empty").is_err());
    assert!(Catalog::parse("not json", "bad").is_err());
}

#[tokio::test]
async fn a_registry_file_the_user_gives() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.json");
    std::fs::write(&path, json!({"servers": [{"server": {"name": "io.test/local", "description": "local test", "packages": [{"registryType": "npm", "identifier": "local-mcp"}]}}]}).to_string()).unwrap();
    let catalog = Catalog::load(path.to_str().unwrap()).await.unwrap();
    assert_eq!(catalog.find("local").unwrap().name, "io.test/local");
    assert!(
        Catalog::load(dir.path().join("missing.json").to_str().unwrap())
            .await
            .is_err()
    );
}
