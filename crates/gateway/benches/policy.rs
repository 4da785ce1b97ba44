//! Cost of policy decisions with 100 servers of 50 tools each (5,000 tools):
//! one call's verdict, and filtering a whole tools/list. Prints figures.
#![allow(
    clippy::unwrap_used,
    reason = "a benchmark: any failure should stop it"
)]

use std::{sync::Arc, time::Instant};

use rmcp::model::{Tool, ToolAnnotations};
use switchboard_gateway::policy::Policy;
use switchboard_store::{Permission, PermissionEntry, Scope, Store};

fn tools(server: usize) -> Vec<Tool> {
    (0..50)
        .map(|i| {
            let schema = serde_json::json!({ "type": "object", "properties": { "q": { "type": "string" } } });
            let mut tool = Tool::new(
                format!("tool_{i}"),
                format!("Tool {i} of server {server}: does a thing with q"),
                Arc::new(schema.as_object().unwrap().clone()),
            );
            let mut hints = ToolAnnotations::new();
            hints.read_only_hint = Some(i % 3 == 0);
            hints.destructive_hint = Some(i % 7 == 0);
            tool.annotations = Some(hints);
            tool
        })
        .collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    store.add_client("bench", "hash").await.unwrap();
    for s in 0..100 {
        let entry = |scope, tool: &str, permission| PermissionEntry {
            scope,
            server: format!("server{s}"),
            tool: tool.to_owned(),
            permission,
        };
        store
            .set_permission(&entry(Scope::Everyone, "tool_1", Permission::Deny))
            .await
            .unwrap();
        store
            .set_permission(&entry(
                Scope::Client("bench".into()),
                "tool_2",
                Permission::Allow,
            ))
            .await
            .unwrap();
    }
    let policy = Policy::load(store).await.unwrap();
    let catalog: Vec<(String, Vec<Tool>)> =
        (0..100).map(|s| (format!("server{s}"), tools(s))).collect();
    let started = Instant::now();
    for (server, list) in &catalog {
        policy.observe_tools(server, list).await;
    }
    let pinning = started.elapsed();

    // One call: the verdict for one tool, repeated.
    let (server, list) = &catalog[57];
    let tool = &list[33];
    let rounds = 200_000u32;
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(policy.tool_verdict("bench", server, tool));
    }
    let per_call = started.elapsed() / rounds;

    // tools/list: every verdict of all 5,000 tools.
    let rounds = 50u32;
    let started = Instant::now();
    let mut visible = 0;
    for _ in 0..rounds {
        visible = catalog
            .iter()
            .map(|(server, list)| {
                list.iter()
                    .filter(|t| {
                        policy.tool_verdict("bench", server, t).permission != Permission::Deny
                    })
                    .count()
            })
            .sum::<usize>();
    }
    let per_list = started.elapsed() / rounds;

    println!("## Policy decisions (100 servers x 50 tools)\n");
    println!("| figure | value |\n| --- | --- |");
    println!(
        "| pin 5,000 tool definitions (first sight, SQLite) | {:.1} ms |",
        pinning.as_secs_f64() * 1e3
    );
    println!(
        "| verdict for one call | {:.2} µs |",
        per_call.as_secs_f64() * 1e6
    );
    println!(
        "| filter a 5,000-tool tools/list | {:.2} ms ({visible} visible) |",
        per_list.as_secs_f64() * 1e3
    );
}
