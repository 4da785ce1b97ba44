//! Token counts against golden values: the compact JSON of each known
//! definition, counted in o200k_base by an independent implementation
//! (js-tiktoken; `node golden/count.mjs` writes `golden/tokens.json`).

use rmcp::model::Tool;
use serde::Deserialize;
use switchboard_context::{meta, tokens};

#[derive(Deserialize)]
struct Golden {
    name: String,
    text: String,
    tokens: usize,
}

fn definitions() -> Vec<Tool> {
    let text = include_str!("golden/definitions.json");
    serde_json::from_str(text).expect("definitions parse")
}

/// The text every definition is counted as, one per line (for count.mjs).
fn texts() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = definitions()
        .iter()
        .map(|t| (t.name.to_string(), serde_json::to_string(t).expect("json")))
        .collect();
    for t in [meta::search_tools(), meta::call_tool()] {
        out.push((t.name.to_string(), serde_json::to_string(t).expect("json")));
    }
    out
}

#[test]
fn counts_match_the_golden_values() {
    if std::env::var_os("SWITCHBOARD_WRITE_GOLDEN_TEXTS").is_some() {
        let lines: Vec<String> = texts()
            .into_iter()
            .map(|(name, text)| serde_json::json!({ "name": name, "text": text }).to_string())
            .collect();
        std::fs::write(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/context/golden/texts.jsonl"
            ),
            lines.join("\n") + "\n",
        )
        .expect("write texts");
    }
    let golden: Vec<Golden> =
        serde_json::from_str(include_str!("golden/tokens.json")).expect("golden parses");
    let texts = texts();
    assert_eq!(golden.len(), texts.len(), "one golden value per definition");
    for ((name, text), want) in texts.iter().zip(&golden) {
        assert_eq!(name, &want.name);
        assert_eq!(
            text, &want.text,
            "{name}: the JSON a client receives changed"
        );
        assert_eq!(tokens::count(text), want.tokens, "{name}");
    }
    // Counting a definition is counting its compact JSON.
    let tool = &definitions()[0];
    assert_eq!(tokens::tool_tokens(tool), golden[0].tokens);
    assert_eq!(tokens::ENCODING, "o200k_base");
}
