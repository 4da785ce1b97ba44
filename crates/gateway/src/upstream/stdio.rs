//! Spawning and supervising a stdio server process.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader},
    process::{Child, ChildStdin, ChildStdout},
};

use switchboard_store::SandboxConfig;

use super::StderrTail;
use crate::shell_path;

/// Rotate a server's stderr log when it grows past this.
const LOG_ROTATE_BYTES: u64 = 5 * 1024 * 1024;

/// A running server process.
pub(crate) struct Process {
    child: Child,
    tail: Arc<Mutex<StderrTail>>,
    stderr_done: Option<tokio::task::JoinHandle<()>>,
}

/// How this host starts sandboxed servers.
#[derive(Debug, Clone)]
pub struct SandboxHost {
    /// The executable that enters the sandbox and runs the server
    /// (the host's own, see `switchboard_sandbox::run_if_launcher`).
    pub launcher: PathBuf,
    /// Where each server's private temp folder goes: `<dir>/<name>`.
    pub temp_root: PathBuf,
}

/// A stdio server about to start.
pub(crate) struct StdioLaunch<'a> {
    pub name: &'a str,
    pub command: &'a str,
    pub args: &'a [String],
    /// Its configured environment, secrets resolved.
    pub env: &'a BTreeMap<String, String>,
    pub cwd: Option<&'a str>,
    pub sandbox: &'a SandboxConfig,
}

/// Starts the server with the login shell's PATH, stdout/stdin as the MCP
/// channel and stderr appended to `<log_dir>/<name>.log`. Sandboxed (the
/// default), it runs through the launcher with the minimal environment;
/// with its sandbox off, as the user with the gateway's environment.
pub(crate) async fn spawn(
    launch: &StdioLaunch<'_>,
    host: Option<&SandboxHost>,
    log_dir: &Path,
) -> Result<(Process, (ChildStdout, ChildStdin)), String> {
    let path = shell_path::login_path().await;
    let command = launch.command;
    let found = shell_path::resolve(command, path)
        .ok_or_else(|| format!("command not found: {command} (searched the login shell's PATH)"))?;
    let base_dir = base_dir(launch.cwd);
    let program = if found.is_absolute() {
        found
    } else {
        base_dir.join(found)
    };
    let mut cmd = if launch.sandbox.enabled {
        let host = host.ok_or_else(|| {
            format!(
                "this host cannot start sandboxed servers; turn the sandbox of \"{}\" off \
                 with `switchboard servers sandbox {} --off` to run it with your full rights",
                launch.name, launch.name
            )
        })?;
        sandboxed(launch, host, &program, &base_dir, path)?
    } else {
        let mut cmd = tokio::process::Command::new(&program);
        cmd.args(launch.args).env("PATH", path).envs(launch.env);
        cmd
    };
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(cwd) = launch.cwd {
        cmd.current_dir(cwd);
    }
    // Own process group, so stopping the server also stops what it spawned
    // (npx and uvx run the real server as a grandchild).
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let stdout = child.stdout.take().ok_or("child has no stdout")?;
    let stdin = child.stdin.take().ok_or("child has no stdin")?;
    let stderr = child.stderr.take().ok_or("child has no stderr")?;
    let tail = Arc::new(Mutex::new(StderrTail::default()));
    let log_path = log_dir.join(format!("{}.log", launch.name));
    let stderr_done = tokio::spawn(capture_stderr(stderr, log_path, tail.clone(), child.id()));
    tracing::info!(
        server = launch.name,
        pid = child.id(),
        program = %program.display(),
        sandboxed = launch.sandbox.enabled,
        "spawned"
    );
    Ok((
        Process {
            child,
            tail,
            stderr_done: Some(stderr_done),
        },
        (stdout, stdin),
    ))
}

