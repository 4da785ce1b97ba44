//! What the kernel can enforce for stdio servers, and which run unsandboxed.

use switchboard_sandbox::Support;
use switchboard_store::ServerRecord;

use super::{Check, Input, Report, Severity};

/// The kernel's sandbox support, then each stdio server the sandbox does not cover.
pub(super) fn sandbox(input: &Input<'_>, servers: &[ServerRecord], report: &mut Report) {
    let stdio: Vec<&ServerRecord> = servers
        .iter()
        .filter(|s| s.transport.launch_hash().is_some())
        .collect();
    let support = match &input.sandbox {
        Ok(support) => Some(support),
        Err(why) => {
            report.checks.push(
                Check::new(
                    "sandbox",
                    "kernel",
                    Severity::Warning,
                    format!("cannot tell what the kernel supports: {why}"),
                )
                .fix("run `switchboard doctor` from the installed `switchboard` binary"),
            );
            None
        }
    };
    if let Some(support) = support {
        report.checks.push(kernel(support));
    }
    for server in stdio {
        if !server.sandbox.enabled {
            report.checks.push(
                Check::new(
                    "sandbox",
                    &server.name,
                    Severity::Warning,
                    "runs unsandboxed, with your full rights and environment",
                )
                .fix(format!(
                    "`switchboard servers sandbox {} --on`",
                    server.name
                )),
            );
        } else if support.is_some_and(|s| !s.files) {
            report.checks.push(
                Check::new(
                    "sandbox",
                    &server.name,
                    Severity::Problem,
                    "its sandbox is on but the kernel cannot enforce one, so it does not start",
                )
                .fix(format!(
                    "use a kernel with Landlock (Linux 5.13 or later, `lsm=landlock`), or run it \
                     unsandboxed: `switchboard servers sandbox {} --off`",
                    server.name
                )),
            );
        }
    }
}

fn kernel(support: &Support) -> Check {
    if support.platform == "macos" {
        return if support.files {
            Check::new("sandbox", "kernel", Severity::Ok, "Seatbelt (sandbox-exec)")
        } else {
            Check::new(
                "sandbox",
                "kernel",
                Severity::Problem,
                "sandbox-exec is missing",
            )
            .fix("stdio servers need /usr/bin/sandbox-exec to run sandboxed")
        };
    }
    if !support.files {
        let missing = support.missing.join("; ");
        return Check::new(
            "sandbox",
            "kernel",
            Severity::Problem,
            format!("no Landlock: sandboxed stdio servers cannot start ({missing})"),
        )
        .fix("use Linux 5.13 or later with Landlock enabled (`lsm=landlock` on the kernel command line)");
    }
    let mut has = vec![format!("Landlock ABI {}: file rules", support.landlock_abi)];
    if support.tcp {
        has.push("TCP rules".into());
    }
    if support.udp {
        has.push("UDP rules".into());
    }
    if support.scopes {
        has.push("socket and signal scoping".into());
    }
    if support.network_namespace {
        has.push("private network namespaces".into());
    }
    let mut detail = has.join(", ");
    let severity = if support.can_cut_network() {
        Severity::Ok
    } else {
        detail.push_str("; servers with the network off cannot start");
        Severity::Warning
    };
    if !support.missing.is_empty() {
        detail.push_str(&format!(" (missing: {})", support.missing.join("; ")));
    }
    let check = Check::new("sandbox", "kernel", severity, detail);
    if severity == Severity::Ok {
        check
    } else {
        check.fix(
            "grant the network to those servers (`switchboard servers sandbox NAME --network on`)",
        )
    }
}
