//! The grants of a launch: what the system, the interpreter and the server's
//! install need, what the launch clearly names, and what the user added.

use std::{
    collections::BTreeMap,
    path::{Component, Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::config::{NetworkGrant, SandboxConfig};

/// How far a grant reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Read files, list folders, execute programs.
    Read,
    /// Read, and create, write, rename and remove.
    Write,
}

/// Why a path is granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// System libraries, programs and configuration every program needs.
    System,
    /// The interpreter that runs the server, and its install.
    Interpreter,
    /// The server's own package (the folder of its script, its node_modules).
    Package,
    /// An existing path among the arguments.
    Argument,
    /// A path in one of the server's environment variables.
    Environment,
    /// The configured working folder.
    WorkingFolder,
    /// The package cache of `npx`, `uvx` and the like.
    Cache,
    /// A configuration file the program reads.
    Config,
    /// The server's private temp folder.
    TempDir,
    /// Granted by the user.
    User,
}

/// One path the server may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The folder (and everything beneath) or file.
    pub path: PathBuf,
    /// Read or read-write.
    pub access: Access,
    /// Why it is granted.
    pub why: Why,
    /// The argument or variable it came from, where that helps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What a sandboxed server may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// False: no sandbox, full rights and environment.
    pub enabled: bool,
    /// Paths it may use; nothing else.
    pub grants: Vec<Grant>,
    /// Whether it may use the network.
    pub network: bool,
    /// Why the network is on or off.
    pub network_why: String,
    /// Its private temp folder (`TMPDIR`), emptied at each start.
    pub temp_dir: PathBuf,
}

impl Plan {
    /// The grants beyond the system's own, as the panel and the CLI show them.
    pub fn shown(&self) -> impl Iterator<Item = &Grant> {
        self.grants.iter().filter(|g| g.why != Why::System)
    }

    /// Paths with exactly `access`.
    pub fn paths(&self, access: Access) -> Vec<PathBuf> {
        self.grants
            .iter()
            .filter(|g| g.access == access)
            .map(|g| g.path.clone())
            .collect()
    }

    /// Creates the temp folder (emptied) and the caches that do not exist yet,
    /// so their rules can be set.
    pub fn prepare(&self) -> std::io::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        if self.temp_dir.exists() {
            std::fs::remove_dir_all(&self.temp_dir)?;
        }
        std::fs::create_dir_all(&self.temp_dir)?;
        for grant in &self.grants {
            if grant.why == Why::Cache && grant.access == Access::Write && !grant.path.exists() {
                std::fs::create_dir_all(&grant.path)?;
            }
        }
        Ok(())
    }
}

/// A stdio launch, as the gateway is about to start it.
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    /// The program, found on PATH (not canonicalized).
    pub program: &'a Path,
    /// Its arguments.
    pub args: &'a [String],
    /// Its configured environment.
    pub env: &'a BTreeMap<String, String>,
    /// The configured working folder.
    pub cwd: Option<&'a Path>,
    /// The folder relative paths are taken from (the working folder it gets).
    pub base_dir: &'a Path,
    /// The user's home folder.
    pub home: Option<&'a Path>,
    /// The PATH it gets (to find a script's interpreter).
    pub path: &'a str,
    /// Its private temp folder.
    pub temp_dir: &'a Path,
}

/// Programs that fetch a server's package before running it.
const RUNNERS: &[&str] = &[
    "npx", "npm", "pnpm", "pnpx", "yarn", "bunx", "bun", "uvx", "uv", "pipx",
];