/// The sandbox of a stdio server as it would start now, from the CLI or the
/// control API: its program found on this process's PATH. None for a remote
/// server or a program that is not found.
pub fn sandbox_plan(
    record: &switchboard_store::ServerRecord,
    data_dir: &Path,
) -> Option<switchboard_sandbox::Plan> {
    let switchboard_store::TransportConfig::Stdio {
        command,
        args,
        env,
        cwd,
        ..
    } = &record.transport
    else {
        return None;
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    let program = shell_path::resolve(command, &path)?;
    let launch = StdioLaunch {
        name: &record.name,
        command,
        args,
        env,
        cwd: cwd.as_deref(),
        sandbox: &record.sandbox,
    };
    let base_dir = base_dir(launch.cwd);
    Some(plan(
        &launch,
        &program,
        &base_dir,
        &path,
        &temp_root(data_dir),
    ))
}

/// Where the private temp folders of a data folder's servers go.
pub(crate) fn temp_root(data_dir: &Path) -> PathBuf {
    let dir = data_dir.join("sandbox");
    std::path::absolute(&dir).unwrap_or(dir)
}

fn base_dir(cwd: Option<&str>) -> PathBuf {
    match cwd {
        Some(cwd) => PathBuf::from(cwd),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

fn plan(
    launch: &StdioLaunch<'_>,
    program: &Path,
    base_dir: &Path,
    path: &std::ffi::OsStr,
    temp_root: &Path,
) -> switchboard_sandbox::Plan {
    let home = home();
    let path_text = path.to_string_lossy();
    let temp_dir = temp_root.join(launch.name);
    switchboard_sandbox::plan(
        &switchboard_sandbox::Launch {
            program,
            args: launch.args,
            env: launch.env,
            cwd: launch.cwd.map(Path::new),
            base_dir,
            home: home.as_deref(),
            path: &path_text,
            temp_dir: &temp_dir,
        },
        launch.sandbox,
    )
}

/// The launcher's command for `launch`: its grants, its private temp
/// folder, the minimal environment.
fn sandboxed(
    launch: &StdioLaunch<'_>,
    host: &SandboxHost,
    program: &Path,
    base_dir: &Path,
    path: &std::ffi::OsStr,
) -> Result<tokio::process::Command, String> {
    let plan = plan(launch, program, base_dir, path, &host.temp_root);
    plan.prepare().map_err(|e| {
        format!(
            "cannot prepare the sandbox in {}: {e}",
            plan.temp_dir.display()
        )
    })?;
    let enforcement = switchboard_sandbox::Enforcement::new(&plan, program, launch.args);
    let (launcher, launcher_args) =
        switchboard_sandbox::launcher_command(&host.launcher, &enforcement);
    tracing::debug!(
        server = launch.name,
        grants = plan.grants.len(),
        network = plan.network,
        "sandboxed"
    );
    let lang = std::env::var("LANG").ok();
    let home = home();
    let env = switchboard_sandbox::minimal_env(
        &path.to_string_lossy(),
        home.as_deref(),
        lang.as_deref(),
        &plan.temp_dir,
        launch.env,
    );
    let mut cmd = tokio::process::Command::new(launcher);
    cmd.args(launcher_args).env_clear().envs(env);
    Ok(cmd)
}

async fn capture_stderr(
    stderr: tokio::process::ChildStderr,
    log_path: std::path::PathBuf,
    tail: Arc<Mutex<StderrTail>>,
    pid: Option<u32>,
) {
    let mut lines = BufReader::new(stderr).lines();
    let mut file = open_log(&log_path).await;
    if let Some(f) = file.as_mut() {
        let stamp = now_stamp();
        let _ = f
            .write_all(format!("--- {stamp} started, pid {} ---\n", pid.unwrap_or(0)).as_bytes())
            .await;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(f) = file.as_mut() {
            let _ = f.write_all(line.as_bytes()).await;
            let _ = f.write_all(b"\n").await;
            let _ = f.flush().await;
        }
        tail.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
}

async fn open_log(path: &Path) -> Option<tokio::fs::File> {
    if let Some(dir) = path.parent() {
        let _ = tokio::fs::create_dir_all(dir).await;
    }
    if tokio::fs::metadata(path)
        .await
        .is_ok_and(|m| m.len() > LOG_ROTATE_BYTES)
    {
        let _ = tokio::fs::rename(path, path.with_extension("log.1")).await;
    }
    match tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
    {
        Ok(f) => Some(f),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot open server log");
            None
        }
    }
}

fn now_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("unix {secs}")
}

impl Process {
    /// " (stderr: …)" with the last lines the process wrote, or "".
    pub async fn failure_detail(&self) -> String {
        // Give the stderr reader a moment to catch the process's last words.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner()).render();
        if tail.is_empty() {
            String::new()
        } else {
            format!(" (stderr: {tail})")
        }
    }

    /// How the process ended, if it has.
    pub async fn exit_description(&mut self) -> Option<String> {
        let status = tokio::time::timeout(Duration::from_millis(500), self.child.wait())
            .await
            .ok()?
            .ok()?;
        if let Some(done) = self.stderr_done.take() {
            let _ = tokio::time::timeout(Duration::from_millis(200), done).await;
        }
        let detail = self.failure_detail().await;
        Some(format!("process exited ({status}){detail}"))
    }

    /// Stops the process and its group: SIGTERM, then SIGKILL after a grace period.
    pub async fn terminate(mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            signal_group(&self.child, false);
            return;
        }
        signal_group(&self.child, false);
        if tokio::time::timeout(Duration::from_secs(2), self.child.wait())
            .await
            .is_err()
        {
            signal_group(&self.child, true);
            let _ = self.child.kill().await;
        }
    }
}

#[cfg(unix)]
fn signal_group(child: &Child, kill: bool) {
    use nix::{sys::signal, unistd::Pid};
    let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    let sig = if kill {
        signal::Signal::SIGKILL
    } else {
        signal::Signal::SIGTERM
    };
    // The child leads its own group (process_group(0)), so its pid is the pgid.
    let _ = signal::killpg(Pid::from_raw(pid), sig);
}

#[cfg(not(unix))]
fn signal_group(child: &Child, _kill: bool) {
    let _ = child;
}
