//! The launcher: the host's own executable, run as `<exe> __sandbox-exec
//! <enforcement>`, enters the sandbox and executes the server; run as
//! `<exe> __sandbox-probe` it reports what the kernel supports.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::{Access, Error, Plan};

/// First argument that makes a host's `main` the sandbox launcher.
pub const LAUNCH_ARG: &str = "__sandbox-exec";
/// First argument that makes a host's `main` report [`Support`].
pub const PROBE_ARG: &str = "__sandbox-probe";

/// What the launcher enforces, passed to it as one JSON argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enforcement {
    /// Readable paths.
    pub read: Vec<PathBuf>,
    /// Readable and writable paths.
    pub write: Vec<PathBuf>,
    /// Whether the network stays on.
    pub network: bool,
    /// The server's program (absolute).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

impl Enforcement {
    /// What `plan` asks for, to run `program args`.
    pub fn new(plan: &Plan, program: &Path, args: &[String]) -> Self {
        Self {
            read: plan.paths(Access::Read),
            write: plan.paths(Access::Write),
            network: plan.network,
            program: program.to_path_buf(),
            args: args.to_vec(),
        }
    }
}

/// What this machine can enforce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Support {
    /// `linux`, `macos`, …
    pub platform: String,
    /// The Landlock ABI in effect (0: none).
    pub landlock_abi: u32,
    /// File rules (Landlock ABI 1, or Seatbelt).
    pub files: bool,
    /// TCP bind and connect rules (Landlock ABI 4).
    pub tcp: bool,
    /// UDP rules (Landlock ABI 9).
    pub udp: bool,
    /// Abstract UNIX socket and signal scoping (Landlock ABI 6).
    pub scopes: bool,
    /// A private network namespace could be entered.
    pub network_namespace: bool,
    /// What is missing, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

impl Support {
    /// Whether a server with the network off can be started.
    pub fn can_cut_network(&self) -> bool {
        self.network_namespace || self.tcp || self.platform == "macos"
    }
}

/// The program and arguments that start `enforcement` through `launcher`.
pub fn launcher_command(launcher: &Path, enforcement: &Enforcement) -> (PathBuf, Vec<OsString>) {
    let spec = serde_json::to_string(enforcement).unwrap_or_default();
    (
        launcher.to_path_buf(),
        vec![OsString::from(LAUNCH_ARG), OsString::from(spec)],
    )
}

/// Runs the launcher with [`PROBE_ARG`] and reads what it found.
pub fn probe(launcher: &Path) -> Result<Support, Error> {
    let output = std::process::Command::new(launcher)
        .arg(PROBE_ARG)
        .env_clear()
        .output()
        .map_err(|e| Error::Probe(format!("{}: {e}", launcher.display())))?;
    serde_json::from_slice(&output.stdout).map_err(|e| {
        Error::Probe(format!(
            "{} answered no report ({e}): {}",
            launcher.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    })
}

/// Call first thing in `main`: when the process was started as the
/// launcher, it enters the sandbox and becomes the server (or prints the
/// probe), and never returns. Otherwise it returns at once.
pub fn run_if_launcher() {
    let mut args = std::env::args_os().skip(1);
    let Some(first) = args.next() else {
        return;
    };
    if first == PROBE_ARG {
        let support = probe_here();
        println!("{}", serde_json::to_string(&support).unwrap_or_default());
        std::process::exit(0);
    }
    if first != LAUNCH_ARG {
        return;
    }
    let error = match args.next().map(|a| a.into_string()) {
        Some(Ok(spec)) => match serde_json::from_str::<Enforcement>(&spec) {
            Ok(enforcement) => enter_and_exec(&enforcement),
            Err(e) => Error::BadLaunch(e.to_string()),
        },
        _ => Error::BadLaunch("no enforcement given".into()),
    };
    eprintln!("switchboard sandbox: {error}");
    std::process::exit(126);
}

#[cfg(target_os = "linux")]
fn probe_here() -> Support {
    crate::linux::probe()
}

#[cfg(target_os = "linux")]
fn enter_and_exec(enforcement: &Enforcement) -> Error {
    match crate::linux::enter(enforcement) {
        Ok(()) => exec(&enforcement.program, &enforcement.args),
        Err(e) => e,
    }
}

#[cfg(target_os = "macos")]
fn probe_here() -> Support {
    Support {
        platform: "macos".into(),
        files: Path::new("/usr/bin/sandbox-exec").exists(),
        ..Support::default()
    }
}

#[cfg(target_os = "macos")]
fn enter_and_exec(enforcement: &Enforcement) -> Error {
    let profile = crate::seatbelt::profile(enforcement);
    let mut args = vec![
        "-p".to_owned(),
        profile,
        enforcement.program.display().to_string(),
    ];
    args.extend(enforcement.args.iter().cloned());
    exec(Path::new("/usr/bin/sandbox-exec"), &args)
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn probe_here() -> Support {
    Support {
        platform: std::env::consts::OS.into(),
        missing: vec!["no sandbox on this platform".into()],
        ..Support::default()
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn enter_and_exec(_enforcement: &Enforcement) -> Error {
    Error::Unsupported(format!("no sandbox on {}", std::env::consts::OS))
}

#[cfg(unix)]
fn exec(program: &Path, args: &[String]) -> Error {
    use std::os::unix::process::CommandExt as _;
    let source = std::process::Command::new(program).args(args).exec();
    Error::Exec {
        program: program.display().to_string(),
        source,
    }
}
