//! The `Api` facade: each command as a method over the store, the hub and the
//! audit log.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

use switchboard_audit::{AuditLog, AuditSettings, Filter};
use switchboard_gateway::{
    AUDIT_SETTINGS_KEY, Gateway,
    hub::Hub,
    policy::{POLICY_SETTINGS_KEY, PolicySettings},
    upstream::{UpstreamState, UpstreamStatus},
};
use switchboard_store::{Scope, ServerRecord, Store, TransportConfig};

use crate::schema::*;

/// The control API over one running gateway.
#[derive(Clone)]
pub struct Api {
    pub(crate) store: Store,
    pub(crate) hub: Arc<Hub>,
    pub(crate) audit: Arc<AuditLog>,
    sessions: switchboard_gateway::Sessions,
    pub(crate) policy: Arc<switchboard_gateway::policy::Policy>,
    pub(crate) contexts: switchboard_gateway::Contexts,
    /// The gateway's sandbox launcher (probes what the kernel supports).
    sandbox_launcher: Option<std::path::PathBuf>,
    tokens: Arc<crate::context::TokenMemo>,
    listen: String,
    pub(crate) mcp_url: String,
    pub(crate) data_dir: PathBuf,
    /// The `switchboard` CLI that a client's stdio bridge runs.
    pub(crate) cli_program: PathBuf,
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::Internal, e.to_string())
}

pub(crate) fn status_of(s: &UpstreamStatus) -> ServerStatus {
    ServerStatus {
        state: match s.state {
            UpstreamState::Starting => ServerState::Starting,
            UpstreamState::Ready => ServerState::Ready,
            UpstreamState::Failed => ServerState::Failed,
            UpstreamState::Stopped => ServerState::Stopped,
            UpstreamState::Blocked => ServerState::Blocked,
            UpstreamState::NeedsSignIn => ServerState::NeedsSignIn,
        },
        error: s.error.clone(),
        tools: s.tools.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        restarts: s.restarts,
        protocol_version: s.protocol_version.clone(),
    }
}

pub(crate) fn transport_of(t: &TransportConfig) -> Transport {
    match t {
        TransportConfig::Stdio {
            command, args, env, ..
        } => Transport::Stdio {
            command: command.clone(),
            args: args.clone(),
            env: env.keys().cloned().collect(),
        },
        TransportConfig::Http { url, .. } => Transport::Http { url: url.clone() },
        TransportConfig::Sse { url, .. } => Transport::Sse { url: url.clone() },
    }
}

/// A server as the UI sees it.
pub(crate) fn info_of(
    record: ServerRecord,
    status: Option<ServerStatus>,
    data_dir: &std::path::Path,
) -> ServerInfo {
    ServerInfo {
        sandbox: crate::sandbox::sandbox_info(&record, data_dir),
        launch_approved: record.launch_approved(),
        transport: transport_of(&record.transport),
        enabled: record.enabled,
        name: record.name,
        status,
        tokens: None,
    }
}

/// The stored form of a transport typed by the user (secrets still in clear).
pub(crate) fn transport_from(t: NewTransport) -> Result<TransportConfig, ApiError> {
    let pairs = |v: Vec<(String, String)>| v.into_iter().collect::<BTreeMap<_, _>>();
    let check_url = |url: &str| {
        url::Url::parse(url)
            .map(|_| ())
            .map_err(|e| ApiError::invalid(format!("invalid URL {url}: {e}")))
    };
    Ok(match t {
        NewTransport::Stdio { command, args, env } => {
            if command.trim().is_empty() {
                return Err(ApiError::invalid("a command is required"));
            }
            TransportConfig::Stdio {
                command,
                args,
                env: pairs(env),
                cwd: None,
            }
        }
        NewTransport::Http { url, headers } => {
            check_url(&url)?;
            TransportConfig::Http {
                url,
                headers: pairs(headers),
            }
        }
        NewTransport::Sse { url, headers } => {
            check_url(&url)?;
            TransportConfig::Sse {
                url,
                headers: pairs(headers),
            }
        }
    })
}

