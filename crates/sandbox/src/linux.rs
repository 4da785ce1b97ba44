//! Linux: a private network namespace when the network is off, then a
//! Landlock domain (file rules, TCP and UDP rules where the kernel has them,
//! abstract UNIX socket and signal scoping), with no new privileges.

use std::path::Path;

use landlock::{
    ABI, Access as _, AccessFs, AccessNet, BitFlags, LandlockStatus, PathBeneath, PathFd,
    RestrictionStatus, Ruleset, RulesetAttr as _, RulesetCreatedAttr as _, RulesetStatus, Scope,
};
use nix::sched::{CloneFlags, unshare};

use crate::{Enforcement, Error, Support};

/// The newest ABI this code asks for; older kernels get what they have.
const ABI_WANTED: ABI = ABI::V10;

/// Enters the sandbox `enforcement` describes; the caller then executes the server.
pub(crate) fn enter(enforcement: &Enforcement) -> Result<(), Error> {
    let namespace = if enforcement.network {
        Ok(())
    } else {
        private_network()
    };
    drop_capabilities()?;
    let status = restrict(enforcement)?;
    let abi = effective_abi(&status);
    if status.ruleset == RulesetStatus::NotEnforced || abi == 0 {
        return Err(Error::Unsupported(match status.landlock {
            LandlockStatus::NotEnabled => "Landlock is built in but not enabled at boot".into(),
            LandlockStatus::NotImplemented => "the kernel has no Landlock".into(),
            LandlockStatus::Available { .. } => "Landlock enforced nothing".into(),
        }));
    }
    if let (false, Err(why), true) = (enforcement.network, &namespace, abi < 4) {
        return Err(Error::Network(format!(
            "no private network namespace ({why}) and no Landlock TCP rules (ABI {abi})"
        )));
    }
    Ok(())
}

fn restrict(enforcement: &Enforcement) -> Result<RestrictionStatus, Error> {
    let landlock = |e: landlock::RulesetError| Error::Landlock(e.to_string());
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(ABI_WANTED))
        .map_err(landlock)?
        .scope(Scope::from_all(ABI_WANTED))
        .map_err(landlock)?;
    if !enforcement.network {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(ABI_WANTED))
            .map_err(landlock)?;
    }
    let mut created = ruleset.create().map_err(landlock)?;
    let read = AccessFs::from_read(ABI_WANTED);
    let all = AccessFs::from_all(ABI_WANTED);
    for (paths, access) in [(&enforcement.read, read), (&enforcement.write, all)] {
        for path in paths {
            let Some(rule) = path_rule(path, access) else {
                continue;
            };
            created = created.add_rule(rule).map_err(landlock)?;
        }
    }
    created.restrict_self().map_err(landlock)
}

/// A rule for `path` (file rights only for a file), or None when it is gone.
fn path_rule(path: &Path, access: BitFlags<AccessFs>) -> Option<PathBeneath<PathFd>> {
    let metadata = std::fs::metadata(path).ok()?;
    let access = if metadata.is_dir() {
        access
    } else {
        access & AccessFs::from_file(ABI_WANTED)
    };
    let fd = PathFd::new(path).ok()?;
    Some(PathBeneath::new(fd, access))
}

fn effective_abi(status: &RestrictionStatus) -> u32 {
    match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => effective_abi as u32,
        _ => 0,
    }
}

/// Every capability gone, the bounding set included, so a server started by
/// root is not root's equal: it cannot read other processes' memory or
/// environment through /proc, override file permissions or regain them by
/// executing a program.
fn drop_capabilities() -> Result<(), Error> {
    use caps::CapSet;
    let caps =
        |e: caps::errors::CapsError| Error::Landlock(format!("cannot drop capabilities: {e}"));
    let held = caps::read(None, CapSet::Bounding).map_err(caps)?;
    for cap in held {
        if cap != caps::Capability::CAP_SETPCAP {
            caps::drop(None, CapSet::Bounding, cap).map_err(caps)?;
        }
    }
    caps::clear(None, CapSet::Ambient).map_err(caps)?;
    caps::clear(None, CapSet::Inheritable).map_err(caps)?;
    if caps::has_cap(None, CapSet::Bounding, caps::Capability::CAP_SETPCAP).map_err(caps)? {
        caps::drop(None, CapSet::Bounding, caps::Capability::CAP_SETPCAP).map_err(caps)?;
    }
    caps::clear(None, CapSet::Effective).map_err(caps)?;
    caps::clear(None, CapSet::Permitted).map_err(caps)?;
    Ok(())
}

/// A network namespace of its own (no interfaces up): as root directly, else
/// inside a user namespace that maps the user to itself.
fn private_network() -> Result<(), String> {
    if unshare(CloneFlags::CLONE_NEWNET).is_ok() {
        return Ok(());
    }
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("unshare: {e}"))?;
    let write = |file: &str, text: String| {
        std::fs::write(format!("/proc/self/{file}"), text).map_err(|e| format!("{file}: {e}"))
    };
    write("setgroups", "deny".into())?;
    write("uid_map", format!("{uid} {uid} 1"))?;
    write("gid_map", format!("{gid} {gid} 1"))?;
    Ok(())
}

/// Enters what a server would get (a private network, a Landlock domain
/// that handles everything) and reports what took effect. Only for a
/// process that exits right after.
pub(crate) fn probe() -> Support {
    let mut support = Support {
        platform: "linux".into(),
        ..Support::default()
    };
    match private_network() {
        Ok(()) => support.network_namespace = true,
        Err(why) => support
            .missing
            .push(format!("no private network namespace: {why}")),
    }
    let everything = Enforcement {
        read: Vec::new(),
        write: Vec::new(),
        network: false,
        program: "/".into(),
        args: Vec::new(),
    };
    match restrict(&everything) {
        Ok(status) => {
            let abi = effective_abi(&status);
            support.landlock_abi = abi;
            support.files = abi >= 1 && status.ruleset != RulesetStatus::NotEnforced;
            support.tcp = abi >= 4;
            support.scopes = abi >= 6;
            support.udp = abi >= 10;
            if abi == 0 {
                support
                    .missing
                    .push("no Landlock: stdio servers cannot be sandboxed".into());
            } else {
                if abi < 4 {
                    support.missing.push(format!(
                        "Landlock ABI {abi} has no network rules (4 and later)"
                    ));
                }
                if abi < 10 {
                    support.missing.push(format!(
                        "Landlock ABI {abi} has no UDP rules (10 and later); the private \
                         network namespace stands in"
                    ));
                }
            }
        }
        Err(e) => support.missing.push(e.to_string()),
    }
    support
}
