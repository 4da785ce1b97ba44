//! The load generator: MCP sessions on rmcp's streamable HTTP client, driven in a
//! closed loop (each session sends its next `tools/call` when the last one answered).

use std::{
    borrow::Cow,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rmcp::{
    ClientLifecycleMode, RoleClient,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
        ContentBlock, Implementation, JsonObject, ProtocolVersion,
    },
    service::{Peer, RunningService, serve_client_with_lifecycle},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::json;

use crate::{BoxError, stats::Samples};

/// Pause after a failed call, so a dead session cannot spin the CPU.
const ERROR_BACKOFF: Duration = Duration::from_millis(5);
/// Longest a single call may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest `initialize` may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Where sessions connect.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    /// Client token sent as `Authorization: Bearer …` (the gateway needs one).
    pub token: Option<String>,
    /// Reuse HTTP connections between requests. Off is what rmcp's own client
    /// does (`from_config`: a new connection per POST).
    pub keep_alive: bool,
    /// The protocol the client speaks.
    pub protocol: Protocol,
    /// Put before the tool names (`SERVER__` on the gateway's `/mcp`).
    pub tool_prefix: String,
}

/// The protocol a load client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Protocol {
    /// 2026-07-28: stateless requests (`server/discover`, no session).
    #[value(name = "2026-07-28")]
    #[serde(rename = "2026-07-28")]
    Stateless,
    /// 2025-11-25: a session opened with `initialize`.
    #[value(name = "2025-11-25")]
    #[serde(rename = "2025-11-25")]
    Session,
}

impl Protocol {
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Stateless => "2026-07-28",
            Protocol::Session => "2025-11-25",
        }
    }
}

/// What each call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `echo` with a short text; the result is checked to be that text.
    Echo,
    /// `payload` returning this many bytes; the result length is checked.
    Payload(usize),
}

impl Workload {
    pub fn label(self) -> String {
        match self {
            Workload::Echo => "echo".into(),
            Workload::Payload(n) if n % 1024 == 0 => format!("{} KB", n / 1024),
            Workload::Payload(n) => format!("{n} B"),
        }
    }

    pub(crate) fn request(self, prefix: &str) -> CallToolRequestParams {
        let (name, args) = match self {
            Workload::Echo => ("echo", json!({ "text": ECHO_TEXT })),
            Workload::Payload(n) => ("payload", json!({ "bytes": n })),
        };
        let name = format!("{prefix}{name}");
        let args: JsonObject = match args {
            serde_json::Value::Object(map) => map,
            _ => JsonObject::new(),
        };
        CallToolRequestParams::new(Cow::Owned(name)).with_arguments(args)
    }

    /// Why `result` is not what the echo server returns for this workload.
    pub(crate) fn check(self, result: &CallToolResult) -> Result<(), String> {
        if result.is_error == Some(true) {
            return Err("tool returned isError".into());
        }
        let text = match result.content.first() {
            Some(ContentBlock::Text(t)) => t.text.as_str(),
            _ => return Err("result has no text content".into()),
        };
        match self {
            Workload::Echo if text == ECHO_TEXT => Ok(()),
            Workload::Echo => Err("echo returned other text".into()),
            Workload::Payload(n) if text.len() == n => Ok(()),
            Workload::Payload(_) => Err("payload has the wrong length".into()),
        }
    }
}

const ECHO_TEXT: &str = "hello from switchboard-bench";

/// One live MCP session.
pub struct Session {
    service: RunningService<RoleClient, ClientConfig>,
    tool_prefix: String,
}

