//! Sandboxing of stdio MCP servers from kernel features, without a container
//! runtime.
//!
//! A server's [`SandboxConfig`] (what the user set) and its launch (program,
//! arguments, environment, working folder) give a [`Plan`]: the folders it may
//! read, the ones it may write, whether it may use the network, its private
//! temp folder and its minimal environment ([`plan`]). Grants are inferred
//! where they are clear: the interpreter and its install, the server's
//! package, existing paths among the arguments and path-valued environment
//! variables, the working folder, the caches of `npx`/`uvx`.
//!
//! The gateway never sandboxes itself. It starts the server through a
//! launcher, its own executable run with [`LAUNCH_ARG`] ([`launcher_command`]):
//! the launcher enters the sandbox and then executes the server, which
//! inherits it. On Linux that is a Landlock domain (file rules; TCP rules where
//! the kernel has them), a private network namespace when the network is off,
//! no new privileges; on macOS a Seatbelt profile generated from the same plan
//! ([`seatbelt::profile`]). Hosts call [`run_if_launcher`] first thing in
//! `main`. What the kernel supports is probed the same way ([`probe`]).

mod config;
mod env;
mod infer;
mod launch;
#[cfg(target_os = "linux")]
mod linux;
pub mod seatbelt;

pub use config::{NetworkGrant, SandboxConfig};
pub use env::minimal_env;
pub use infer::{Access, Grant, Launch, Plan, Why, plan};
pub use launch::{
    Enforcement, LAUNCH_ARG, PROBE_ARG, Support, launcher_command, probe, run_if_launcher,
};

/// What can go wrong entering a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel cannot enforce the file rules.
    #[error(
        "the kernel cannot sandbox this server ({0}); turn its sandbox off with \
         `switchboard servers sandbox NAME --off` to run it with your full rights"
    )]
    Unsupported(String),
    /// The network was to be off but neither Landlock nor a network namespace can do it.
    #[error(
        "cannot turn the network off for this server ({0}); grant it with \
         `switchboard servers sandbox NAME --network on`"
    )]
    Network(String),
    /// Landlock refused a rule or the restriction.
    #[error("cannot enter the sandbox: {0}")]
    Landlock(String),
    /// The launcher's arguments are not an enforcement it understands.
    #[error("bad sandbox launch: {0}")]
    BadLaunch(String),
    /// Executing the server failed.
    #[error("cannot start {program}: {source}")]
    Exec {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// Running the probe failed.
    #[error("cannot probe the sandbox: {0}")]
    Probe(String),
}
