//! The PATH a login shell would have.
//!
//! A desktop app started from a launcher inherits a minimal PATH, so `npx`,
//! `uvx` or `docker` installed through nvm, Homebrew or pipx are not found.
//! We ask the user's login shell once and merge its PATH in front of ours.

use std::{ffi::OsString, path::PathBuf, time::Duration};

use tokio::sync::OnceCell;

const MARK: &str = "__SWITCHBOARD_PATH__";

static LOGIN_PATH: OnceCell<OsString> = OnceCell::const_new();

/// The merged PATH: the login shell's entries first, then ours that it lacks.
pub async fn login_path() -> &'static OsString {
    LOGIN_PATH
        .get_or_init(|| async {
            let ours = std::env::var_os("PATH").unwrap_or_default();
            match query_login_shell().await {
                Some(theirs) => merge(&theirs, &ours),
                None => ours,
            }
        })
        .await
}

async fn query_login_shell() -> Option<OsString> {
    let shell = std::env::var_os("SHELL").filter(|s| !s.is_empty())?;
    let script = format!("printf '{MARK}%s{MARK}' \"$PATH\"");
    let output = tokio::process::Command::new(&shell)
        .args(["-l", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    // A login shell that waits on something (a prompt, a slow rc file) must not
    // hold up the gateway: fall back to our own PATH.
    let output = tokio::time::timeout(Duration::from_secs(5), output)
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let start = text.find(MARK)? + MARK.len();
    let end = start + text[start..].find(MARK)?;
    let path = text[start..end].trim();
    (!path.is_empty()).then(|| OsString::from(path))
}

fn merge(first: &OsString, second: &OsString) -> OsString {
    let mut seen = Vec::<PathBuf>::new();
    for dir in std::env::split_paths(first).chain(std::env::split_paths(second)) {
        if !dir.as_os_str().is_empty() && !seen.contains(&dir) {
            seen.push(dir);
        }
    }
    std::env::join_paths(seen).unwrap_or_else(|_| second.clone())
}

/// Finds `program` on `path` the way a shell would; names with a slash are
/// taken as they are.
pub fn resolve(program: &str, path: &OsString) -> Option<PathBuf> {
    if program.contains(std::path::MAIN_SEPARATOR) {
        let p = PathBuf::from(program);
        return is_executable(&p).then_some(p);
    }
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_order_and_drops_duplicates() {
        let merged = merge(&OsString::from("/a:/b"), &OsString::from("/b:/c"));
        assert_eq!(merged, OsString::from("/a:/b:/c"));
    }

    #[test]
    fn resolves_programs_on_the_path() {
        let path = OsString::from("/nonexistent:/bin:/usr/bin");
        assert!(resolve("sh", &path).is_some());
        assert!(resolve("surely-not-a-command-xyz", &path).is_none());
    }
}
