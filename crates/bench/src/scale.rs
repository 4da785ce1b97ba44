//! Scale run: many stdio servers with many tools behind one gateway.
//!
//! - `serve` startup: spawn -> "MCP endpoint" line (what the target is about:
//!   stdio servers start in the background), -> control API answering, -> every
//!   server ready.
//! - `tools/list` on `/mcp`: cold (issued the moment `serve` is up, so it waits
//!   for the servers) and cached (every server ready: served from the gateway's
//!   tool cache), through rmcp's client (including its parsing) and as raw HTTP
//!   (time to the last byte).

use std::{
    path::Path,
    time::{Duration, Instant},
};

use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    BoxError,
    gateway::DataDir,
    load::{Session, Target},
    procs,
    run::{Binaries, progress},
    stats::median,
};

/// Repeated cached `tools/list` calls (each way).
const CACHED_CALLS: usize = 20;

#[derive(Debug, Clone, Serialize)]
pub struct Startup {
    /// Spawn -> "MCP endpoint" printed (the endpoint accepts connections).
    pub endpoint_ms: f64,
    /// Spawn -> the control API's first answer.
    pub first_answer_ms: f64,
    /// Spawn -> every server ready.
    pub all_ready_ms: f64,
    /// The first `tools/list` on `/mcp`, sent as soon as the endpoint was up.
    pub cold_list_ms: f64,
    /// Tools that first list returned.
    pub cold_list_tools: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListTimes {
    pub p50_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub tools: usize,
    pub bytes: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScaleResult {
    pub servers: usize,
    pub tools_per_server: usize,
    /// The first is the first start with these servers (their tool definitions
    /// are seen, and pinned, for the first time); the others are restarts.
    pub startups: Vec<Startup>,
    /// Spawn -> MCP endpoint, median over every startup.
    pub endpoint_ms: f64,
    /// Median over the restarts (the first start when there was only one).
    pub first_answer_ms: f64,
    pub all_ready_ms: f64,
    pub cold_list_ms: f64,
    /// Cached `tools/list` through rmcp's client (request to parsed result).
    pub cached_rmcp: ListTimes,
    /// Cached `tools/list` as raw HTTP (request to last byte of the response).
    pub cached_raw: ListTimes,
    /// Gateway RSS with every server ready.
    pub gateway_rss_mb: f64,
    pub policy_note: String,
}

pub async fn run(
    bins: &Binaries,
    dir: &Path,
    servers: usize,
    tools_per_server: usize,
    startups: usize,
) -> Result<ScaleResult, BoxError> {
    let data = DataDir::new(&bins.switchboard, dir.join("data"))?;
    // Every echo server has `echo` and `payload`; the rest are generated.
    let extra = tools_per_server.saturating_sub(2).to_string();
    let args = ["--stdio", "--tools", extra.as_str()];
    // `servers add` the way a user does (a few at a time: each is a short SQLite write).
    let names: Vec<String> = (0..servers).map(|i| format!("s{i:03}")).collect();
    for chunk in names.chunks(8) {
        let added = futures::future::join_all(
            chunk
                .iter()
                .map(|name| data.add_stdio_server(name, &bins.echo, &args)),
        )
        .await;
        for outcome in added {
            outcome?;
        }
    }
    let token = data.add_client("bench").await?;
    progress(&format!(
        "scale: {servers} stdio servers x {tools_per_server} tools configured"
    ));

    let mut runs = Vec::new();
    let mut cached = None;
    for i in 0..startups {
        let log = dir.join(format!("gateway-{i}.log"));
        let gw = data.serve(&log, Duration::from_secs(30)).await?;
        let endpoint_ms = ms(gw.endpoint_after);
        let target = Target {
            url: gw.mcp_url.clone(),
            token: Some(token.clone()),
            keep_alive: true,
            // The merged list is cached per client; a session client gets it
            // as JSON serialized once (the gateway's direct path).
            protocol: crate::load::Protocol::Session,
            tool_prefix: String::new(),
        };
        let cold = async {
            let session = Session::connect(&target).await?;
            let t = Instant::now();
            let list = session.peer().list_tools(None).await?;
            let elapsed = t.elapsed();
            session.close().await;
            Ok::<_, BoxError>((elapsed, list.tools.len()))
        };
        let first = gw.first_answer(Duration::from_secs(10));
        let ready = gw.all_ready(servers, Duration::from_secs(60));
        let (cold, first, ready) = tokio::join!(cold, first, ready);
        let (cold, first, ready) = (cold?, first?, ready?);
        let startup = Startup {
            endpoint_ms,
            first_answer_ms: ms(first),
            all_ready_ms: ms(ready),
            cold_list_ms: ms(cold.0),
            cold_list_tools: cold.1,
        };
        progress(&format!(
            "scale: startup {}: endpoint {:.0} ms, all {servers} ready {:.0} ms, cold tools/list {:.0} ms ({} tools)",
            i + 1,
            startup.endpoint_ms,
            startup.all_ready_ms,
            startup.cold_list_ms,
            startup.cold_list_tools
        ));
        runs.push(startup);
        if i + 1 == startups {
            let rmcp = cached_rmcp(&target).await?;
            let raw = cached_raw(&target).await?;
            let rss = procs::stat(gw.pid()).map(|s| s.rss).unwrap_or_default();
            progress(&format!(
                "scale: cached tools/list p50 {:.1} ms (rmcp client), {:.1} ms (raw HTTP, {} bytes)",
                rmcp.p50_ms, raw.p50_ms, raw.bytes
            ));
            cached = Some((rmcp, raw, rss));
        }
        let left = gw.stop().await;
        if left > 0 {
            progress(&format!(
                "scale: killed {left} stdio servers left after shutdown"
            ));
        }
    }
    let (cached_rmcp, cached_raw, rss) = cached.ok_or("no scale startup ran")?;
    let restarts = if runs.len() > 1 {
        &runs[1..]
    } else {
        &runs[..]
    };
    let med = |f: fn(&Startup) -> f64| median(&mut restarts.iter().map(f).collect::<Vec<_>>());
    Ok(ScaleResult {
        servers,
        tools_per_server,
        endpoint_ms: median(&mut runs.iter().map(|s| s.endpoint_ms).collect::<Vec<_>>()),
        first_answer_ms: med(|s| s.first_answer_ms),
        all_ready_ms: med(|s| s.all_ready_ms),
        cold_list_ms: med(|s| s.cold_list_ms),
        startups: runs,
        cached_rmcp,
        cached_raw,
        gateway_rss_mb: rss as f64 / (1024.0 * 1024.0),
        policy_note: "printed after this table by `cargo bench -p switchboard-gateway --bench policy` (same 100 x 50 tools), which `make bench` runs next".into(),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn list_times(mut times: Vec<f64>, tools: usize, bytes: usize) -> ListTimes {
    let min = times.iter().copied().fold(f64::INFINITY, f64::min);
    let max = times.iter().copied().fold(0.0, f64::max);
    ListTimes {
        p50_ms: median(&mut times),
        min_ms: if min.is_finite() { min } else { 0.0 },
        max_ms: max,
        tools,
        bytes,
    }
}

async fn cached_rmcp(target: &Target) -> Result<ListTimes, BoxError> {
    let session = Session::connect(target).await?;
    let mut times = Vec::new();
    let mut tools = 0;
    for _ in 0..CACHED_CALLS {
        let t = Instant::now();
        let list = session.peer().list_tools(None).await?;
        times.push(ms(t.elapsed()));
        tools = list.tools.len();
    }
    session.close().await;
    Ok(list_times(times, tools, 0))
}

/// `tools/list` over plain HTTP: initialize, then time POSTs to the last byte.
async fn cached_raw(target: &Target) -> Result<ListTimes, BoxError> {
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?;
    let token = target.token.clone().unwrap_or_default();
    let post = |body: Value, session: Option<&str>| {
        let mut request = http
            .post(&target.url)
            .bearer_auth(&token)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(id) = session {
            request = request
                .header("mcp-session-id", id)
                .header("mcp-protocol-version", "2025-11-25");
        }
        request.send()
    };
    let init = post(
        json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": { "name": "switchboard-bench-raw", "version": env!("CARGO_PKG_VERSION") }
            }
        }),
        None,
    )
    .await?
    .error_for_status()?;
    let session = init
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .ok_or("initialize answered without a session id")?
        .to_owned();
    init.bytes().await?;
    post(
        json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
        Some(&session),
    )
    .await?
    .error_for_status()?
    .bytes()
    .await?;
    let mut times = Vec::new();
    let mut last = Vec::new();
    for id in 0..CACHED_CALLS {
        let t = Instant::now();
        let body = post(
            json!({ "jsonrpc": "2.0", "id": id + 2, "method": "tools/list", "params": {} }),
            Some(&session),
        )
        .await?
        .error_for_status()?
        .bytes()
        .await?;
        times.push(ms(t.elapsed()));
        last = body.to_vec();
    }
    let tools = count_tools(&last).ok_or("tools/list answered without a tool list")?;
    let _ = http
        .delete(&target.url)
        .bearer_auth(&token)
        .header("mcp-session-id", &session)
        .send()
        .await;
    Ok(list_times(times, tools, last.len()))
}

/// Tools in a `tools/list` response, sent as JSON or as SSE `data:` lines.
fn count_tools(body: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(body).ok()?;
    let from_json = |s: &str| {
        serde_json::from_str::<Value>(s)
            .ok()?
            .pointer("/result/tools")?
            .as_array()
            .map(Vec::len)
    };
    from_json(text).or_else(|| {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .find_map(|d| from_json(d.trim_start()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_tools_in_json_and_sse() {
        let json = br#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"a"},{"name":"b"}]}}"#;
        assert_eq!(count_tools(json), Some(2));
        let sse = b"id: 0\nretry: 3000\ndata: \n\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[{\"name\":\"a\"}]}}\n\n";
        assert_eq!(count_tools(sse), Some(1));
        assert_eq!(count_tools(b"nothing"), None);
    }
}