pub(crate) fn row_of(e: &switchboard_audit::AuditEvent) -> AuditRow {
    AuditRow {
        id: e.id,
        ts: e.ts,
        client: e.client.clone(),
        server: e.server.clone(),
        direction: e.direction.clone(),
        method: e.method.clone(),
        name: e.name.clone(),
        status: e.status.clone(),
        error: e.error_message.clone(),
        latency_us: e.latency_us,
        decision: e.decision.clone(),
        protocol_version: e.protocol_version.clone(),
    }
}

fn approval_of(a: switchboard_store::ApprovalRecord) -> ApprovalInfo {
    ApprovalInfo {
        id: a.id,
        client: a.client,
        server: a.server,
        tool: a.tool,
        arguments: a.arguments,
        exact_arguments: None,
        status: a.status,
        scope: a.scope,
        created_at: a.created_at,
        reason: a.reason,
    }
}

pub(crate) fn client_of(c: switchboard_store::ClientRecord) -> ClientInfo {
    ClientInfo {
        name: c.name,
        profile: c.profile,
        created_at: c.created_at,
        last_seen_at: c.last_seen_at,
    }
}

fn hint(
    annotations: Option<&rmcp::model::ToolAnnotations>,
    pick: fn(&rmcp::model::ToolAnnotations) -> Option<bool>,
) -> bool {
    annotations.and_then(pick).unwrap_or(false)
}

impl Api {
    /// The API over a running gateway that uses `store`.
    pub fn new(store: Store, gateway: &Gateway) -> Self {
        let info = gateway.info();
        Self {
            data_dir: store.data_dir().to_owned(),
            cli_program: switchboard_clients::install::cli_program(),
            store,
            hub: gateway.hub().clone(),
            audit: gateway.audit().clone(),
            sessions: gateway.sessions(),
            policy: gateway.policy().clone(),
            contexts: gateway.contexts(),
            sandbox_launcher: gateway.sandbox_launcher().map(ToOwned::to_owned),
            tokens: Arc::default(),
            listen: info.listen.to_string(),
            mcp_url: info.mcp_url.clone(),
        }
    }

