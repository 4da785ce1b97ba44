//! `switchboard-bench search`: how well and how fast `search_tools` finds
//! the right tool, and what search mode saves in tokens.
//!
//! The corpus (`crates/bench/corpus`) holds the `tools/list` of real servers
//! from npm and PyPI and natural-language requests, each labelled with the
//! tool that serves it. Every tool is named as `/mcp` lists it
//! (`SERVER__TOOL`) and indexed as the gateway indexes a client's view; each
//! request is searched and the rank of its tool noted. The same index over
//! the corpus taken twice (more than 5,000 tools) gives the latency the
//! issue's target is about. Tokens: a ten-server setup listed in full
//! against the same setup in search mode.

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use rmcp::model::Tool;
use serde::{Deserialize, Serialize};
use switchboard_context::{ToolIndex, meta, tokens};

use crate::{BoxError, stats::percentile};

/// The ten servers of the token comparison: a developer's usual setup.
const TEN: [&str; 10] = [
    "filesystem",
    "git",
    "github",
    "memory",
    "fetch",
    "playwright",
    "slack",
    "notion",
    "linear",
    "postgres",
];

/// Targets of the issue.
const RECALL_AT_5: f64 = 0.9;
const TOKEN_SAVING: f64 = 0.9;
const LATENCY_MS: f64 = 5.0;

#[derive(Deserialize)]
struct Captured {
    key: String,
    tools: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Query {
    query: String,
    server: String,
    tool: String,
    #[serde(default)]
    also: Vec<String>,
}

/// What the run found.
#[derive(Debug, Serialize)]
pub struct SearchReport {
    pub servers: usize,
    pub tools: usize,
    pub skipped_tools: usize,
    pub queries: usize,
    pub recall_at_1: f64,
    pub recall_at_5: f64,
    pub mrr_at_10: f64,
    /// The same for the requests of the ten-server setup, searched over its
    /// tools only (a client's view): queries, recall@1, recall@5, MRR@10.
    pub ten_queries: usize,
    pub ten_recall_at_1: f64,
    pub ten_recall_at_5: f64,
    pub ten_mrr_at_10: f64,
    pub index_build_ms: f64,
    pub latency_tools: usize,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    pub ten_servers: Vec<String>,
    pub ten_tools: usize,
    pub full_tokens: usize,
    pub search_tokens: usize,
    pub token_saving: f64,
    pub misses: Vec<(String, String, Vec<String>)>,
}

/// Every tool with its server, the servers, and how many definitions did
/// not parse.
struct Loaded {
    tools: Vec<(String, Tool)>,
    servers: Vec<String>,
    skipped: usize,
}

fn load(corpus: &Path) -> Result<Loaded, BoxError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join("tools"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let (mut tools, mut servers, mut skipped) = (Vec::new(), Vec::new(), 0);
    for file in files {
        let captured: Captured = serde_json::from_str(&std::fs::read_to_string(&file)?)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        for value in captured.tools {
            match serde_json::from_value::<Tool>(value) {
                Ok(mut tool) => {
                    tool.name = format!("{}__{}", captured.key, tool.name).into();
                    tools.push((captured.key.clone(), tool));
                }
                Err(_) => skipped += 1,
            }
        }
        servers.push(captured.key);
    }
    Ok(Loaded {
        tools,
        servers,
        skipped,
    })
}

fn queries(corpus: &Path) -> Result<Vec<Query>, BoxError> {
    std::fs::read_to_string(corpus.join("queries.jsonl"))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("queries.jsonl: {e}").into()))
        .collect()
}

type Miss = (String, String, Vec<String>);

/// Hits at rank 1, within 5, the sum of reciprocal ranks within 10, and the
/// requests whose tool was not in the first five.
fn score<'a>(
    index: &ToolIndex,
    tools: &[Tool],
    queries: impl Iterator<Item = &'a Query>,
) -> ((usize, usize, f64), Vec<Miss>) {
    let (mut at1, mut at5, mut rr) = (0usize, 0usize, 0.0f64);
    let mut misses = Vec::new();
    for q in queries {
        let mut right = vec![format!("{}__{}", q.server, q.tool)];
        right.extend(q.also.iter().map(|a| a.replacen('/', "__", 1)));
        let found: Vec<String> = index
            .search(&q.query, 10)
            .iter()
            .map(|h| tools[h.index].name.to_string())
            .collect();
        let rank = found.iter().position(|n| right.contains(n));
        if let Some(rank) = rank {
            at1 += usize::from(rank == 0);
            at5 += usize::from(rank < 5);
            rr += 1.0 / (rank + 1) as f64;
        }
        if rank.is_none_or(|r| r >= 5) {
            misses.push((
                q.query.clone(),
                right[0].clone(),
                found.into_iter().take(5).collect(),
            ));
        }
    }
    ((at1, at5, rr), misses)
}

