//! macOS: a Seatbelt (`sandbox-exec`) profile generated from the same
//! enforcement as Linux's Landlock rules. Built on every platform so that it
//! is tested everywhere; used by the launcher on macOS.

use std::path::Path;

use crate::Enforcement;

/// The profile: deny by default; read the read paths, read and write the
/// write paths; the network only when granted.
pub fn profile(enforcement: &Enforcement) -> String {
    let mut out = String::from(
        "(version 1)\n\
         (deny default)\n\
         (allow process-exec process-fork)\n\
         (allow signal (target same-sandbox))\n\
         (allow sysctl-read)\n\
         (allow mach-lookup)\n\
         (allow ipc-posix-shm-read-data ipc-posix-shm-write-data ipc-posix-sem)\n\
         (allow file-read-metadata)\n\
         (allow file-ioctl (literal \"/dev/tty\") (literal \"/dev/null\"))\n",
    );
    let read = filters(&enforcement.read);
    let write = filters(&enforcement.write);
    if !read.is_empty() || !write.is_empty() {
        out.push_str(&format!("(allow file-read*{read}{write})\n"));
    }
    if !write.is_empty() {
        out.push_str(&format!("(allow file-write*{write})\n"));
    }
    if enforcement.network {
        out.push_str("(allow network*)\n(allow system-socket)\n");
    } else {
        // Local UNIX sockets of its own (its temp folder) only.
        out.push_str("(allow network* (local unix))\n");
    }
    out
}

fn filters(paths: &[std::path::PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!(" ({} {})", kind(p), quote(p)))
        .collect()
}

/// `subpath` for a folder (or what does not exist yet), `literal` for a file.
fn kind(path: &Path) -> &'static str {
    if path.is_file() { "literal" } else { "subpath" }
}

/// A Seatbelt (Scheme) string literal.
fn quote(path: &Path) -> String {
    let text = path.display().to_string();
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
