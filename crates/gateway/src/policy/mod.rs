//! The policy enforcement point: who may call what, pinned tool definitions,
//! calls that wait for the user's answer, and rate limits.
//!
//! Decisions read an in-memory snapshot of the store's policy tables (rebuilt
//! when the store changes), so a check costs a few hash lookups.

mod approvals;
mod limits;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, RwLock},
};

use rmcp::model::Tool;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use switchboard_store::{Permission, Scope, Store};

pub(crate) use approvals::Approvals;
pub use approvals::{Answer, AskRequest};
use limits::Limiter;
pub use limits::RateLimits;

/// Settings key of the policy settings.
pub const POLICY_SETTINGS_KEY: &str = "policy";

/// Policy settings (the `policy` setting).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicySettings {
    /// For tools whose annotations say `readOnlyHint: true`.
    pub read_only: Permission,
    /// For tools whose annotations say `destructiveHint: true`.
    pub destructive: Permission,
    /// For tools whose annotations say `openWorldHint: true`.
    pub open_world: Permission,
    /// For tools whose annotations say none of these.
    pub unannotated: Permission,
    /// Seconds a call waits for an answer before it is denied.
    pub approval_timeout_secs: u64,
    /// Calls per minute, per client / server / tool (None: unlimited).
    pub rate_limits: RateLimits,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            read_only: Permission::Allow,
            destructive: Permission::Ask,
            open_world: Permission::Ask,
            unannotated: Permission::Allow,
            approval_timeout_secs: 120,
            rate_limits: RateLimits::default(),
        }
    }
}

/// A decision and the rule that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What may happen.
    pub permission: Permission,
    /// Why, in words a user recognises (shown in errors and the audit log).
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PinState {
    hash: String,
    pending: bool,
}

/// The policy tables, as of the last store change.
#[derive(Debug, Default)]
struct Snapshot {
    entries: HashMap<(Scope, String, String), Permission>,
    profiles: HashMap<String, Option<HashSet<String>>>,
    client_profiles: HashMap<String, String>,
    pins: HashMap<(String, String), PinState>,
    settings: PolicySettings,
}

/// The gateway's policy.
pub struct Policy {
    store: Store,
    snapshot: RwLock<Arc<Snapshot>>,
    limiter: Limiter,
    pub(crate) approvals: Approvals,
}

/// The hash that pins a tool definition: SHA-256 of its canonical JSON
/// (name, description, schemas, annotations; everything the server sends).
pub fn definition_hash(tool: &Tool) -> (serde_json::Value, String) {
    let value = serde_json::to_value(tool).unwrap_or_default();
    // serde_json's maps are ordered, so the text is canonical.
    let hash = hex::encode(Sha256::digest(value.to_string().as_bytes()));
    (value, hash)
}

impl Policy {
    /// Loads the policy from the store.
    pub async fn load(store: Store) -> Result<Self, switchboard_store::Error> {
        let policy = Self {
            store: store.clone(),
            snapshot: RwLock::new(Arc::default()),
            limiter: Limiter::default(),
            approvals: Approvals::new(store),
        };
        policy.reload().await?;
        Ok(policy)
    }

    /// Rebuilds the snapshot from the store and resolves answered approvals.
    pub async fn reload(&self) -> Result<(), switchboard_store::Error> {
        let entries = self
            .store
            .list_permissions()
            .await?
            .into_iter()
            .map(|e| ((e.scope, e.server, e.tool), e.permission))
            .collect();
        let profiles = self
            .store
            .list_profiles()
            .await?
            .into_iter()
            .map(|p| (p.name, p.servers.map(|s| s.into_iter().collect())))
            .collect();
        let client_profiles = self
            .store
            .list_clients()
            .await?
            .into_iter()
            .filter_map(|c| Some((c.name, c.profile?)))
            .collect();
        let pins = self
            .store
            .list_pins()
            .await?
            .into_iter()
            .map(|p| {
                let state = PinState {
                    hash: p.hash,
                    pending: p.pending_hash.is_some(),
                };
                ((p.server, p.tool), state)
            })
            .collect();
        let settings = self
            .store
            .get_setting::<PolicySettings>(POLICY_SETTINGS_KEY)
            .await?
            .unwrap_or_default();
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Snapshot {
            entries,
            profiles,
            client_profiles,
            pins,
            settings,
        });
        self.approvals.poll().await;
        Ok(())
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Current settings.
    pub fn settings(&self) -> PolicySettings {
        self.snapshot().settings.clone()
    }