impl Session {
    /// Connects: `server/discover` (2026-07-28) or `initialize` (2025-11-25).
    pub async fn connect(target: &Target) -> Result<Self, BoxError> {
        let mut config = StreamableHttpClientTransportConfig::with_uri(target.url.clone());
        if let Some(token) = &target.token {
            config = config.auth_header(token.clone());
        }
        let transport = if target.keep_alive {
            let client = reqwest::Client::builder()
                .tcp_nodelay(true)
                .pool_idle_timeout(Duration::from_secs(90))
                .build()?;
            StreamableHttpClientTransport::with_client(client, config)
        } else {
            StreamableHttpClientTransport::from_config(config)
        };
        let (version, lifecycle) = match target.protocol {
            Protocol::Stateless => (
                ProtocolVersion::V_2026_07_28,
                ClientLifecycleMode::Discover {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                },
            ),
            Protocol::Session => (
                ProtocolVersion::V_2025_11_25,
                ClientLifecycleMode::Initialize,
            ),
        };
        let info = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("switchboard-bench", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(version);
        let serving = serve_client_with_lifecycle(info, transport, lifecycle);
        let service = tokio::time::timeout(CONNECT_TIMEOUT, serving)
            .await
            .map_err(|_| format!("no answer to initialize from {} within 20 s", target.url))??;
        Ok(Self {
            service,
            tool_prefix: target.tool_prefix.clone(),
        })
    }

    /// Opens `count` sessions, a few at a time.
    pub async fn connect_many(target: &Target, count: usize) -> Result<Vec<Self>, BoxError> {
        let mut sessions = Vec::with_capacity(count);
        for chunk in (0..count).collect::<Vec<_>>().chunks(8) {
            let opened =
                futures::future::join_all(chunk.iter().map(|_| Self::connect(target))).await;
            for session in opened {
                sessions.push(session?);
            }
        }
        Ok(sessions)
    }

    pub fn peer(&self) -> &Peer<RoleClient> {
        self.service.peer()
    }

    /// Ends the session (DELETE on the server side).
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.service.cancel()).await;
    }
}

/// Closes sessions concurrently.
pub async fn close_all(sessions: Vec<Session>) {
    futures::future::join_all(sessions.into_iter().map(Session::close)).await;
}

/// When a phase stops.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// After this long.
    After(Duration),
    /// After this many calls in total (all sessions together), or this long at most.
    Count(u64, Duration),
}

/// Runs one closed-loop phase on the first `concurrency` sessions and returns what it measured.
pub async fn run_phase(
    sessions: &[Session],
    concurrency: usize,
    workload: Workload,
    stop: Stop,
) -> Samples {
    let started = Instant::now();
    let (limit, budget) = match stop {
        Stop::After(d) => (d, None),
        Stop::Count(n, d) => (d, Some(Arc::new(AtomicU64::new(n)))),
    };
    let deadline = started + limit;
    let request = workload.request(sessions.first().map_or("", |s| s.tool_prefix.as_str()));
    let workers: Vec<_> = sessions
        .iter()
        .take(concurrency)
        .map(|s| {
            let peer = s.peer().clone();
            let request = request.clone();
            let budget = budget.clone();
            tokio::spawn(worker(peer, request, workload, deadline, budget))
        })
        .collect();
    let mut samples = Samples::default();
    for worker in workers {
        match worker.await {
            Ok(s) => samples.merge(s, true),
            Err(e) => {
                *samples
                    .errors
                    .entry(format!("worker task failed: {e}"))
                    .or_default() += 1;
            }
        }
    }
    samples.elapsed = match stop {
        Stop::After(d) => d,
        Stop::Count(..) => started.elapsed(),
    };
    samples
}

async fn worker(
    peer: Peer<RoleClient>,
    request: CallToolRequestParams,
    workload: Workload,
    deadline: Instant,
    budget: Option<Arc<AtomicU64>>,
) -> Samples {
    let mut samples = Samples::default();
    loop {
        if Instant::now() >= deadline {
            break;
        }
        if let Some(budget) = &budget {
            let taken = budget.fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(1)
            });
            if taken.is_err() {
                break;
            }
        }
        let t0 = Instant::now();
        let outcome =
            tokio::time::timeout(CALL_TIMEOUT, peer.call_tool_once(request.clone())).await;
        let latency = t0.elapsed();
        let failure = match outcome {
            Err(_) => Some("call timed out after 30 s".to_owned()),
            Ok(Err(e)) => Some(short(&e.to_string())),
            Ok(Ok(CallToolResponse::Complete(result))) => workload.check(&result).err(),
            Ok(Ok(_)) => Some("result was not a complete CallToolResult".to_owned()),
        };
        match failure {
            None => samples
                .latencies_ns
                .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX)),
            Some(message) => {
                *samples.errors.entry(message).or_default() += 1;
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
        }
    }
    samples
}

/// Error messages are grouped by text: keep them short so ids and payloads do not split groups.
pub(crate) fn short(message: &str) -> String {
    let mut s: String = message.chars().take(160).collect();
    if s.len() < message.len() {
        s.push('…');
    }
    s
}
