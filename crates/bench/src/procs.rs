//! Background processes held by their real PID, and what /proc says about them.

use std::{
    collections::BTreeMap,
    fs,
    net::{Ipv4Addr, SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use nix::{sys::signal, unistd::Pid};
use tokio::{
    io::{AsyncBufReadExt as _, BufReader, Lines},
    process::{Child, ChildStdout, Command},
};

use crate::BoxError;

/// A child process that is stopped (by its PID) when dropped.
pub struct Proc {
    pub name: String,
    pub pid: u32,
    child: Child,
    stopped: bool,
}

impl Proc {
    /// Starts `command` with stdin closed, stdout piped and stderr appended to `log`.
    pub fn spawn(name: &str, command: &mut Command, log: &Path) -> Result<Self, BoxError> {
        let stderr =
            fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let pid = child.id().ok_or_else(|| format!("{name} exited at once"))?;
        Ok(Self {
            name: name.to_owned(),
            pid,
            child,
            stopped: false,
        })
    }

    /// The stdout pipe, line by line (once).
    pub fn stdout_lines(&mut self) -> Result<Lines<BufReader<ChildStdout>>, BoxError> {
        let stdout = self
            .child
            .stdout
            .take()
            .ok_or_else(|| format!("{}: stdout already taken", self.name))?;
        Ok(BufReader::new(stdout).lines())
    }

    /// Reads stdout lines until one contains `marker`; returns that line.
    pub async fn wait_for_line(
        &mut self,
        lines: &mut Lines<BufReader<ChildStdout>>,
        marker: &str,
        limit: Duration,
    ) -> Result<String, BoxError> {
        let name = self.name.clone();
        let found = tokio::time::timeout(limit, async {
            while let Some(line) = lines.next_line().await? {
                if line.contains(marker) {
                    return Ok::<_, std::io::Error>(Some(line));
                }
            }
            Ok(None)
        })
        .await
        .map_err(|_| format!("{name} did not print {marker:?} within {limit:?}"))??;
        found.ok_or_else(|| format!("{name} exited before printing {marker:?}").into())
    }

    /// SIGKILL (a crash, as `kill -9` makes one), then reaps it.
    pub async fn kill(mut self) {
        self.stopped = true;
        send(self.pid, signal::Signal::SIGKILL);
        let _ = self.child.wait().await;
    }

    /// SIGTERM, then SIGKILL after `grace`. Processes it started are left to it
    /// (the gateway stops its stdio servers on SIGTERM); see [`kill_leftovers`].
    pub async fn stop(mut self, grace: Duration) {
        self.stopped = true;
        send(self.pid, signal::Signal::SIGTERM);
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            send(self.pid, signal::Signal::SIGKILL);
            let _ = self.child.wait().await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.stopped {
            // Aborted run (error or Ctrl-C): no time for grace.
            send(self.pid, signal::Signal::SIGKILL);
        }
    }
}

fn send(pid: u32, sig: signal::Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = signal::kill(Pid::from_raw(pid), sig);
    }
}

/// Kills, by PID, processes from `pids` that are still alive (children a stopped
/// parent should have ended).
pub fn kill_leftovers(pids: &[u32]) -> usize {
    let mut killed = 0;
    for &pid in pids {
        // A zombie is already dead; it only waits for its (new) parent to reap it.
        if is_alive(pid) {
            send(pid, signal::Signal::SIGKILL);
            killed += 1;
        }
    }
    killed
}

/// A free TCP port on 127.0.0.1 (free now; the caller binds it soon after).
pub fn free_port() -> Result<u16, BoxError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Waits until something accepts TCP connections on `addr`.
pub async fn wait_for_port(addr: SocketAddr, limit: Duration) -> Result<(), BoxError> {
    let until = Instant::now() + limit;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if Instant::now() >= until {
            return Err(format!("nothing listens on {addr} after {limit:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Memory and CPU of one process, from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcStat {
    /// Resident set size, bytes.
    pub rss: u64,
    /// Peak resident set size since start (or since the last [`reset_peak`]), bytes.
    pub hwm: u64,
    /// User + system CPU time, seconds.
    pub cpu: f64,
}

/// Clock ticks per second of /proc/PID/stat times (USER_HZ; 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

pub fn stat(pid: u32) -> Option<ProcStat> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    };
    let cpu = cpu_ticks(pid)? as f64 / TICKS_PER_SECOND;
    Some(ProcStat {
        rss: kb("VmRSS:"),
        hwm: kb("VmHWM:"),
        cpu,
    })
}

/// utime + stime of a process (all its threads), in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after it are plain.
    let after = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn state_of(pid: u32) -> Option<char> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    text[text.rfind(')')? + 2..].chars().next()
}

fn parent_of(pid: u32) -> Option<u32> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 2..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Every process with its parent, from /proc.
fn parents() -> Vec<(u32, u32)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| Some((p, parent_of(p)?)))
        .collect()
}

