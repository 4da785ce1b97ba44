//! Enforcement on the running kernel, through the launcher binary: what a
//! sandboxed program can and cannot do.

use std::{net::TcpListener, path::PathBuf, process::Command};

use switchboard_sandbox::{Enforcement, LAUNCH_ARG, PROBE_ARG, Support, launcher_command, probe};

const LAUNCHER: &str = env!("CARGO_BIN_EXE_switchboard-sandbox");

fn support() -> Support {
    probe(LAUNCHER.as_ref()).unwrap()
}

/// Runs `sh -c script` sandboxed; its stdout and whether it succeeded.
fn run(read: Vec<PathBuf>, write: Vec<PathBuf>, network: bool, script: &str) -> (String, bool) {
    let mut read_all: Vec<PathBuf> = [
        "/usr",
        "/bin",
        "/lib",
        "/lib64",
        "/etc/ld.so.cache",
        "/proc",
    ]
    .iter()
    .map(PathBuf::from)
    .filter(|p| p.exists())
    .collect();
    read_all.extend(read);
    let mut write_all = vec![PathBuf::from("/dev/null")];
    write_all.extend(write);
    let enforcement = Enforcement {
        read: read_all,
        write: write_all,
        network,
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
    };
    let (program, args) = launcher_command(LAUNCHER.as_ref(), &enforcement);
    let out = Command::new(program).args(args).output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        out.status.success(),
    )
}

#[test]
fn the_probe_reports_the_kernel() {
    let support = support();
    assert_eq!(support.platform, "linux");
    if support.files {
        assert!(support.landlock_abi >= 1, "{support:?}");
    }
    let out = Command::new(LAUNCHER).arg(PROBE_ARG).output().unwrap();
    assert!(out.status.success());
    let bad = Command::new(LAUNCHER)
        .args([LAUNCH_ARG, "{not json"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(126));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad sandbox launch"));
}

#[test]
fn files_outside_the_grants_are_out_of_reach() {
    if !support().files {
        eprintln!("skipped: no Landlock on this kernel");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "top secret").unwrap();
    let granted = dir.path().join("granted");
    std::fs::create_dir(&granted).unwrap();
    std::fs::write(granted.join("note"), "a note").unwrap();
    let writable = dir.path().join("writable");
    std::fs::create_dir(&writable).unwrap();
    let script = format!(
        "cat {s}; cat {g}/note; echo x > {g}/new; echo y > {w}/new && echo wrote; echo z > {d}/planted",
        s = secret.display(),
        g = granted.display(),
        w = writable.display(),
        d = dir.path().display(),
    );
    let (out, _) = run(vec![granted.clone()], vec![writable.clone()], true, &script);
    assert!(!out.contains("top secret"), "{out}");
    assert!(out.contains("a note"), "{out}");
    assert!(out.contains("wrote"), "{out}");
    assert!(!granted.join("new").exists(), "read grant is read only");
    assert!(writable.join("new").exists());
    assert!(!dir.path().join("planted").exists());
}

#[test]
fn no_network_and_no_peeking_at_the_parent() {
    let support = support();
    if !support.files || !support.can_cut_network() {
        eprintln!("skipped: this kernel cannot cut the network ({support:?})");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let parent = std::process::id();
    let script = format!(
        "if command -v python3 >/dev/null; then python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)\" 2>&1 | tail -1; fi; \
         cat /proc/{parent}/environ >/dev/null 2>&1 && echo PEEKED; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status"
    );
    let (out, _) = run(vec![], vec![], false, &script);
    assert!(listener.accept().is_err(), "nothing connected: {out}");
    assert!(!out.contains("PEEKED"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
}
