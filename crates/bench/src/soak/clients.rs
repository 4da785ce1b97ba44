//! The soak's clients: each with its own token, protocol and route, calling in
//! a loop with a pause between calls, connecting again when its connection
//! breaks, and counting what the gateway answered.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rmcp::{ServiceError, model::CallToolResponse};
use serde::Serialize;
use tokio::{sync::watch, task::JoinHandle};

use super::{Rng, SERVERS};
use crate::{
    load::{Protocol, Session, Target, Workload, short},
    stats::Samples,
};

/// Longest a call may take before it counts as unanswered.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause before connecting again after a failure.
const RECONNECT_PAUSE: Duration = Duration::from_millis(250);
/// A revoked client stops after this many refusals.
const REFUSALS_TO_STOP: u64 = 3;
/// Share of calls that ask for a larger result.
const PAYLOAD_SHARE: f64 = 0.05;
/// Size of the larger result.
const PAYLOAD_BYTES: usize = 32 * 1024;
/// Where a client sends its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Route {
    /// `/mcp`: every server's tools, `SERVER__tool`, a random server per call.
    All,
    /// `/mcp/{server}`.
    Server(&'static str),
}

/// What one client did, counted as it goes.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Calls the gateway answered: a result, or a JSON-RPC error.
    pub answered: AtomicU64,
    /// Answered with the expected result.
    pub ok: AtomicU64,
    /// Sent without an answer (the connection broke, or no answer in 30 s):
    /// the gateway may or may not have seen them.
    pub in_doubt: AtomicU64,
    /// Refused with 401 after the client's token was revoked.
    pub refused: AtomicU64,
    /// Answered although sent after the revocation had been confirmed.
    pub after_revoke: AtomicU64,
    revoked_at: Mutex<Option<Instant>>,
}

