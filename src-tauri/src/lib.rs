//! The Switchboard desktop app: a thin Tauri host around the same gateway and
//! control API that `switchboard serve` runs. The window shows the control
//! panel (ui/dist) and talks to [`switchboard_api::Api`] over two IPC
//! commands; the tray shows the gateway's state; closing the window keeps the
//! gateway serving until Quit.

mod commands;
mod consent;
mod error;
mod host;
mod renderer;
mod tray;

use std::{process::ExitCode, sync::Mutex, time::Duration};

use tauri::{AppHandle, Manager as _, RunEvent, WindowEvent, webview::PageLoadEvent};
use tauri_plugin_window_state::StateFlags;

pub use error::DesktopError;
pub use host::{Host, Options};

/// The window the UI lives in (also named in capabilities/main.json).
const MAIN_WINDOW: &str = "main";

/// Runs the app until Quit; the gateway is drained before it returns.
pub fn run() -> ExitCode {
    renderer::prefer_working_renderer();
    // rmcp logs every message at info; keep that for RUST_LOG=rmcp=info.
    let telemetry = switchboard_telemetry::init(&switchboard_telemetry::Options {
        default_filter: "info,rmcp=warn".into(),
        ansi: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        export: true,
    });
    let options = match Options::resolve(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(options) => options,
        Err(e) => return fail(&e),
    };
    match build(options, telemetry) {
        Ok(app) => {
            app.run(on_run_event);
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn fail(error: &DesktopError) -> ExitCode {
    tracing::error!("{error}");
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

/// The OpenTelemetry export, flushed once the gateway has drained.
struct Telemetry(Mutex<switchboard_telemetry::Telemetry>);

fn build(
    options: Options,
    telemetry: switchboard_telemetry::Telemetry,
) -> Result<tauri::App, DesktopError> {
    let app = tauri::Builder::default()
        .manage(Telemetry(Mutex::new(telemetry)))
        // First, so that a second launch stops before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            show_main_window(app);
        }))
        .plugin(
            tauri_plugin_window_state::Builder::default()
                // A window closed to the tray must not come back hidden.
                .with_state_flags(StateFlags::all() - StateFlags::VISIBLE)
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(tauri::generate_handler![
            commands::rpc,
            commands::subscribe,
            consent::open_consent
        ])
        .on_page_load(|webview, payload| {
            // A reload or navigation: the old page's subscriptions have no reader.
            if payload.event() == PageLoadEvent::Started {
                webview
                    .app_handle()
                    .state::<Host>()
                    .unsubscribe_all(webview.label());
            }
        })
        .on_window_event(|window, event| {
            // The gateway keeps serving clients: closing hides; Quit is in the tray.
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.label() == MAIN_WINDOW
            {
                api.prevent_close();
                if let Err(e) = window.hide() {
                    tracing::warn!("cannot hide the window: {e}");
                }
            }
        })
        .setup(move |app| {
            let host = Host::launch(options);
            app.manage(host.clone());
            // Without a tray (no status notifier on this desktop) the app still
            // works; the window comes back by launching the app again.
            if let Err(e) = tray::create(app.handle()) {
                tracing::warn!("no tray icon: {e}");
            }
            tauri::async_runtime::spawn(tray::follow(app.handle().clone(), host));
            quit_on_signal(app.handle().clone());
            Ok(())
        })
        .build(tauri::generate_context!())?;
    Ok(app)
}

fn on_run_event(app: &AppHandle, event: RunEvent) {
    if let RunEvent::Exit = event {
        let host = app.state::<Host>().inner().clone();
        tauri::async_runtime::block_on(host.shutdown());
        app.state::<Telemetry>()
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .shutdown();
    }
}

/// Shows, restores and focuses the main window.
pub(crate) fn show_main_window(app: &AppHandle) {
    let Some(window) = app.get_webview_window(MAIN_WINDOW) else {
        return;
    };
    let shown = window
        .unminimize()
        .and_then(|()| window.show())
        .and_then(|()| window.set_focus());
    if let Err(e) = shown {
        tracing::warn!("cannot show the window: {e}");
    }
}

/// Ctrl-C or SIGTERM quit like the tray's Quit: the gateway drains first.
fn quit_on_signal(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
        }
        tracing::info!("quitting on signal");
        app.exit(0);
        // Should the event loop be stuck, still leave.
        tokio::time::sleep(Duration::from_secs(30)).await;
        std::process::exit(1);
    });
}
