//! The sandbox launcher on its own: `switchboard-sandbox __sandbox-exec
//! ENFORCEMENT` enters the sandbox and executes the server;
//! `switchboard-sandbox __sandbox-probe` prints what the kernel supports.
//! `switchboard` and the desktop app do the same from their own `main`.

fn main() -> std::process::ExitCode {
    switchboard_sandbox::run_if_launcher();
    eprintln!(
        "usage: switchboard-sandbox {} ENFORCEMENT-JSON | {}",
        switchboard_sandbox::LAUNCH_ARG,
        switchboard_sandbox::PROBE_ARG
    );
    std::process::ExitCode::from(2)
}