/// The plan for `launch` under `config`.
pub fn plan(launch: &Launch<'_>, config: &SandboxConfig) -> Plan {
    let temp_dir = launch.temp_dir.to_path_buf();
    if !config.enabled {
        return Plan {
            enabled: false,
            grants: Vec::new(),
            network: true,
            network_why: "the sandbox is off".into(),
            temp_dir,
        };
    }
    let mut grants = Grants::default();
    for (path, access) in system_paths() {
        grants.add(path, access, Why::System, None);
    }
    let runner = runner_name(launch.program);
    interpreter(&mut grants, launch);
    for arg in launch.args {
        let value = arg.split_once('=').map_or(arg.as_str(), |(_, v)| v);
        if let Some(path) = existing(value, launch) {
            argument(&mut grants, &path, arg);
        }
    }
    for (name, value) in launch.env {
        if let Some(path) = absolute(value, launch.home) {
            environment(&mut grants, &path, name, launch.home);
        }
    }
    if let Some(cwd) = launch.cwd.filter(|c| c.is_dir()) {
        grants.add(cwd.to_path_buf(), Access::Write, Why::WorkingFolder, None);
    }
    if let (Some(runner), Some(home)) = (runner, launch.home) {
        caches(&mut grants, runner, home);
    }
    if let Some(home) = launch.home {
        let mentions_git = std::iter::once(launch.program.to_string_lossy().into_owned())
            .chain(launch.args.iter().cloned())
            .any(|a| a.contains("git"));
        if mentions_git {
            for file in [".gitconfig", ".config/git"] {
                let path = home.join(file);
                if path.exists() {
                    grants.add(path, Access::Read, Why::Config, Some("git".into()));
                }
            }
        }
    }
    grants.add(temp_dir.clone(), Access::Write, Why::TempDir, None);
    for path in &config.allow_read {
        grants.add(path.clone(), Access::Read, Why::User, None);
    }
    for path in &config.allow_write {
        grants.add(path.clone(), Access::Write, Why::User, None);
    }
    let (network, network_why) = match (config.network, runner) {
        (NetworkGrant::On, _) => (true, "granted".to_owned()),
        (NetworkGrant::Off, _) => (false, "off".to_owned()),
        (NetworkGrant::Inferred, Some(r)) => (true, format!("{r} fetches the server's package")),
        (NetworkGrant::Inferred, None) => (false, "off unless granted".to_owned()),
    };
    Plan {
        enabled: true,
        grants: grants.finish(),
        network,
        network_why,
        temp_dir,
    }
}

#[derive(Default)]
struct Grants(Vec<Grant>);

impl Grants {
    fn add(&mut self, path: PathBuf, access: Access, why: Why, detail: Option<String>) {
        let path = normalize(&path);
        self.0.push(Grant {
            path,
            access,
            why,
            detail,
        });
    }

    /// Drops what another grant already covers (the same path first, or a
    /// folder above it with at least its access); keeps the first reason.
    fn finish(self) -> Vec<Grant> {
        let all = self.0;
        let covers = |j: usize, other: &Grant, i: usize, grant: &Grant| {
            j != i
                && grant.path.starts_with(&other.path)
                && (other.access > grant.access
                    || (other.access == grant.access && (other.path != grant.path || j < i)))
        };
        let mut kept: Vec<Grant> = all
            .iter()
            .enumerate()
            .filter(|(i, grant)| {
                !all.iter()
                    .enumerate()
                    .any(|(j, other)| covers(j, other, *i, grant))
            })
            .map(|(_, g)| g.clone())
            .collect();
        kept.sort_by(|a, b| a.path.cmp(&b.path));
        kept
    }
}

/// Lexically cleaned (`.` and `..` resolved), so that prefixes compare.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(target_os = "macos")]
fn system_paths() -> Vec<(PathBuf, Access)> {
    let read = [
        "/usr",
        "/bin",
        "/sbin",
        "/System",
        "/Library/Frameworks",
        "/opt/homebrew",
        "/usr/local",
        "/private/etc",
        "/private/var/db/timezone",
        "/dev/urandom",
        "/dev/random",
    ];
    let write = ["/dev/null", "/dev/zero", "/dev/tty"];
    listed(&read, &write)
}

