// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // Started as the sandbox launcher of a stdio server: becomes that server.
    switchboard_sandbox::run_if_launcher();
    switchboard_desktop::run()
}