    /// What the kernel supports, probed by the gateway's sandbox launcher.
    async fn sandbox_support(&self) -> Result<switchboard_sandbox::Support, String> {
        let launcher = self
            .sandbox_launcher
            .clone()
            .ok_or_else(|| "this host starts no sandboxed servers".to_owned())?;
        tokio::task::spawn_blocking(move || {
            switchboard_sandbox::probe(&launcher).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    pub(crate) async fn overview(&self, (): ()) -> Result<Overview, ApiError> {
        let servers = self.store.list_servers().await?;
        let statuses = self.hub.statuses();
        let ready = statuses
            .values()
            .filter(|s| s.state == UpstreamState::Ready)
            .count();
        Ok(Overview {
            version: env!("CARGO_PKG_VERSION").into(),
            mcp_url: self.mcp_url.clone(),
            servers: count(servers.len()),
            ready: count(ready),
            clients: count(self.store.list_clients().await?.len()),
            pending_approvals: count(self.store.list_approvals(true, 1000).await?.len()),
            sessions: self
                .sessions
                .by_version()
                .into_iter()
                .map(|(version, n)| (version, count(n)))
                .collect(),
        })
    }

    pub(crate) async fn servers_list(&self, (): ()) -> Result<Vec<ServerInfo>, ApiError> {
        let statuses = self.hub.statuses();
        Ok(self
            .store
            .list_servers()
            .await?
            .into_iter()
            .map(|s| {
                let status = if s.enabled {
                    statuses.get(&s.name).map(status_of)
                } else {
                    None
                };
                let running = status
                    .as_ref()
                    .is_some_and(|st| st.state == ServerState::Ready);
                let tokens = self.hub.get(&s.name).filter(|_| running).map(|up| {
                    let tools = up.tools();
                    self.tokens.counts(&s.name, &tools).iter().sum()
                });
                let mut info = info_of(s, status, &self.data_dir);
                info.tokens = tokens;
                info
            })
            .collect())
    }

    pub(crate) async fn server_add(&self, new: NewServer) -> Result<ServerInfo, ApiError> {
        switchboard_store::validate_server_name(&new.name)?;
        let transport = transport_from(new.transport)?;
        let secrets = self.secrets()?;
        let transport = switchboard_clients::import::store_secrets(&secrets, &new.name, &transport)
            .map_err(internal)?;
        let record = ServerRecord::new(&new.name, transport).approve_launch();
        self.store.add_server(&record).await?;
        Ok(info_of(record, None, &self.data_dir))
    }

    pub(crate) fn secrets(&self) -> Result<switchboard_auth::SecretStore, ApiError> {
        switchboard_auth::SecretStore::from_env(&self.data_dir).map_err(internal)
    }

    pub(crate) async fn server_remove(&self, p: ServerName) -> Result<(), ApiError> {
        let record = self.store.get_server(&p.name).await?;
        self.store.remove_server(&p.name).await?;
        // Its sign-in goes too: revoked where the authorization server can,
        // and forgotten with its registration (best effort: there may be no
        // keyring).
        if let Some(TransportConfig::Http { url, .. } | TransportConfig::Sse { url, .. }) =
            record.map(|r| r.transport)
            && let Err(e) = self.hub.oauth().forget(&p.name, &url).await
        {
            tracing::warn!(server = %p.name, error = %e, "cannot forget the removed server's sign-in");
        }
        Ok(())
    }

    pub(crate) async fn server_set_enabled(&self, p: SetEnabled) -> Result<(), ApiError> {
        self.store.set_server_enabled(&p.name, p.enabled).await?;
        Ok(())
    }

    pub(crate) async fn server_approve(&self, p: ServerName) -> Result<(), ApiError> {
        self.store.approve_server_launch(&p.name).await?;
        Ok(())
    }

    pub(crate) async fn tools_list(&self, p: ServerName) -> Result<Vec<ToolInfo>, ApiError> {
        let up = self.hub.get(&p.name).ok_or_else(|| {
            ApiError::not_found(format!("no running server named \"{}\"", p.name))
        })?;
        let tools = up.tools();
        let catalog: BTreeMap<String, Vec<rmcp::model::Tool>> = self
            .hub
            .all()
            .into_iter()
            .map(|u| (u.name().to_owned(), u.tools().as_ref().clone()))
            .collect();
        let flags = switchboard_gateway::policy::flag_tools(&catalog);
        let flags = flags.get(&p.name);
        let permissions: BTreeMap<(String, String), switchboard_store::Permission> = self
            .store
            .list_permissions()
            .await?
            .into_iter()
            .filter(|e| e.scope == Scope::Everyone)
            .map(|e| ((e.server, e.tool), e.permission))
            .collect();
        let pins = self.store.list_pins().await?;
        let settings = self.policy_settings().await?;
        let tokens = self.tokens.counts(&p.name, &tools);
        Ok(tools
            .iter()
            .zip(tokens.iter())
            .map(|(tool, &tokens)| {
                let name = tool.name.to_string();
                let exact = permissions.get(&(p.name.clone(), name.clone()));
                let whole = permissions.get(&(p.name.clone(), "*".to_owned()));
                let all = permissions.get(&("*".to_owned(), "*".to_owned()));
                let a = tool.annotations.as_ref();
                let (permission, rule) = if let Some(perm) = exact {
                    (*perm, format!("set for {}", name))
                } else if let Some(perm) = whole {
                    (*perm, format!("set for every tool of {}", p.name))
                } else if let Some(perm) = all {
                    (*perm, "set for every tool".to_owned())
                } else if hint(a, |a| a.destructive_hint) {
                    (settings.destructive, "default for destructive tools".into())
                } else if hint(a, |a| a.open_world_hint) {
                    (settings.open_world, "default for open-world tools".into())
                } else if hint(a, |a| a.read_only_hint) {
                    (settings.read_only, "default for read-only tools".into())
                } else {
                    (settings.unannotated, "default for unannotated tools".into())
                };
                ToolInfo {
                    server: p.name.clone(),
                    title: tool.title.clone(),
                    description: tool.description.as_ref().map(|d| d.to_string()),
                    input_schema: serde_json::Value::Object((*tool.input_schema).clone()),
                    annotations: tool
                        .annotations
                        .as_ref()
                        .and_then(|a| serde_json::to_value(a).ok())
                        .unwrap_or(serde_json::Value::Null),
                    permission: permission.into(),
                    explicit: exact.is_some(),
                    rule,
                    flags: flags
                        .and_then(|f| f.get(&name))
                        .map(|list| {
                            list.iter()
                                .map(|f| ToolFlag {
                                    rule: f.rule.clone(),
                                    severity: serde_json::to_value(f.severity)
                                        .ok()
                                        .and_then(|v| v.as_str().map(str::to_owned))
                                        .unwrap_or_default(),
                                    detail: f.detail.clone(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    changed: pins.iter().any(|pin| {
                        pin.server == p.name && pin.tool == name && pin.pending_hash.is_some()
                    }),
                    tokens,
                    name,
                }
            })
            .collect())
    }

    pub(crate) async fn permission_set(&self, p: SetPermission) -> Result<(), ApiError> {
        match p.permission {
            Some(permission) => {
                self.store
                    .set_permission(&switchboard_store::PermissionEntry {
                        scope: Scope::Everyone,
                        server: p.server,
                        tool: p.tool,
                        permission: permission.into(),
                    })
                    .await?
            }
            None => {
                self.store
                    .clear_permission(&Scope::Everyone, &p.server, &p.tool)
                    .await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn approvals_list(
        &self,
        q: ApprovalsQuery,
    ) -> Result<Vec<ApprovalInfo>, ApiError> {
        Ok(self
            .store
            .list_approvals(q.pending_only, 500)
            .await?
            .into_iter()
            .map(|a| {
                // The person deciding sees the exact arguments (the store
                // keeps them with secrets masked).
                let exact = (a.status == "pending")
                    .then(|| self.policy.approval_arguments(a.id))
                    .flatten()
                    .map(|v| v.to_string());
                ApprovalInfo {
                    exact_arguments: exact,
                    ..approval_of(a)
                }
            })
            .collect())
    }

    pub(crate) async fn approval_answer(&self, p: AnswerApproval) -> Result<(), ApiError> {
        let (status, scope) = match p.answer {
            ApprovalAnswer::Once => ("allowed", Some("once")),
            ApprovalAnswer::Session => ("allowed", Some("session")),
            ApprovalAnswer::Always => ("allowed", Some("always")),
            ApprovalAnswer::Deny => ("denied", None),
        };
        let record = self
            .store
            .get_approval(p.id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no approval #{}", p.id)))?;
        if !self.store.answer_approval(p.id, status, scope).await? {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "approval #{} is no longer waiting (it is {})",
                    p.id, record.status
                ),
            ));
        }
        Ok(())
    }

    pub(crate) async fn audit_query(&self, q: AuditQuery) -> Result<Vec<AuditRow>, ApiError> {
        let filter = Filter {
            search: q.search.filter(|s| !s.trim().is_empty()),
            client: q.client,
            server: q.server,
            method: q.method,
            status: q.status,
            before_id: q.before_id,
            limit: q.limit,
            ..Filter::default()
        };
        Ok(self
            .audit
            .db()
            .query(&filter)
            .await?
            .iter()
            .map(row_of)
            .collect())
    }

    pub(crate) async fn audit_detail(&self, p: AuditId) -> Result<AuditDetail, ApiError> {
        let e = self
            .audit
            .db()
            .get(p.id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no audit record #{}", p.id)))?;
        let (request, request_cut) = crate::storage::payload(e.request.clone());
        let (response, response_cut) = crate::storage::payload(e.response.clone());
        Ok(AuditDetail {
            row: row_of(&e),
            session: e.session,
            request,
            request_size: e.request_size,
            request_cut,
            response,
            response_size: e.response_size,
            response_cut,
            error_code: e.error_code,
            rule: e.rule,
            hash: e.hash,
        })
    }

    pub(crate) async fn audit_stats(&self, q: StatsQuery) -> Result<AuditStats, ApiError> {
        let minutes = i64::from(q.minutes.clamp(1, 24 * 60));
        let now = switchboard_audit::now_ms();
        let first_minute = (now / 60_000 - minutes + 1) * 60_000;
        let filter = Filter {
            since: Some(first_minute),
            method: Some("tools/call".into()),
            limit: 10_000,
            ..Filter::default()
        };
        let rows = self.audit.db().query(&filter).await?;
        let mut per_minute: Vec<MinuteBucket> = (0..minutes)
            .map(|i| MinuteBucket {
                minute: first_minute + i * 60_000,
                calls: 0,
                errors: 0,
            })
            .collect();
        let mut by_tool: BTreeMap<(String, String), (u32, u32, Vec<i64>)> = BTreeMap::new();
        let (mut calls, mut errors) = (0u32, 0u32);
        for e in rows.iter().filter(|e| e.direction == "client_to_server") {
            let failed = e.status != "ok";
            calls += 1;
            errors += u32::from(failed);
            let slot = usize::try_from((e.ts - first_minute) / 60_000).unwrap_or(0);
            if let Some(bucket) = per_minute.get_mut(slot) {
                bucket.calls += 1;
                bucket.errors += u32::from(failed);
            }
            let key = (
                e.server.clone().unwrap_or_default(),
                e.name.clone().unwrap_or_default(),
            );
            let entry = by_tool.entry(key).or_default();
            entry.0 += 1;
            entry.1 += u32::from(failed);
            if let Some(l) = e.latency_us {
                entry.2.push(l);
            }
        }
        let mut tools: Vec<ToolStat> = by_tool
            .into_iter()
            .map(|((server, tool), (calls, errors, mut lat))| {
                lat.sort_unstable();
                let pick = |p: f64| {
                    (!lat.is_empty()).then(|| {
                        let rank = (p * (lat.len() - 1) as f64).round() as usize;
                        lat[rank.min(lat.len() - 1)]
                    })
                };
                ToolStat {
                    server,
                    tool,
                    calls,
                    errors,
                    p50_us: pick(0.5),
                    p95_us: pick(0.95),
                }
            })
            .collect();
        tools.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.tool.cmp(&b.tool)));
        Ok(AuditStats {
            calls,
            errors,
            per_minute,
            tools,
        })
    }

    pub(crate) async fn clients_list(&self, (): ()) -> Result<Vec<ClientInfo>, ApiError> {
        Ok(self
            .store
            .list_clients()
            .await?
            .into_iter()
            .map(client_of)
            .collect())
    }

    pub(crate) async fn client_add(&self, p: ClientName) -> Result<NewClient, ApiError> {
        switchboard_store::validate_client_name(&p.name)?;
        let token = switchboard_auth::new_client_token();
        let record = self
            .store
            .add_client(&p.name, &switchboard_auth::hash_token(token.expose()))
            .await?;
        Ok(NewClient {
            client: client_of(record),
            token: token.expose().clone(),
            mcp_url: self.mcp_url.clone(),
        })
    }

    pub(crate) async fn client_revoke(&self, p: ClientName) -> Result<(), ApiError> {
        self.store.remove_client(&p.name).await?;
        Ok(())
    }

    async fn policy_settings(&self) -> Result<PolicySettings, ApiError> {
        Ok(self
            .store
            .get_setting::<PolicySettings>(POLICY_SETTINGS_KEY)
            .await?
            .unwrap_or_default())
    }

    pub(crate) async fn settings_get(&self, (): ()) -> Result<Settings, ApiError> {
        let audit = self
            .store
            .get_setting::<AuditSettings>(AUDIT_SETTINGS_KEY)
            .await?
            .unwrap_or_default();
        let policy = self.policy_settings().await?;
        Ok(Settings {
            listen: self.listen.clone(),
            mcp_url: self.mcp_url.clone(),
            data_dir: self.data_dir.display().to_string(),
            audit: crate::storage::config(&audit),
            audit_storage: crate::storage::storage(self.audit.db(), self.audit.key_state()).await?,
            defaults: PolicyDefaults {
                read_only: policy.read_only.into(),
                destructive: policy.destructive.into(),
                open_world: policy.open_world.into(),
                unannotated: policy.unannotated.into(),
                approval_timeout_secs: u32::try_from(policy.approval_timeout_secs)
                    .unwrap_or(u32::MAX),
                flow_guard: policy.flow_guard,
            },
            oauth: OAuthClientSettings {
                client_metadata_url: self.oauth_settings().await?.client_metadata_url,
            },
        })
    }

    pub(crate) async fn settings_set(&self, p: SettingsUpdate) -> Result<Settings, ApiError> {
        if p.defaults.approval_timeout_secs == 0 {
            return Err(ApiError::invalid(
                "the approval timeout must be at least one second",
            ));
        }
        let oauth = p
            .oauth
            .map(|o| {
                let url = o.client_metadata_url.unwrap_or_default();
                switchboard_auth::oauth::OAuthSettings::parse_metadata_url(&url)
                    .map(
                        |client_metadata_url| switchboard_auth::oauth::OAuthSettings {
                            client_metadata_url,
                        },
                    )
                    .map_err(|e| ApiError::invalid(e.to_string()))
            })
            .transpose()?;
        let audit = self
            .store
            .get_setting::<AuditSettings>(AUDIT_SETTINGS_KEY)
            .await?
            .unwrap_or_default();
        let audit = crate::storage::apply(audit, &p.audit)?;
        self.store.set_setting(AUDIT_SETTINGS_KEY, &audit).await?;
        // Applied now, not at the next look at the store.
        self.audit.apply(audit);
        let mut policy = self.policy_settings().await?;
        policy.read_only = p.defaults.read_only.into();
        policy.destructive = p.defaults.destructive.into();
        policy.open_world = p.defaults.open_world.into();
        policy.unannotated = p.defaults.unannotated.into();
        policy.approval_timeout_secs = u64::from(p.defaults.approval_timeout_secs);
        policy.flow_guard = p.defaults.flow_guard;
        if let Some(settings) = &oauth {
            self.store
                .set_setting(switchboard_auth::oauth::OAUTH_SETTINGS_KEY, settings)
                .await?;
        }
        self.store.set_setting(POLICY_SETTINGS_KEY, &policy).await?;
        // Applied now, not at the next look at the store.
        self.policy.reload().await?;
        self.settings_get(()).await
    }

    pub(crate) async fn doctor(&self, (): ()) -> Result<DoctorReport, ApiError> {
        use switchboard_clients::doctor;
        let platform = switchboard_clients::Platform::current().map_err(internal)?;
        let secrets =
            switchboard_auth::SecretStore::from_env(&self.data_dir).map_err(|e| e.to_string());
        let listen: std::net::SocketAddr = std::env::var("SWITCHBOARD_LISTEN")
            .ok()
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 7331)));
        let path = tokio::task::spawn_blocking(doctor::login_path)
            .await
            .unwrap_or_default();
        let servers = self
            .hub
            .statuses()
            .into_iter()
            .map(|(name, status)| {
                let state = serde_json::to_value(status.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                (
                    name,
                    doctor::ServerState {
                        state,
                        error: status.error,
                    },
                )
            })
            .collect();
        let report = doctor::run(doctor::Input {
            data_dir: &self.data_dir,
            platform: &platform,
            store: Ok(&self.store),
            secrets: secrets.as_ref().map_err(Clone::clone),
            gateway: doctor::GatewayProbe::Running {
                mcp_url: self.mcp_url.clone(),
                servers,
            },
            listen,
            path,
            contexts: self
                .contexts_list(())
                .await?
                .into_iter()
                .map(crate::context::doctor_state)
                .collect(),
            sandbox: self.sandbox_support().await,
            audit: crate::storage::doctor_state(
                self.audit.db(),
                &self.audit.settings(),
                Some(self.audit.key_state()),
                None,
            )
            .await,
        })
        .await;
        Ok(DoctorReport {
            checks: report
                .checks
                .into_iter()
                .map(|c| DoctorCheck {
                    area: c.area.to_owned(),
                    subject: c.subject,
                    severity: match c.severity {
                        doctor::Severity::Ok => Severity::Ok,
                        doctor::Severity::Info => Severity::Info,
                        doctor::Severity::Warning => Severity::Warning,
                        doctor::Severity::Problem => Severity::Problem,
                    },
                    detail: c.detail,
                    fix: c.fix,
                })
                .collect(),
        })
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
