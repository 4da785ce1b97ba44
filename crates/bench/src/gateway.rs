//! Driving `switchboard` the way a user does: the admin commands, then `serve`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use serde::Deserialize;
use tokio::process::Command;

use crate::{
    BoxError,
    procs::{self, Proc},
};

/// A data directory with its own servers and clients.
pub struct DataDir {
    pub switchboard: PathBuf,
    pub dir: PathBuf,
    /// `--database` for every command (None: the SQLite files in `dir`).
    pub database: Option<String>,
    /// A private HOME (and XDG folders) for every command, with no inherited
    /// SWITCHBOARD_* settings (None: this process's environment).
    pub home: Option<PathBuf>,
}

impl DataDir {
    pub fn new(switchboard: &Path, dir: PathBuf) -> Result<Self, BoxError> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            switchboard: switchboard.to_owned(),
            dir,
            database: None,
            home: None,
        })
    }

    /// The same, with `home` as HOME (made if missing) for every command.
    pub fn with_home(mut self, home: PathBuf) -> Result<Self, BoxError> {
        for sub in XDG_DIRS.map(|(_, sub)| sub) {
            std::fs::create_dir_all(home.join(sub))?;
        }
        self.home = Some(home);
        Ok(self)
    }

    /// The same, with the configuration and the audit log on `database`.
    pub fn on_database(mut self, database: &str) -> Self {
        self.database = Some(database.to_owned());
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.switchboard);
        command.arg("--data-dir").arg(&self.dir);
        if let Some(database) = &self.database {
            command.arg("--database").arg(database);
        }
        if let Some(home) = &self.home {
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with("SWITCHBOARD_") {
                    command.env_remove(key);
                }
            }
            command.env("HOME", home);
            for (key, sub) in XDG_DIRS {
                command.env(key, home.join(sub));
            }
        }
        command
    }

    /// Runs an admin command and returns its stdout.
    async fn admin(&self, args: &[&str]) -> Result<String, BoxError> {
        let output = tokio::time::timeout(
            Duration::from_secs(60),
            self.command().args(args).kill_on_drop(true).output(),
        )
        .await
        .map_err(|_| format!("`switchboard {}` did not finish in 60 s", args.join(" ")))??;
        if !output.status.success() {
            return Err(format!(
                "`switchboard {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            )
            .into());
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    pub async fn add_http_server(&self, name: &str, url: &str) -> Result<(), BoxError> {
        self.admin(&["servers", "add", name, "--url", url])
            .await
            .map(drop)
    }

    /// A legacy HTTP+SSE server (`servers add NAME --url URL --sse`).
    pub async fn add_sse_server(&self, name: &str, url: &str) -> Result<(), BoxError> {
        self.admin(&["servers", "add", name, "--url", url, "--sse"])
            .await
            .map(drop)
    }

    pub async fn add_stdio_server(
        &self,
        name: &str,
        command: &Path,
        args: &[&str],
    ) -> Result<(), BoxError> {
        let command = command.to_string_lossy();
        let mut all = vec!["servers", "add", name, "--command", &command];
        for arg in args {
            all.extend(["--arg", arg]);
        }
        self.admin(&all).await.map(drop)
    }

    /// `switchboard settings set KEY VALUE`.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), BoxError> {
        self.admin(&["settings", "set", key, value]).await.map(drop)
    }

    /// `switchboard settings show --json`.
    pub async fn settings_json(&self) -> Result<serde_json::Value, BoxError> {
        let out = self.admin(&["settings", "show", "--json"]).await?;
        Ok(serde_json::from_str(&out)?)
    }

    /// Creates a client and returns its token.
    pub async fn add_client(&self, name: &str) -> Result<String, BoxError> {
        let out = self.admin(&["clients", "add", name]).await?;
        let token = out.trim();
        if token.is_empty() {
            return Err("`switchboard clients add` printed no token".into());
        }
        Ok(token.to_owned())
    }

    /// Starts `switchboard serve` on a free loopback port and waits for its
    /// "MCP endpoint" line (at most `limit`).
    pub async fn serve(&self, log: &Path, limit: Duration) -> Result<Gateway, BoxError> {
        let mut command = self.command();
        command.args(["serve", "--listen", "127.0.0.1:0"]);
        let spawned = Instant::now();
        let mut proc = Proc::spawn("switchboard serve", &mut command, log)?;
        let mut lines = proc.stdout_lines()?;
        let line = proc
            .wait_for_line(&mut lines, "MCP endpoint:", limit)
            .await
            .map_err(|e| with_log(e, log))?;
        let endpoint_after = spawned.elapsed();
        // Keep draining stdout so the gateway never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let mcp_url = line
            .split_whitespace()
            .last()
            .ok_or("no URL on the MCP endpoint line")?
            .trim_end_matches('/')
            .to_owned();
        let info: RuntimeInfo = serde_json::from_str(
            &std::fs::read_to_string(self.dir.join("gateway.json"))
                .map_err(|e| format!("cannot read gateway.json: {e}"))?,
        )?;
        Ok(Gateway {
            proc,
            mcp_url,
            control_url: info.control_url,
            control_token: info.control_token,
            spawned,
            endpoint_after,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
        })
    }
}

/// The XDG variables a private HOME sets, and their folders in it.
const XDG_DIRS: [(&str, &str); 4] = [
    ("XDG_CONFIG_HOME", ".config"),
    ("XDG_DATA_HOME", ".local/share"),
    ("XDG_CACHE_HOME", ".cache"),
    ("XDG_STATE_HOME", ".local/state"),
];

fn with_log(error: BoxError, log: &Path) -> BoxError {
    let tail: String = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .rev()
        .take(10)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    format!("{error}\n--- {} ---\n{tail}", log.display()).into()
}

#[derive(Debug, Deserialize)]
struct RuntimeInfo {
    control_url: String,
    control_token: String,
}

#[derive(Debug, Deserialize)]
struct Status {
    servers: BTreeMap<String, ServerStatus>,
    #[serde(default)]
    direct_requests: u64,
}

#[derive(Debug, Deserialize)]
struct ServerStatus {
    state: String,
    error: Option<String>,
}

/// A running `switchboard serve`.
pub struct Gateway {
    pub proc: Proc,
    /// `http://127.0.0.1:PORT/mcp`
    pub mcp_url: String,
    control_url: String,
    control_token: String,
    /// When the process was started.
    pub spawned: Instant,
    /// From spawn to the "MCP endpoint" line.
    pub endpoint_after: Duration,
    http: reqwest::Client,
}

impl Gateway {
    /// Server name -> state, from the control API.
    async fn states(&self) -> Result<BTreeMap<String, ServerStatus>, BoxError> {
        Ok(self.status().await?.servers)
    }

    /// The state of server `name` (`ready`, `starting`, ...; None: not running).
    pub async fn server_state(&self, name: &str) -> Result<Option<String>, BoxError> {
        Ok(self.states().await?.remove(name).map(|s| s.state))
    }

    /// Requests the gateway served on its direct path (relayed as bytes).
    pub async fn direct_requests(&self) -> Result<u64, BoxError> {
        Ok(self.status().await?.direct_requests)
    }

    /// Runs a control API command (`POST <control>/rpc`) and returns its result.
    pub async fn rpc(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, BoxError> {
        let response = self
            .http
            .post(format!("{}rpc", self.control_url))
            .bearer_auth(&self.control_token)
            .header("x-switchboard", "bench")
            .json(&serde_json::json!({ "method": method, "params": params }))
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        if !status.is_success() {
            let message = body.get("message").and_then(|m| m.as_str());
            return Err(format!(
                "{method}: HTTP {status}: {}",
                message.unwrap_or("no message")
            )
            .into());
        }
        Ok(body)
    }

    async fn status(&self) -> Result<Status, BoxError> {
        let status: Status = self
            .http
            .get(format!("{}status", self.control_url))
            .bearer_auth(&self.control_token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(status)
    }

    /// Time from spawn until the control API first answers.
    pub async fn first_answer(&self, limit: Duration) -> Result<Duration, BoxError> {
        let until = Instant::now() + limit;
        loop {
            if self.states().await.is_ok() {
                return Ok(self.spawned.elapsed());
            }
            if Instant::now() >= until {
                return Err("the control API did not answer".into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Waits until `expected` servers are all ready; returns the time since spawn.
    pub async fn all_ready(&self, expected: usize, limit: Duration) -> Result<Duration, BoxError> {
        let until = Instant::now() + limit;
        loop {
            let states = self.states().await?;
            let ready = states.values().filter(|s| s.state == "ready").count();
            if ready >= expected {
                return Ok(self.spawned.elapsed());
            }
            // Blocked servers wait for the user: no point waiting for them.
            let blocked = states.values().any(|s| s.state == "blocked");
            if blocked || Instant::now() >= until {
                let stuck: Vec<String> = states
                    .iter()
                    .filter(|(_, s)| s.state != "ready")
                    .take(5)
                    .map(|(n, s)| {
                        format!(
                            "{n}: {} {}",
                            s.state,
                            s.error.as_deref().unwrap_or_default()
                        )
                    })
                    .collect();
                return Err(format!(
                    "{ready} of {expected} servers ready after {limit:?}: {}",
                    stuck.join("; ")
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid
    }

    /// Stops the gateway (SIGTERM: it stops its stdio servers) and kills, by PID,
    /// any of its children still alive afterwards.
    pub async fn stop(self) -> usize {
        let children = procs::children(self.proc.pid);
        self.proc.stop(Duration::from_secs(10)).await;
        // Give SIGTERM'd children a moment, then make sure.
        tokio::time::sleep(Duration::from_millis(100)).await;
        procs::kill_leftovers(&children)
    }
}