/// Live direct children of `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    parents()
        .into_iter()
        .filter(|&(_, parent)| parent == pid)
        .map(|(p, _)| p)
        .collect()
}

/// Every process below `pid` (children, their children, ...), zombies left out.
pub fn descendants(pid: u32) -> Vec<u32> {
    let all = parents();
    let mut found = vec![pid];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        next += 1;
        found.extend(all.iter().filter(|&&(_, p)| p == parent).map(|&(c, _)| c));
    }
    found.remove(0);
    found.retain(|&p| is_alive(p));
    found
}

/// Whether `pid` runs (exists and is not a zombie).
pub fn is_alive(pid: u32) -> bool {
    state_of(pid).is_some_and(|state| state != 'Z')
}

/// Whether `pid` ended and waits for its parent to reap it.
pub fn is_zombie(pid: u32) -> bool {
    state_of(pid) == Some('Z')
}

/// The command name of `pid` (`/proc/PID/comm`).
pub fn comm(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim().to_owned())
}

/// The command line of `pid`, argument by argument.
pub fn cmdline(pid: u32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Open file descriptors of `pid` (entries of `/proc/PID/fd`).
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// What the open descriptors of `pid` are, counted by kind: TCP sockets by
/// role (listening, accepted on one of its listening ports, or connected to a
/// remote port), other sockets, pipes, anonymous inodes, and files by path
/// (under `base`, relative to it).
pub fn fd_kinds(pid: u32, base: &Path) -> BTreeMap<String, usize> {
    let tcp = tcp_sockets(pid);
    let listening: Vec<u16> = tcp
        .values()
        .filter(|s| s.listening)
        .map(|s| s.local_port)
        .collect();
    let mut kinds = BTreeMap::new();
    let Ok(entries) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return kinds;
    };
    for entry in entries.filter_map(Result::ok) {
        let Ok(target) = fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        let kind = if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|rest| rest.strip_suffix(']'))
        {
            match tcp.get(inode) {
                Some(s) if s.listening => format!("tcp listening on :{}", s.local_port),
                Some(s) if listening.contains(&s.local_port) => {
                    format!("tcp accepted on :{}", s.local_port)
                }
                Some(s) => format!("tcp to :{}", s.remote_port),
                None => "socket (not TCP)".to_owned(),
            }
        } else if target.starts_with("pipe:") {
            "pipe".to_owned()
        } else if target.starts_with("anon_inode:") {
            target
        } else {
            Path::new(&target)
                .strip_prefix(base)
                .map_or(target.clone(), |p| p.display().to_string())
        };
        *kinds.entry(kind).or_default() += 1;
    }
    kinds
}

struct TcpSocket {
    local_port: u16,
    remote_port: u16,
    listening: bool,
}

/// The TCP sockets in `pid`'s network namespace, by inode.
fn tcp_sockets(pid: u32) -> BTreeMap<String, TcpSocket> {
    let port = |address: &str| {
        address
            .rsplit(':')
            .next()
            .and_then(|hex| u16::from_str_radix(hex, 16).ok())
            .unwrap_or(0)
    };
    ["tcp", "tcp6"]
        .iter()
        .filter_map(|table| fs::read_to_string(format!("/proc/{pid}/net/{table}")).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    let socket = TcpSocket {
                        local_port: port(f.get(1)?),
                        remote_port: port(f.get(2)?),
                        // State 0A is LISTEN.
                        listening: *f.get(3)? == "0A",
                    };
                    Some(((*f.get(9)?).to_owned(), socket))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// SIGKILL to `pid`, as `kill -9` sends it.
pub fn kill_hard(pid: u32) {
    send(pid, signal::Signal::SIGKILL);
}

/// Resets the peak RSS (VmHWM) of `pid` to its current RSS; false when not permitted.
pub fn reset_peak(pid: u32) -> bool {
    fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// The sibling binary `name` of this executable (cargo puts them side by side).
pub fn sibling_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.join(name);
    path.is_file().then_some(path)
}

/// `name` on PATH (or the usual sbin directories, where Debian puts nginx).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_stat() {
        let me = std::process::id();
        let s = stat(me).unwrap();
        assert!(s.rss > 0 && s.hwm >= s.rss);
        assert!(parent_of(me).is_some());
        assert!(open_fds(me).is_some_and(|n| n > 0));
        assert!(!fd_kinds(me, Path::new("/")).is_empty());
        assert!(is_alive(me));
    }

    #[test]
    fn finds_descendants() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let below = descendants(std::process::id());
        kill_hard(child.id());
        let _ = child.wait();
        assert!(below.contains(&child.id()), "{below:?}");
        assert!(comm(std::process::id()).is_some());
    }
}