    /// Whether `client` may use `server` at all (its profile may exclude it).
    pub fn server_visible(&self, client: &str, server: &str) -> Result<(), Verdict> {
        let snap = self.snapshot();
        let Some(profile) = snap.client_profiles.get(client) else {
            return Ok(());
        };
        match snap.profiles.get(profile) {
            Some(Some(servers)) if !servers.contains(server) => Err(Verdict {
                permission: Permission::Deny,
                rule: format!("profile \"{profile}\" does not include server \"{server}\""),
            }),
            _ => Ok(()),
        }
    }

    /// What `client` may do with `tool` of `server`.
    pub fn tool_verdict(&self, client: &str, server: &str, tool: &Tool) -> Verdict {
        if let Err(v) = self.server_visible(client, server) {
            return v;
        }
        let snap = self.snapshot();
        if snap
            .pins
            .get(&(server.to_owned(), tool.name.to_string()))
            .is_some_and(|p| p.pending)
        {
            return Verdict {
                permission: Permission::Deny,
                rule: format!(
                    "tool definition changed since it was approved; review it with \
                     `switchboard tools diff {server} {}`",
                    tool.name
                ),
            };
        }
        let name = tool.name.as_ref();
        let mut scopes = vec![Scope::Client(client.to_owned())];
        if let Some(profile) = snap.client_profiles.get(client) {
            scopes.push(Scope::Profile(profile.clone()));
        }
        scopes.push(Scope::Everyone);
        for scope in &scopes {
            for (s, t) in [(server, name), (server, "*"), ("*", "*")] {
                if let Some(permission) =
                    snap.entries
                        .get(&(scope.clone(), s.to_owned(), t.to_owned()))
                {
                    return Verdict {
                        permission: *permission,
                        rule: describe(scope, s, t, *permission),
                    };
                }
            }
        }
        let hints = tool.annotations.as_ref();
        let (permission, why) = if hints.and_then(|a| a.destructive_hint) == Some(true) {
            (snap.settings.destructive, "destructive")
        } else if hints.and_then(|a| a.open_world_hint) == Some(true) {
            (snap.settings.open_world, "open-world")
        } else if hints.and_then(|a| a.read_only_hint) == Some(true) {
            (snap.settings.read_only, "read-only")
        } else {
            (snap.settings.unannotated, "unannotated")
        };
        Verdict {
            permission,
            rule: format!("default for {why} tools: {}", permission.as_str()),
        }
    }

    /// Takes one call from the client's, server's and tool's budgets, or says
    /// how long to wait.
    pub fn take_rate(&self, client: &str, server: &str, tool: &str) -> Result<(), (String, f64)> {
        let limits = self.snapshot().settings.rate_limits.clone();
        self.limiter.take(&limits, client, server, tool)
    }

    /// Pins tools seen for the first time and marks changed definitions as
    /// pending review. Returns the names of tools whose definition changed.
    pub async fn observe_tools(&self, server: &str, tools: &[Tool]) -> Vec<String> {
        let snap = self.snapshot();
        let mut changed = Vec::new();
        let mut dirty = false;
        for tool in tools {
            let (definition, hash) = definition_hash(tool);
            let key = (server.to_owned(), tool.name.to_string());
            let result = match snap.pins.get(&key) {
                None => {
                    self.store
                        .pin_tool(server, &tool.name, &definition, &hash)
                        .await
                }
                Some(pin) if pin.hash == hash && pin.pending => {
                    // The server went back to the approved definition.
                    self.store.set_pending_tool(server, &tool.name, None).await
                }
                Some(pin) if pin.hash == hash => continue,
                Some(_) => {
                    tracing::warn!(server, tool = %tool.name, "tool definition changed; blocked until approved");
                    changed.push(tool.name.to_string());
                    self.store
                        .set_pending_tool(server, &tool.name, Some((&definition, &hash)))
                        .await
                }
            };
            dirty = true;
            if let Err(e) = result {
                tracing::error!(server, tool = %tool.name, error = %e, "cannot pin tool definition");
            }
        }
        if dirty && let Err(e) = self.reload().await {
            tracing::warn!(error = %e, "cannot reload policy");
        }
        changed
    }
}

fn describe(scope: &Scope, server: &str, tool: &str, permission: Permission) -> String {
    let who = match scope {
        Scope::Everyone => "everyone".to_owned(),
        Scope::Profile(p) => format!("profile \"{p}\""),
        Scope::Client(c) => format!("client \"{c}\""),
    };
    let what = match (server, tool) {
        ("*", _) => "every tool".to_owned(),
        (s, "*") => format!("every tool of \"{s}\""),
        (s, t) => format!("\"{s}__{t}\""),
    };
    format!("{} for {who} on {what}", permission.as_str())
}