#[cfg(not(target_os = "macos"))]
fn system_paths() -> Vec<(PathBuf, Access)> {
    let read = [
        "/usr",
        "/bin",
        "/sbin",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/opt",
        "/nix/store",
        "/proc",
        "/sys",
        "/dev/urandom",
        "/dev/random",
        // What the C library, TLS and name resolution read; not all of /etc.
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
        "/etc/ld.so.conf.d",
        "/etc/ssl",
        "/etc/ca-certificates",
        "/etc/pki",
        "/etc/resolv.conf",
        "/etc/hosts",
        "/etc/nsswitch.conf",
        "/etc/host.conf",
        "/etc/gai.conf",
        "/etc/passwd",
        "/etc/group",
        "/etc/localtime",
        "/etc/timezone",
        "/etc/alternatives",
        "/etc/mime.types",
        "/etc/os-release",
        "/etc/gitconfig",
        "/etc/python3",
        "/etc/npmrc",
        "/run/systemd/resolve",
    ];
    let write = ["/dev/null", "/dev/zero", "/dev/full", "/dev/tty"];
    listed(&read, &write)
}

fn listed(read: &[&str], write: &[&str]) -> Vec<(PathBuf, Access)> {
    read.iter()
        .map(|p| (PathBuf::from(p), Access::Read))
        .chain(write.iter().map(|p| (PathBuf::from(p), Access::Write)))
        .filter(|(p, _)| p.exists())
        .collect()
}

fn runner_name(program: &Path) -> Option<&'static str> {
    let name = program.file_name()?.to_str()?;
    RUNNERS.iter().copied().find(|r| *r == name)
}

/// The program, the interpreter its first line names, and their installs.
fn interpreter(grants: &mut Grants, launch: &Launch<'_>) {
    let mut programs = vec![launch.program.to_path_buf()];
    if let Some(interp) = shebang(launch.program, launch.path) {
        programs.push(interp);
    }
    let mut seen = Vec::new();
    for program in programs {
        let canonical = std::fs::canonicalize(&program).ok();
        for path in std::iter::once(program).chain(canonical) {
            if seen.contains(&path) {
                continue;
            }
            seen.push(path.clone());
            match install_prefix(&path, launch.home) {
                Some(prefix) => {
                    if let Some(base_prefix) = venv_home(&prefix)
                        .and_then(|base| install_prefix(&base.join("python"), launch.home))
                    {
                        grants.add(base_prefix, Access::Read, Why::Interpreter, None);
                    }
                    grants.add(prefix, Access::Read, Why::Interpreter, None);
                }
                None => grants.add(path, Access::Read, Why::Interpreter, None),
            }
        }
    }
}

/// `#!/usr/bin/env node` → node on `path`; `#!/x/venv/bin/python` → that.
fn shebang(program: &Path, path: &str) -> Option<PathBuf> {
    use std::io::Read as _;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(program).ok()?.read(&mut head).ok()?;
    let text = std::str::from_utf8(head.get(..n)?).ok()?;
    let line = text.strip_prefix("#!")?.lines().next()?;
    let mut words = line.split_whitespace();
    let interp = PathBuf::from(words.next()?);
    if interp.file_name().is_some_and(|n| n == "env") {
        let name = words.find(|w| !w.starts_with('-'))?;
        return std::env::split_paths(path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file());
    }
    Some(interp)
}

/// `/x/venv/bin/python` → `/x/venv` when `/x/venv` looks like an install
/// (a venv, a Node or Python prefix), not the home folder or `/`.
fn install_prefix(program: &Path, home: Option<&Path>) -> Option<PathBuf> {
    let bin = program.parent()?;
    if bin.file_name()? != "bin" {
        return None;
    }
    let prefix = bin.parent()?;
    if prefix == Path::new("/") || Some(prefix) == home {
        return None;
    }
    let lib = prefix.join("lib");
    let python_lib = std::fs::read_dir(&lib).ok().is_some_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("python"))
    });
    let looks =
        prefix.join("pyvenv.cfg").is_file() || lib.join("node_modules").is_dir() || python_lib;
    looks.then(|| prefix.to_path_buf())
}