impl Tally {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn revoked_at(&self) -> Option<Instant> {
        *self.revoked_at.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One client of the soak.
#[derive(Debug)]
pub(crate) struct Client {
    pub name: String,
    pub protocol: Protocol,
    pub route: Route,
    pub keep_alive: bool,
    pub tally: Tally,
}

/// The current minute's figures, taken by the monitor once a minute.
#[derive(Debug, Default)]
pub(crate) struct Window {
    /// Latencies of calls answered with the expected result, and failures by kind.
    pub samples: Samples,
    pub answered: u64,
}

/// Every client of the run, and the window they report to.
pub(crate) struct Pool {
    mcp_url: String,
    think: Duration,
    seed: u64,
    stop: watch::Receiver<bool>,
    window: Mutex<Window>,
    /// The whole run's latencies and failures per server called.
    by_server: Mutex<BTreeMap<&'static str, Samples>>,
    clients: Mutex<Vec<Arc<Client>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Pool {
    pub fn new(mcp_url: &str, think: Duration, seed: u64, stop: watch::Receiver<bool>) -> Self {
        Self {
            mcp_url: mcp_url.to_owned(),
            think,
            seed,
            stop,
            window: Mutex::default(),
            by_server: Mutex::default(),
            clients: Mutex::default(),
            tasks: Mutex::default(),
        }
    }

    /// The name the next client gets (`soak-000`, ...).
    pub fn next_name(&self) -> String {
        format!("soak-{:03}", self.lock_clients().len())
    }

    fn lock_clients(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Client>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a client named `name` (from [`Pool::next_name`]) with `token`.
    /// Protocol, route and connection reuse follow from its number, so every
    /// mix is covered: 2 protocols x 4 routes x keep-alive or not.
    pub fn spawn(self: &Arc<Self>, name: String, token: String) {
        let index = self.lock_clients().len();
        let routes = [
            Route::All,
            Route::Server(SERVERS[0]),
            Route::Server(SERVERS[1]),
            Route::Server(SERVERS[2]),
        ];
        let client = Arc::new(Client {
            name,
            protocol: if index.is_multiple_of(2) {
                Protocol::Session
            } else {
                Protocol::Stateless
            },
            route: routes[(index / 2) % routes.len()],
            keep_alive: (index / 8).is_multiple_of(2),
            tally: Tally::default(),
        });
        self.lock_clients().push(client.clone());
        let seed = self.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let task = tokio::spawn(self.clone().call_loop(client, token, Rng::new(seed)));
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
    }

    /// Every client so far, revoked ones included.
    pub fn clients(&self) -> Vec<Arc<Client>> {
        self.lock_clients().clone()
    }

    /// Clients whose token is not revoked.
    pub fn live(&self) -> Vec<Arc<Client>> {
        self.lock_clients()
            .iter()
            .filter(|c| c.tally.revoked_at().is_none())
            .cloned()
            .collect()
    }

    /// Notes that `client`'s token was revoked (the control API confirmed it).
    pub fn revoked(&self, client: &Client) {
        *client
            .tally
            .revoked_at
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// The window so far, replaced by an empty one.
    pub fn take_window(&self) -> Window {
        std::mem::take(&mut *self.window.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The whole run's latencies and failures per server, taken once at the end.
    pub fn take_by_server(&self) -> BTreeMap<&'static str, Samples> {
        std::mem::take(&mut *self.by_server.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn note(&self, f: impl FnOnce(&mut Window)) {
        f(&mut self.window.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn failed(&self, kind: String) {
        self.note(|w| *w.samples.errors.entry(kind).or_default() += 1);
    }

    /// Waits for every client task (after the stop signal).
    pub async fn join(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            if let Err(e) = task.await {
                self.failed(format!("client task failed: {e}"));
            }
        }
    }

    async fn call_loop(self: Arc<Self>, client: Arc<Client>, token: String, mut rng: Rng) {
        let target = Target {
            url: match client.route {
                Route::All => self.mcp_url.clone(),
                Route::Server(server) => format!("{}/{server}", self.mcp_url),
            },
            token: Some(token),
            keep_alive: client.keep_alive,
            protocol: client.protocol,
            tool_prefix: String::new(),
        };
        let tally = &client.tally;
        let mut stop = self.stop.clone();
        let mut session: Option<Session> = None;
        while !*stop.borrow() {
            let revoked = tally.revoked_at();
            if revoked.is_some() && Tally::get(&tally.refused) >= REFUSALS_TO_STOP {
                break;
            }
            let pause = match &session {
                Some(live) => {
                    let started = Instant::now();
                    let kept = self.call(live, client.route, tally, &mut rng).await;
                    if kept {
                        // Sent after the revocation was confirmed, and answered.
                        if revoked.is_some_and(|at| started > at) {
                            Tally::add(&tally.after_revoke);
                        }
                        self.think.mul_f64(rng.between(0.0, 2.0))
                    } else {
                        if let Some(broken) = session.take() {
                            broken.close().await;
                        }
                        RECONNECT_PAUSE
                    }
                }
                None => match Session::connect(&target).await {
                    Ok(opened) => {
                        session = Some(opened);
                        Duration::ZERO
                    }
                    Err(e) => {
                        let kind = kind_of(&e.to_string());
                        if kind == UNAUTHORIZED && revoked.is_some() {
                            Tally::add(&tally.refused);
                        } else {
                            self.failed(format!("connect: {kind}"));
                        }
                        RECONNECT_PAUSE
                    }
                },
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
        if let Some(open) = session {
            open.close().await;
        }
    }

    /// One call; false when the session should be opened again.
    async fn call(&self, session: &Session, route: Route, tally: &Tally, rng: &mut Rng) -> bool {
        let workload = if rng.chance(PAYLOAD_SHARE) {
            Workload::Payload(PAYLOAD_BYTES)
        } else {
            Workload::Echo
        };
        let (server, prefix) = match route {
            Route::All => {
                let server = SERVERS[rng.below(SERVERS.len())];
                (server, format!("{server}__"))
            }
            Route::Server(server) => (server, String::new()),
        };
        let started = Instant::now();
        let outcome = tokio::time::timeout(
            CALL_TIMEOUT,
            session.peer().call_tool_once(workload.request(&prefix)),
        )
        .await;
        let latency = started.elapsed();
        let failure = match outcome {
            Ok(Ok(CallToolResponse::Complete(result))) => match workload.check(&result) {
                Ok(()) => None,
                Err(why) => Some(format!("answered: {why}{}", tool_error_text(&result))),
            },
            Ok(Ok(_)) => Some("answered: not a complete result".to_owned()),
            Ok(Err(ServiceError::McpError(e))) => Some(format!(
                "answered: JSON-RPC error {}: {}",
                e.code.0,
                short(&e.message)
            )),
            Ok(Err(e)) => {
                let kind = kind_of(&e.to_string());
                if kind == UNAUTHORIZED && tally.revoked_at().is_some() {
                    Tally::add(&tally.refused);
                } else {
                    Tally::add(&tally.in_doubt);
                    self.failed(format!("unanswered: {kind}"));
                }
                return false;
            }
            Err(_) => {
                Tally::add(&tally.in_doubt);
                self.failed("unanswered: no answer in 30 s".into());
                return false;
            }
        };
        Tally::add(&tally.answered);
        if failure.is_none() {
            Tally::add(&tally.ok);
        }
        let record = |samples: &mut Samples| match &failure {
            None => samples
                .latencies_ns
                .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX)),
            Some(kind) => *samples.errors.entry(kind.clone()).or_default() += 1,
        };
        record(
            self.by_server
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(server)
                .or_default(),
        );
        self.note(|w| {
            w.answered += 1;
            record(&mut w.samples);
        });
        true
    }
}

/// What a refused token looks like through rmcp's client (HTTP 401).
const UNAUTHORIZED: &str = "401 unauthorized";

/// A failure's kind: its message without type names, ids and ports, so kinds group.
fn kind_of(message: &str) -> String {
    if message.contains("Auth required") || message.contains("401 Unauthorized") {
        return UNAUTHORIZED.to_owned();
    }
    // rmcp names the transport's type in brackets: `Transport [rmcp::...<...>] error: ...`.
    // Numbers become `#` (ids, ports), but JSON-RPC codes (`-32002`) stay.
    let mut depth = 0usize;
    let mut code = false;
    let mut kind = String::new();
    for c in message.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            '-' => {
                code = true;
                kind.push(c);
            }
            d if d.is_ascii_digit() => kind.push(if code { d } else { '#' }),
            ' ' if kind.ends_with(' ') => code = false,
            other => {
                code = false;
                kind.push(other);
            }
        }
    }
    short(&kind)
}

/// The text of a tool error, to tell refusals from failures.
fn tool_error_text(result: &rmcp::model::CallToolResult) -> String {
    match result.content.first() {
        Some(rmcp::model::ContentBlock::Text(t)) if result.is_error == Some(true) => {
            format!(": {}", short(&t.text))
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_group() {
        assert_eq!(
            kind_of("Transport [rmcp::Worker<a::B>] error: -32002: port 40123"),
            "Transport error: -32002: port #####"
        );
        assert_eq!(kind_of("Auth required"), UNAUTHORIZED);
    }
}

/// Figures of one client, for the report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ClientFigures {
    pub name: String,
    pub protocol: Protocol,
    pub route: Route,
    pub keep_alive: bool,
    pub revoked: bool,
    pub answered: u64,
    pub ok: u64,
    pub in_doubt: u64,
    pub refused: u64,
    pub answered_after_revoke: u64,
}

impl Client {
    pub fn figures(&self) -> ClientFigures {
        let t = &self.tally;
        ClientFigures {
            name: self.name.clone(),
            protocol: self.protocol,
            route: self.route,
            keep_alive: self.keep_alive,
            revoked: t.revoked_at().is_some(),
            answered: Tally::get(&t.answered),
            ok: Tally::get(&t.ok),
            in_doubt: Tally::get(&t.in_doubt),
            refused: Tally::get(&t.refused),
            answered_after_revoke: Tally::get(&t.after_revoke),
        }
    }
}

/// Failures by kind, summed over windows.
pub(crate) fn merge_errors(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (kind, n) in from {
        *into.entry(kind.clone()).or_default() += n;
    }
}
