//! The policy enforcement point: who may call what, pinned tool definitions,
//! calls that wait for the user's answer, and rate limits.
//!
//! Decisions read an in-memory snapshot of the store's policy tables (rebuilt
//! when the store changes), so a check costs a few hash lookups.

mod approvals;
mod flags;
mod flows;
mod limits;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use rmcp::model::Tool;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use switchboard_context::{Budget, ToolMode};
pub use switchboard_policy::flows::{FlowLabels, FlowOverride};
use switchboard_store::{Permission, Scope, Store};

pub(crate) use approvals::Approvals;
pub use approvals::{Answer, AskRequest};
pub use flags::flag_tools;
pub use flows::{FlowKey, override_key as flow_override_key};
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
    /// The toxic-flow guard: once a session received a result of an
    /// untrusted-content tool, its calls of outbound tools ask first.
    pub flow_guard: bool,
    /// The user's say on tools' flow labels, by name on `/mcp`.
    pub flow_overrides: BTreeMap<String, FlowOverride>,
}

impl PolicySettings {
    /// Sets the user's labels of `server`'s `tool`; all as inferred removes
    /// the entry.
    pub fn set_flow_override(&mut self, server: &str, tool: &str, labels: FlowOverride) {
        let key = flow_override_key(server, tool);
        if labels.is_empty() {
            self.flow_overrides.remove(&key);
        } else {
            self.flow_overrides.insert(key, labels);
        }
    }
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
            flow_guard: false,
            flow_overrides: BTreeMap::new(),
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

/// Permissions of one scope: server -> tool -> permission ("*" for every).
/// Nested so lookups borrow the names instead of building keys.
type Rules = HashMap<String, HashMap<String, Permission>>;

/// Pinned definitions: server -> tool -> state.
type Pins = HashMap<String, HashMap<String, PinState>>;

/// The policy tables, as of the last store change.
#[derive(Debug, Default)]
struct Snapshot {
    everyone: Rules,
    by_profile: HashMap<String, Rules>,
    by_client: HashMap<String, Rules>,
    profiles: HashMap<String, Option<HashSet<String>>>,
    client_profiles: HashMap<String, String>,
    offers: HashMap<String, Arc<Offer>>,
    settings: PolicySettings,
}

/// How `/mcp` offers one client its tools: its mode and budget (the ones set
/// for it, else its kind's defaults) and the tools listed whatever the mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Its tool mode.
    pub mode: ToolMode,
    /// Whether the mode is the kind's default (not set for this client).
    pub mode_default: bool,
    /// Its budget.
    pub budget: Budget,
    /// Its kind's budget (what applies where none is set).
    pub default_budget: Budget,
    /// Where the kind's defaults come from.
    pub why: &'static str,
    /// Tools listed whatever the mode (`SERVER__TOOL`).
    pub always_listed: Vec<String>,
}

impl Offer {
    /// The offer for client `name` with these stored settings.
    pub fn of(name: &str, stored: &switchboard_store::ClientContext) -> Self {
        let defaults = switchboard_context::defaults_for(name);
        let mode = stored.tool_mode.as_deref().and_then(|m| m.parse().ok());
        Self {
            mode: mode.unwrap_or(defaults.mode),
            mode_default: mode.is_none(),
            budget: Budget {
                tools: stored.budget_tools.or(defaults.budget.tools),
                tokens: stored.budget_tokens.or(defaults.budget.tokens),
            },
            default_budget: defaults.budget,
            why: defaults.why,
            always_listed: stored.always_listed.clone(),
        }
    }
}