/// The `home` a venv's `pyvenv.cfg` names (the base interpreter's bin folder).
fn venv_home(prefix: &Path) -> Option<PathBuf> {
    let cfg = std::fs::read_to_string(prefix.join("pyvenv.cfg")).ok()?;
    cfg.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "home").then(|| PathBuf::from(value.trim()))
    })
}

/// An absolute (or `~/`) path.
fn absolute(value: &str, home: Option<&Path>) -> Option<PathBuf> {
    if let Some(rest) = value.strip_prefix("~/") {
        return home.map(|h| h.join(rest));
    }
    let path = Path::new(value);
    path.is_absolute().then(|| path.to_path_buf())
}

/// An argument that names an existing path (absolute, `~/`, or relative).
fn existing(value: &str, launch: &Launch<'_>) -> Option<PathBuf> {
    if value.is_empty() || value.starts_with('-') || value.contains("://") {
        return None;
    }
    let path = match absolute(value, launch.home) {
        Some(p) => p,
        None if value.contains('/') || value == "." => launch.base_dir.join(value),
        None => {
            let here = launch.base_dir.join(value);
            if here.is_file() && has_script_extension(&here) {
                here
            } else {
                return None;
            }
        }
    };
    path.exists().then(|| normalize(&path))
}

fn has_script_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["py", "js", "mjs", "cjs", "ts", "rb", "pl", "sh"].contains(&e))
}

fn argument(grants: &mut Grants, path: &Path, arg: &str) {
    let detail = Some(arg.to_owned());
    if path.is_dir() {
        let access = if path == Path::new("/") {
            Access::Read
        } else {
            Access::Write
        };
        grants.add(path.to_path_buf(), access, Why::Argument, detail);
        return;
    }
    if let Some(modules) = outermost_node_modules(path) {
        grants.add(modules, Access::Read, Why::Package, detail);
        return;
    }
    match path.parent() {
        Some(dir) if has_script_extension(path) && dir != Path::new("/") => {
            grants.add(dir.to_path_buf(), Access::Read, Why::Package, detail);
        }
        _ => grants.add(path.to_path_buf(), Access::Read, Why::Argument, detail),
    }
}

fn outermost_node_modules(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        out.push(part);
        if part.as_os_str() == "node_modules" {
            return Some(out);
        }
    }
    None
}

/// A path-valued variable names where the server keeps its data: read-write,
/// or its folder when the file does not exist yet (not `/` nor the home folder).
fn environment(grants: &mut Grants, path: &Path, name: &str, home: Option<&Path>) {
    let path = normalize(path);
    let detail = Some(name.to_owned());
    if path.exists() {
        grants.add(path, Access::Write, Why::Environment, detail);
        return;
    }
    if let Some(dir) = path.parent().filter(|d| d.is_dir()) {
        let system = system_paths().iter().any(|(p, _)| dir.starts_with(p));
        if dir != Path::new("/") && Some(dir) != home && !system {
            grants.add(dir.to_path_buf(), Access::Write, Why::Environment, detail);
        }
    }
}

fn caches(grants: &mut Grants, runner: &str, home: &Path) {
    let (write, read): (&[&str], &[&str]) = match runner {
        "npx" | "npm" => (&[".npm"], &[".npmrc"]),
        "pnpm" | "pnpx" => (&[".local/share/pnpm", ".cache/pnpm"], &[".npmrc"]),
        "yarn" => (&[".cache/yarn"], &[".npmrc", ".yarnrc"]),
        "bun" | "bunx" => (&[".bun"], &[".npmrc"]),
        "uvx" | "uv" => (&[".cache/uv", ".local/share/uv"], &[".config/uv"]),
        "pipx" => (&[".local/pipx", ".local/share/pipx", ".cache/pipx"], &[]),
        _ => (&[], &[]),
    };
    let detail = Some(runner.to_owned());
    for dir in write {
        grants.add(home.join(dir), Access::Write, Why::Cache, detail.clone());
    }
    for file in read {
        let path = home.join(file);
        if path.exists() {
            grants.add(path, Access::Read, Why::Config, detail.clone());
        }
    }
}
