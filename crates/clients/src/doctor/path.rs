//! Where stdio servers' programs are found: the login shell's PATH, and a
//! program looked up on it.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    time::Duration,
};

/// The login shell's PATH merged in front of ours, as the gateway computes it
/// for stdio servers (a desktop app inherits a minimal PATH).
pub fn login_path() -> OsString {
    let ours = std::env::var_os("PATH").unwrap_or_default();
    match query_login_shell() {
        Some(theirs) => {
            let mut seen: Vec<PathBuf> = Vec::new();
            for dir in std::env::split_paths(&theirs).chain(std::env::split_paths(&ours)) {
                if !dir.as_os_str().is_empty() && !seen.contains(&dir) {
                    seen.push(dir);
                }
            }
            std::env::join_paths(seen).unwrap_or(ours)
        }
        None => ours,
    }
}

fn query_login_shell() -> Option<OsString> {
    const MARK: &str = "__SWITCHBOARD_PATH__";
    let shell = std::env::var_os("SHELL").filter(|s| !s.is_empty())?;
    let mut child = std::process::Command::new(shell)
        .args(["-l", "-c", &format!("printf '{MARK}%s{MARK}' \"$PATH\"")])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    // A login shell waiting on a prompt must not hang the doctor.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let output = child.wait_with_output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let start = text.find(MARK)? + MARK.len();
    let end = start + text[start..].find(MARK)?;
    let path = text[start..end].trim();
    (!path.is_empty()).then(|| OsString::from(path))
}

/// Finds `program` on `path` like a shell; names with a separator are taken as they are.
pub fn which(program: &str, path: &OsString) -> Option<PathBuf> {
    let is_exec = |p: &Path| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        }
        #[cfg(not(unix))]
        {
            p.is_file()
        }
    };
    if program.contains('/') || program.contains(std::path::MAIN_SEPARATOR) {
        let p = PathBuf::from(program);
        return is_exec(&p).then_some(p);
    }
    let names: Vec<String> = if cfg!(windows) {
        vec![
            program.to_owned(),
            format!("{program}.exe"),
            format!("{program}.cmd"),
        ]
    } else {
        vec![program.to_owned()]
    };
    std::env::split_paths(path)
        .find_map(|dir| names.iter().map(|n| dir.join(n)).find(|c| is_exec(c)))
}

pub(super) fn command_name(command: &str) -> &str {
    let name = command.rsplit(['/', '\\']).next().unwrap_or(command);
    name.strip_suffix(".exe")
        .or_else(|| name.strip_suffix(".cmd"))
        .unwrap_or(name)
}
