//! The tray icon: the gateway's state, servers ready, calls waiting, quick
//! toggles; and a notification when a call starts waiting for approval or a
//! server that worked needs sign-in again.

use std::{
    collections::{HashMap, HashSet},
    sync::{Mutex, PoisonError},
};

use futures::StreamExt as _;
use switchboard_api::{
    Event,
    schema::{ApprovalInfo, OAuthStatus, ServerInfo, ServerState, SignInState},
};
use tauri::{
    AppHandle, Manager as _, Wry,
    menu::{CheckMenuItemBuilder, Menu, MenuBuilder, MenuEvent, MenuItemBuilder, SubmenuBuilder},
    tray::TrayIconBuilder,
};
use tauri_plugin_notification::NotificationExt as _;

use crate::host::Host;

const TRAY: &str = "main";
const OPEN: &str = "open";
const APPROVALS: &str = "approvals";
const QUIT: &str = "quit";
const SERVER_PREFIX: &str = "server:";

/// What the tray shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// The gateway's state.
    pub gateway: Gateway,
    /// Every configured server.
    pub servers: Vec<Server>,
    /// Calls waiting for approval.
    pub pending: usize,
}

/// The gateway as the tray shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Gateway {
    /// Not started yet.
    #[default]
    Starting,
    /// Serving at this MCP endpoint.
    Running(String),
    /// Could not start, and why.
    Failed(String),
}

/// One server in the tray.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    /// Its name.
    pub name: String,
    /// Whether the gateway runs it.
    pub enabled: bool,
    /// Whether it is ready.
    pub ready: bool,
}

impl Server {
    fn of(info: &ServerInfo) -> Self {
        Self {
            name: info.name.clone(),
            enabled: info.enabled,
            ready: info
                .status
                .as_ref()
                .is_some_and(|s| s.state == ServerState::Ready),
        }
    }
}