/// Runs the evaluation over `corpus`.
pub fn evaluate(corpus: &Path) -> Result<SearchReport, BoxError> {
    tokens::warm();
    let Loaded {
        tools: named,
        servers,
        skipped,
    } = load(corpus)?;
    let tools: Vec<Tool> = named.iter().map(|(_, t)| t.clone()).collect();
    let queries = queries(corpus)?;

    let started = Instant::now();
    let index = ToolIndex::build(&tools);
    let index_build_ms = started.elapsed().as_secs_f64() * 1e3;

    let (all, misses) = score(&index, &tools, queries.iter());
    let n = queries.len().max(1) as f64;
    let (at1, at5, rr) = all;

    // A client's view: the ten servers only, and their requests.
    let ten_tools: Vec<Tool> = named
        .iter()
        .filter(|(server, _)| TEN.contains(&server.as_str()))
        .map(|(_, t)| t.clone())
        .collect();
    let ten_index = ToolIndex::build(&ten_tools);
    let ten_queries: Vec<&Query> = queries
        .iter()
        .filter(|q| TEN.contains(&q.server.as_str()))
        .collect();
    let ((t1, t5, trr), _) = score(&ten_index, &ten_tools, ten_queries.iter().copied());
    let tn = ten_queries.len().max(1) as f64;

    // Latency over more than 5,000 tools: the corpus twice, the copy under
    // other server names.
    let mut doubled = tools.clone();
    doubled.extend(tools.iter().map(|t| {
        let mut t = t.clone();
        t.name = format!("copy-{}", t.name).into();
        t
    }));
    let big = ToolIndex::build(&doubled);
    let mut latencies = Vec::new();
    for _round in 0..5 {
        for q in &queries {
            let started = Instant::now();
            std::hint::black_box(big.search(&q.query, meta::DEFAULT_LIMIT));
            latencies.push(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
        }
    }
    latencies.sort_unstable();
    let ms = |ns: u64| ns as f64 / 1e6;

    // Tokens of a ten-server setup, listed in full and in search mode.
    let ten: Vec<&Tool> = ten_tools.iter().collect();
    let full_tokens: usize = ten.iter().map(|t| tokens::tool_tokens(t)).sum::<usize>()
        + tokens::list_overhead(ten.len());
    let search_list = [meta::search_tools(), meta::call_tool()];
    let search_tokens: usize = search_list
        .iter()
        .map(|t| tokens::tool_tokens(t))
        .sum::<usize>()
        + tokens::list_overhead(search_list.len());
    Ok(SearchReport {
        servers: servers.len(),
        tools: tools.len(),
        skipped_tools: skipped,
        queries: queries.len(),
        recall_at_1: at1 as f64 / n,
        recall_at_5: at5 as f64 / n,
        mrr_at_10: rr / n,
        ten_queries: ten_queries.len(),
        ten_recall_at_1: t1 as f64 / tn,
        ten_recall_at_5: t5 as f64 / tn,
        ten_mrr_at_10: trr / tn,
        index_build_ms,
        latency_tools: doubled.len(),
        latency_p50_ms: ms(percentile(&latencies, 0.50)),
        latency_p99_ms: ms(percentile(&latencies, 0.99)),
        latency_max_ms: ms(latencies.last().copied().unwrap_or_default()),
        ten_servers: TEN.iter().map(|s| (*s).to_owned()).collect(),
        ten_tools: ten.len(),
        full_tokens,
        search_tokens,
        token_saving: 1.0 - search_tokens as f64 / full_tokens.max(1) as f64,
        misses,
    })
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// The report as Markdown (printed, and written next to the run's).
pub fn markdown(r: &SearchReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "## Tool search (`search_tools`)\n\nCorpus: {} tools from {} real servers (npm, PyPI; {} definitions that do not parse skipped), {} labelled requests. Index: BM25 (`bm25` crate) over names, titles, descriptions and parameters, built in {:.1} ms.\n\n",
        r.tools, r.servers, r.skipped_tools, r.queries, r.index_build_ms
    ));
    out.push_str("| figure | value | target |\n| --- | --- | --- |\n");
    out.push_str(&format!(
        "| recall@1 | {:.3} | |\n| recall@5 | {:.3} | ≥ {RECALL_AT_5}: {} |\n| MRR@10 | {:.3} | |\n",
        r.recall_at_1,
        r.recall_at_5,
        verdict(r.recall_at_5 >= RECALL_AT_5),
        r.mrr_at_10
    ));
    out.push_str(&format!(
        "| in one client's view (the ten servers below, {} tools, {} of the requests): recall@1 / recall@5 / MRR@10 | {:.3} / {:.3} / {:.3} | |\n",
        r.ten_tools, r.ten_queries, r.ten_recall_at_1, r.ten_recall_at_5, r.ten_mrr_at_10
    ));
    out.push_str(&format!(
        "| search latency over {} tools, p50 / p99 / max | {:.3} / {:.3} / {:.3} ms | ≤ {LATENCY_MS} ms (p99): {} |\n",
        r.latency_tools,
        r.latency_p50_ms,
        r.latency_p99_ms,
        r.latency_max_ms,
        verdict(r.latency_p99_ms <= LATENCY_MS)
    ));
    out.push_str(&format!(
        "| tokens listed, ten servers ({} tools): full / search mode | {} / {} ({:.1}% fewer) | ≥ {:.0}% fewer: {} |\n\n",
        r.ten_tools,
        r.full_tokens,
        r.search_tokens,
        r.token_saving * 100.0,
        TOKEN_SAVING * 100.0,
        verdict(r.token_saving >= TOKEN_SAVING)
    ));
    out.push_str(&format!(
        "Ten servers: {}. Tokens in {} (an estimate for other model families).\n",
        r.ten_servers.join(", "),
        tokens::ENCODING
    ));
    if !r.misses.is_empty() {
        out.push_str(&format!(
            "\nNot in the first five ({}), a few of them:\n\n",
            r.misses.len()
        ));
        for (query, right, found) in r.misses.iter().take(8) {
            out.push_str(&format!(
                "- \"{query}\": wanted `{right}`, got {}\n",
                found
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    out
}