/// The gateway's policy.
pub struct Policy {
    store: Store,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Kept apart from the snapshot: servers update it tool by tool as they
    /// connect, which must not cost a reload of everything each time.
    pins: RwLock<Pins>,
    limiter: Limiter,
    pub(crate) approvals: Approvals,
    flows: flows::Flows,
    /// Bumped whenever a verdict may change (rules, profiles, pins), so
    /// results derived from verdicts can be cached.
    generation: AtomicU64,
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
            pins: RwLock::new(Pins::new()),
            limiter: Limiter::default(),
            approvals: Approvals::new(store),
            flows: flows::Flows::default(),
            generation: AtomicU64::new(0),
        };
        policy.reload().await?;
        Ok(policy)
    }

    /// Rebuilds the snapshot from the store and resolves answered approvals.
    pub async fn reload(&self) -> Result<(), switchboard_store::Error> {
        let (mut everyone, mut by_profile, mut by_client) = (
            Rules::new(),
            HashMap::<String, Rules>::new(),
            HashMap::<String, Rules>::new(),
        );
        for e in self.store.list_permissions().await? {
            let rules = match e.scope {
                Scope::Everyone => &mut everyone,
                Scope::Profile(p) => by_profile.entry(p).or_default(),
                Scope::Client(c) => by_client.entry(c).or_default(),
            };
            rules
                .entry(e.server)
                .or_default()
                .insert(e.tool, e.permission);
        }
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
        let offers = self
            .store
            .client_contexts()
            .await?
            .into_iter()
            .map(|(name, stored)| {
                let offer = Arc::new(Offer::of(&name, &stored));
                (name, offer)
            })
            .collect();
        let mut pins = Pins::new();
        for p in self.store.list_pins().await? {
            let state = PinState {
                hash: p.hash,
                pending: p.pending_hash.is_some(),
            };
            pins.entry(p.server).or_default().insert(p.tool, state);
        }
        *self.pins.write().unwrap_or_else(|e| e.into_inner()) = pins;
        let settings = self
            .store
            .get_setting::<PolicySettings>(POLICY_SETTINGS_KEY)
            .await?
            .unwrap_or_default();
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Snapshot {
            everyone,
            by_profile,
            by_client,
            profiles,
            client_profiles,
            offers,
            settings,
        });
        self.bump();
        self.approvals.poll().await;
        Ok(())
    }

    /// Changes whenever a verdict may have changed.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The exact arguments of a call waiting for approval `id` (shown to the
    /// person deciding; the store keeps them with secrets masked).
    pub fn approval_arguments(&self, id: i64) -> Option<serde_json::Value> {
        self.approvals.exact_arguments(id)
    }

    /// Current settings.
    pub fn settings(&self) -> PolicySettings {
        self.snapshot().settings.clone()
    }

    /// How `/mcp` offers `client` its tools.
    pub fn offer(&self, client: &str) -> Arc<Offer> {
        match self.snapshot().offers.get(client) {
            Some(offer) => offer.clone(),
            None => Arc::new(Offer::of(client, &Default::default())),
        }
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
        let pending = self
            .pins
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(server)
            .and_then(|tools| tools.get(tool.name.as_ref()))
            .is_some_and(|p| p.pending);
        if pending {
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
        let profile = snap.client_profiles.get(client);
        let scopes = [
            (snap.by_client.get(client), Scope::Client(String::new())),
            (
                profile.and_then(|p| snap.by_profile.get(p)),
                Scope::Profile(String::new()),
            ),
            (Some(&snap.everyone), Scope::Everyone),
        ];
        for (rules, kind) in scopes {
            let Some(rules) = rules else { continue };
            for (s, t) in [(server, name), (server, "*"), ("*", "*")] {
                if let Some(permission) = rules.get(s).and_then(|tools| tools.get(t)) {
                    // Names are filled in only here, for the message.
                    let scope = match kind {
                        Scope::Client(_) => Scope::Client(client.to_owned()),
                        Scope::Profile(_) => Scope::Profile(profile.cloned().unwrap_or_default()),
                        Scope::Everyone => Scope::Everyone,
                    };
                    return Verdict {
                        permission: *permission,
                        rule: describe(&scope, s, t, *permission),
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
    /// how long to wait. The ticket gives the token back unless the call ran.
    /// On a database other instances share, the budgets are kept there.
    pub async fn take_rate(
        self: &Arc<Self>,
        client: &str,
        server: &str,
        tool: &str,
    ) -> Result<RateTicket, (String, f64)> {
        let limits = self.snapshot().settings.rate_limits.clone();
        let shared = if self.store.shares_rate_limits() {
            let shared = limits::Shared::new(&limits, client, server, tool)?;
            shared.take(&self.store).await?;
            Some(shared)
        } else {
            self.limiter.take(&limits, client, server, tool)?;
            None
        };
        Ok(RateTicket {
            policy: self.clone(),
            limits,
            shared,
            call: Some((client.to_owned(), server.to_owned(), tool.to_owned())),
        })
    }

    /// Pins tools seen for the first time and marks changed definitions as
    /// pending review. Returns the names of tools whose definition changed.
    pub async fn observe_tools(&self, server: &str, tools: &[Tool]) -> Vec<String> {
        // Work out what changed under the lock, write to the store after it.
        let mut first_seen = Vec::new();
        let mut pending = Vec::new();
        let mut restored = Vec::new();
        {
            let pins = self.pins.read().unwrap_or_else(|e| e.into_inner());
            let known = pins.get(server);
            for tool in tools {
                let (definition, hash) = definition_hash(tool);
                match known.and_then(|k| k.get(tool.name.as_ref())) {
                    None => first_seen.push((tool.name.to_string(), definition, hash)),
                    Some(pin) if pin.hash == hash && pin.pending => {
                        restored.push(tool.name.to_string())
                    }
                    Some(pin) if pin.hash == hash => {}
                    Some(pin) if pin.pending => {}
                    Some(_) => pending.push((tool.name.to_string(), definition, hash)),
                }
            }
        }
        if !first_seen.is_empty() {
            if let Err(e) = self.store.pin_tools(server, &first_seen).await {
                tracing::error!(server, error = %e, "cannot pin tool definitions");
            }
            let mut pins = self.pins.write().unwrap_or_else(|e| e.into_inner());
            let known = pins.entry(server.to_owned()).or_default();
            for (name, _, hash) in first_seen {
                known.insert(
                    name,
                    PinState {
                        hash,
                        pending: false,
                    },
                );
            }
            drop(pins);
            self.bump();
        }
        for name in &restored {
            // The server went back to the approved definition.
            if let Err(e) = self.store.set_pending_tool(server, name, None).await {
                tracing::error!(server, tool = %name, error = %e, "cannot clear pending definition");
            }
            self.set_pending_flag(server, name, false);
        }
        let mut changed = Vec::new();
        for (name, definition, hash) in pending {
            tracing::warn!(server, tool = %name, "tool definition changed; blocked until approved");
            if let Err(e) = self
                .store
                .set_pending_tool(server, &name, Some((&definition, &hash)))
                .await
            {
                tracing::error!(server, tool = %name, error = %e, "cannot record changed definition");
            }
            self.set_pending_flag(server, &name, true);
            changed.push(name);
        }
        changed
    }

    fn set_pending_flag(&self, server: &str, tool: &str, pending: bool) {
        let mut pins = self.pins.write().unwrap_or_else(|e| e.into_inner());
        if let Some(pin) = pins.get_mut(server).and_then(|t| t.get_mut(tool)) {
            pin.pending = pending;
        }
        drop(pins);
        self.bump();
    }
}

/// A rate-limit token taken for a call: given back when dropped, unless the
/// call reached its server.
pub struct RateTicket {
    policy: Arc<Policy>,
    limits: RateLimits,
    shared: Option<limits::Shared>,
    call: Option<(String, String, String)>,
}

impl RateTicket {
    /// The call reached its server: the token is spent.
    pub fn spend(mut self) {
        self.call = None;
    }
}

impl Drop for RateTicket {
    fn drop(&mut self) {
        if let Some((client, server, tool)) = self.call.take() {
            match self.shared.take() {
                Some(shared) => shared.refund(&self.policy.store),
                None => self
                    .policy
                    .limiter
                    .refund(&self.limits, &client, &server, &tool),
            }
        }
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