/// One entry of the tray menu.
#[derive(Debug, Clone, PartialEq)]
enum Line {
    Label(String),
    Action(&'static str, String),
    Separator,
    /// A submenu of on/off toggles: id, text, on.
    Toggles(String, Vec<(String, String, bool)>),
}

fn lines(status: &Status) -> Vec<Line> {
    let gateway = match &status.gateway {
        Gateway::Starting => "Gateway starting…".to_owned(),
        Gateway::Running(url) => format!("Gateway running at {url}"),
        Gateway::Failed(why) => format!("Gateway stopped: {why}"),
    };
    let ready = status.servers.iter().filter(|s| s.ready).count();
    let mut out = vec![
        Line::Label(gateway),
        Line::Label(format!(
            "Servers: {ready} of {} ready",
            status.servers.len()
        )),
    ];
    out.push(match status.pending {
        0 => Line::Label("No calls waiting for approval".to_owned()),
        1 => Line::Action(APPROVALS, "1 call waits for approval…".to_owned()),
        n => Line::Action(APPROVALS, format!("{n} calls wait for approval…")),
    });
    out.push(Line::Separator);
    out.push(Line::Action(OPEN, "Open Switchboard".to_owned()));
    if !status.servers.is_empty() {
        let toggles = status
            .servers
            .iter()
            .map(|s| {
                let text = if s.enabled && !s.ready {
                    format!("{} (not ready)", s.name)
                } else {
                    s.name.clone()
                };
                (format!("{SERVER_PREFIX}{}", s.name), text, s.enabled)
            })
            .collect();
        out.push(Line::Toggles("Servers".to_owned(), toggles));
    }
    out.push(Line::Separator);
    out.push(Line::Action(QUIT, "Quit Switchboard".to_owned()));
    out
}

fn render(app: &AppHandle, lines: &[Line]) -> tauri::Result<Menu<Wry>> {
    let mut menu = MenuBuilder::new(app);
    for line in lines {
        menu = match line {
            Line::Label(text) => menu.item(&MenuItemBuilder::new(text).enabled(false).build(app)?),
            Line::Action(id, text) => menu.item(&MenuItemBuilder::with_id(*id, text).build(app)?),
            Line::Separator => menu.separator(),
            Line::Toggles(text, toggles) => {
                let mut sub = SubmenuBuilder::new(app, text);
                for (id, text, on) in toggles {
                    sub = sub.item(
                        &CheckMenuItemBuilder::with_id(id.as_str(), text)
                            .checked(*on)
                            .build(app)?,
                    );
                }
                menu.item(&sub.build()?)
            }
        };
    }
    menu.build()
}

/// The last status shown, for the toggles to act on.
#[derive(Default)]
struct Shown(Mutex<Status>);

/// Creates the tray icon; [`follow`] keeps it current.
pub fn create(app: &AppHandle) -> tauri::Result<()> {
    app.manage(Shown::default());
    let menu = render(app, &lines(&Status::default()))?;
    let mut tray = TrayIconBuilder::with_id(TRAY)
        .tooltip("Switchboard")
        .menu(&menu)
        .on_menu_event(on_menu);
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

fn show(app: &AppHandle, status: &Status) {
    let Some(tray) = app.tray_by_id(TRAY) else {
        return;
    };
    let result = render(app, &lines(status)).and_then(|menu| {
        tray.set_menu(Some(menu))?;
        // Next to the icon where the tray can show text (Linux, macOS).
        tray.set_title((status.pending > 0).then(|| status.pending.to_string()))
    });
    if let Err(e) = result {
        tracing::warn!("cannot update the tray: {e}");
    }
    *app.state::<Shown>()
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = status.clone();
}

fn on_menu(app: &AppHandle, event: MenuEvent) {
    match event.id().as_ref() {
        OPEN | APPROVALS => crate::show_main_window(app),
        QUIT => app.exit(0),
        id => {
            let Some(name) = id.strip_prefix(SERVER_PREFIX) else {
                return;
            };
            let enabled = {
                let shown = app.state::<Shown>();
                let status = shown.0.lock().unwrap_or_else(PoisonError::into_inner);
                status
                    .servers
                    .iter()
                    .find(|s| s.name == name)
                    .map(|s| s.enabled)
            };
            let Some(enabled) = enabled else { return };
            let host = app.state::<Host>().inner().clone();
            let params = serde_json::json!({ "name": name, "enabled": !enabled });
            tauri::async_runtime::spawn(async move {
                let result = match host.running().await {
                    Ok(running) => running.api.call("server_set_enabled", params).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = result {
                    tracing::warn!("cannot switch the server: {}", e.message);
                }
            });
        }
    }
}

/// Keeps the tray current and notifies about new approvals until the app quits.
pub async fn follow(app: AppHandle, host: Host) {
    let stop = host.stopping();
    let mut status = Status::default();
    let running = tokio::select! {
        () = stop.cancelled() => return,
        running = host.running() => running,
    };
    let running = match running {
        Ok(running) => running,
        Err(e) => {
            status.gateway = Gateway::Failed(e.message);
            show(&app, &status);
            return;
        }
    };
    status.gateway = Gateway::Running(running.mcp_url.clone());
    show(&app, &status);
    let mut seen = HashSet::new();
    let mut states = HashMap::new();
    let mut events = std::pin::pin!(running.api.events());
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            event = events.next() => event,
        };
        match event {
            Some(Event::Servers { servers }) => {
                status.servers = servers.iter().map(Server::of).collect();
            }
            Some(Event::Oauth { statuses }) => {
                if let Some((title, body)) = sign_in_notification(&mut states, &statuses) {
                    notify(&app, title, body);
                }
                continue;
            }
            Some(Event::Approvals { pending }) => {
                if let Some((title, body)) = notification(&mut seen, &pending) {
                    notify(&app, title, body);
                }
                status.pending = pending.len();
            }
            Some(Event::Audit { .. } | Event::AuditLagged { .. }) => continue,
            None => return,
        }
        show(&app, &status);
    }
}

fn notify(app: &AppHandle, title: String, body: String) {
    let shown = app.notification().builder().title(title).body(body).show();
    if let Err(e) = shown {
        tracing::warn!("cannot show a notification: {e}");
    }
}

/// The notification for servers whose sign-in was lost (signed in before,
/// needing one now, and not because the user signed out), once per time it
/// happens. `states` keeps each server's last sign-in state.
fn sign_in_notification(
    states: &mut HashMap<String, SignInState>,
    statuses: &[OAuthStatus],
) -> Option<(String, String)> {
    let mut lost = Vec::new();
    for status in statuses {
        let before = states.insert(status.server.clone(), status.state);
        if status.state == SignInState::NeedsSignIn
            && !status.signed_out
            && before == Some(SignInState::SignedIn)
        {
            lost.push(status.server.as_str());
        }
    }
    states.retain(|name, _| statuses.iter().any(|s| s.server == *name));
    match lost.as_slice() {
        [] => None,
        [one] => Some((
            format!("Sign in to {one} again"),
            format!(
                "{one} needs a new sign-in; its tools are unavailable until then. Open Switchboard to sign in."
            ),
        )),
        many => Some((
            format!("{} servers need sign-in again", many.len()),
            format!(
                "{}: their tools are unavailable until then. Open Switchboard to sign in.",
                many.join(", ")
            ),
        )),
    }
}

/// The notification for calls that started waiting since the last look, if
/// any. `seen` keeps only the ids still waiting.
fn notification(seen: &mut HashSet<i64>, pending: &[ApprovalInfo]) -> Option<(String, String)> {
    let fresh: Vec<&ApprovalInfo> = pending.iter().filter(|a| !seen.contains(&a.id)).collect();
    seen.retain(|id| pending.iter().any(|a| a.id == *id));
    seen.extend(fresh.iter().map(|a| a.id));
    match fresh.as_slice() {
        [] => None,
        [one] => Some((
            "A call waits for your approval".to_owned(),
            format!("{} wants to run {} on {}", one.client, one.tool, one.server),
        )),
        many => {
            let mut body: Vec<String> = many
                .iter()
                .take(3)
                .map(|a| format!("{}: {} on {}", a.client, a.tool, a.server))
                .collect();
            if many.len() > 3 {
                body.push(format!("and {} more", many.len() - 3));
            }
            Some((
                format!("{} calls wait for your approval", many.len()),
                body.join("\n"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(id: i64, tool: &str) -> ApprovalInfo {
        ApprovalInfo {
            id,
            client: "cursor".into(),
            server: "github".into(),
            tool: tool.into(),
            arguments: None,
            exact_arguments: None,
            status: "pending".into(),
            scope: None,
            created_at: 0,
            reason: None,
        }
    }

    #[test]
    fn notifies_each_waiting_call_once() {
        let mut seen = HashSet::new();
        let (title, body) = notification(&mut seen, &[approval(1, "delete_repo")]).unwrap();
        assert_eq!(title, "A call waits for your approval");
        assert_eq!(body, "cursor wants to run delete_repo on github");
        assert_eq!(notification(&mut seen, &[approval(1, "delete_repo")]), None);
        let pending: Vec<_> = (2..7).map(|i| approval(i, "t")).collect();
        let (title, body) = notification(&mut seen, &pending).unwrap();
        assert_eq!(title, "5 calls wait for your approval");
        assert!(body.ends_with("and 2 more"), "{body}");
        // Answered calls are forgotten.
        assert_eq!(seen.len(), 5);
        assert_eq!(notification(&mut seen, &[]), None);
        assert!(seen.is_empty());
    }

    fn oauth(server: &str, state: SignInState, signed_out: bool) -> OAuthStatus {
        OAuthStatus {
            server: server.into(),
            state,
            issuer: None,
            scopes: Vec::new(),
            expires_at_ms: None,
            reason: None,
            flow_id: None,
            signed_out,
        }
    }

    #[test]
    fn a_lost_sign_in_is_said_once() {
        use SignInState::{NeedsSignIn, SignedIn};
        let mut states = HashMap::new();
        let mut say = |state, signed_out| {
            sign_in_notification(&mut states, &[oauth("linear", state, signed_out)])
        };
        // A server that never signed in is no news.
        assert_eq!(say(NeedsSignIn, false), None);
        assert_eq!(say(SignedIn, false), None);
        let (title, body) = say(NeedsSignIn, false).unwrap();
        assert_eq!(title, "Sign in to linear again");
        assert!(body.contains("tools are unavailable"), "{body}");
        // Said once, however often the statuses come again.
        assert_eq!(say(NeedsSignIn, false), None);
        // Signing out is no news either.
        assert_eq!(say(SignedIn, false), None);
        assert_eq!(say(NeedsSignIn, true), None);
    }

    #[test]
    fn menu_shows_state_and_toggles() {
        let status = Status {
            gateway: Gateway::Running("http://127.0.0.1:7331/mcp".into()),
            servers: vec![
                Server {
                    name: "a".into(),
                    enabled: true,
                    ready: true,
                },
                Server {
                    name: "b".into(),
                    enabled: true,
                    ready: false,
                },
                Server {
                    name: "c".into(),
                    enabled: false,
                    ready: false,
                },
            ],
            pending: 2,
        };
        let lines = lines(&status);
        assert_eq!(
            lines[0],
            Line::Label("Gateway running at http://127.0.0.1:7331/mcp".into())
        );
        assert_eq!(lines[1], Line::Label("Servers: 1 of 3 ready".into()));
        assert_eq!(
            lines[2],
            Line::Action(APPROVALS, "2 calls wait for approval…".into())
        );
        let Some(Line::Toggles(_, toggles)) = lines.iter().find(|l| matches!(l, Line::Toggles(..)))
        else {
            panic!("no server toggles: {lines:?}");
        };
        assert_eq!(
            toggles[1],
            ("server:b".into(), "b (not ready)".into(), true)
        );
        assert_eq!(toggles[2], ("server:c".into(), "c".into(), false));
        assert_eq!(
            lines.last(),
            Some(&Line::Action(QUIT, "Quit Switchboard".into()))
        );
    }
}
