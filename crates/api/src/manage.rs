//! Commands that manage servers beyond adding them (edit, restart, stderr,
//! what they offer, changed tool definitions), permission rules for every
//! scope, profiles, and the server catalog.

use switchboard_clients::catalog::{self, Answers, Catalog, Choice, FieldKind};
use switchboard_store::{PermissionEntry, Scope, ServerRecord};

use crate::{
    Api,
    api::{info_of, internal, status_of, transport_from},
    schema::*,
};

/// How much of a stderr log the UI gets.
const LOG_TAIL_BYTES: u64 = 64 * 1024;
/// At most this many catalog hits per search.
const CATALOG_HITS: usize = 50;

fn scope_of(s: RuleScope) -> Scope {
    match s {
        RuleScope::Everyone => Scope::Everyone,
        RuleScope::Profile(p) => Scope::Profile(p),
        RuleScope::Client(c) => Scope::Client(c),
    }
}

fn rule_scope(s: Scope) -> RuleScope {
    match s {
        Scope::Everyone => RuleScope::Everyone,
        Scope::Profile(p) => RuleScope::Profile(p),
        Scope::Client(c) => RuleScope::Client(c),
    }
}

fn field_kind(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Env => "env",
        FieldKind::Header => "header",
        FieldKind::Var => "var",
    }
}

fn entry_of(server: &catalog::ServerEntry) -> CatalogEntry {
    let form = catalog::form(server);
    let option_of = |o: catalog::RunOption| {
        let (kind, index) = match o.choice {
            Choice::Package(i) => ("package", i),
            Choice::Remote(i) => ("remote", i),
        };
        CatalogOption {
            kind: kind.into(),
            index: u32::try_from(index).unwrap_or(u32::MAX),
            summary: o.summary,
            fields: o
                .fields
                .into_iter()
                .map(|f| CatalogField {
                    kind: field_kind(f.kind).into(),
                    key: f.key,
                    description: f.description,
                    required: f.required,
                    secret: f.secret,
                    default: f.default,
                    choices: f.choices,
                })
                .collect(),
            unsupported: o.unsupported,
        }
    };
    let default_option = form.default_choice.and_then(|d| {
        form.options
            .iter()
            .position(|o| o.choice == d)
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
    });
    CatalogEntry {
        id: form.server,
        description: form.description,
        suggested_name: form.suggested_name,
        options: form.options.into_iter().map(option_of).collect(),
        default_option,
    }
}

impl Api {
    pub(crate) async fn server_update(&self, new: NewServer) -> Result<ServerInfo, ApiError> {
        let old = self
            .store
            .get_server(&new.name)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no server named \"{}\"", new.name)))?;
        let mut transport = transport_from(new.transport)?;
        // A value left empty keeps what is stored (the UI never sees secrets).
        let kept = old.transport.pairs();
        for (key, value) in transport.pairs_mut().iter_mut() {
            if value.is_empty()
                && let Some(stored) = kept.get(key)
            {
                value.clone_from(stored);
            }
        }
        let secrets = self.secrets()?;
        let transport = switchboard_clients::import::store_secrets(&secrets, &new.name, &transport)
            .map_err(internal)?;
        let record = ServerRecord { transport, ..old }.approve_launch();
        self.store.update_server(&record).await?;
        let status = self.hub.statuses().get(&record.name).map(status_of);
        Ok(info_of(record, status, &self.data_dir))
    }

    pub(crate) async fn server_restart(&self, p: ServerName) -> Result<(), ApiError> {
        if self.hub.restart(&p.name).await {
            Ok(())
        } else {
            Err(ApiError::not_found(format!(
                "server \"{}\" is not running (disabled, blocked or unknown)",
                p.name
            )))
        }
    }

    pub(crate) async fn server_log(&self, p: ServerName) -> Result<ServerLog, ApiError> {
        switchboard_store::validate_server_name(&p.name)?;
        let text = self
            .hub
            .stderr_log(&p.name, LOG_TAIL_BYTES)
            .await
            .map_err(internal)?;
        Ok(ServerLog { name: p.name, text })
    }

    pub(crate) async fn server_offer(&self, p: ServerName) -> Result<ServerOffer, ApiError> {
        let up = self.hub.get(&p.name).ok_or_else(|| {
            ApiError::not_found(format!("no running server named \"{}\"", p.name))
        })?;
        let offer = up.offer().await.map_err(|e| match e {
            switchboard_gateway::upstream::BrowseError::Unavailable(u) => {
                ApiError::new(ErrorCode::Conflict, u.to_string())
            }
            other => internal(other),
        })?;
        let text = |s: &Option<String>| s.clone();
        let mut resources: Vec<ResourceInfo> = offer
            .resources
            .iter()
            .map(|r| ResourceInfo {
                uri: r.uri.clone(),
                name: r.name.clone(),
                title: text(&r.title),
                description: text(&r.description),
                mime_type: text(&r.mime_type),
                template: false,
            })
            .collect();
        resources.extend(offer.templates.iter().map(|t| ResourceInfo {
            uri: t.uri_template.clone(),
            name: t.name.clone(),
            title: text(&t.title),
            description: text(&t.description),
            mime_type: text(&t.mime_type),
            template: true,
        }));
        let prompts = offer
            .prompts
            .iter()
            .map(|p| PromptInfo {
                name: p.name.clone(),
                title: text(&p.title),
                description: text(&p.description),
                arguments: p
                    .arguments
                    .iter()
                    .flatten()
                    .map(|a| PromptArgumentInfo {
                        name: a.name.clone(),
                        description: text(&a.description),
                        required: a.required.unwrap_or(false),
                    })
                    .collect(),
            })
            .collect();
        Ok(ServerOffer { resources, prompts })
    }

    pub(crate) async fn tool_change(&self, p: ToolRef) -> Result<ToolChange, ApiError> {
        let pin = self
            .store
            .list_pins()
            .await?
            .into_iter()
            .find(|pin| pin.server == p.server && pin.tool == p.tool)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "no definition of {} {} has been seen yet",
                    p.server, p.tool
                ))
            })?;
        let lines = pin
            .pending_definition
            .as_ref()
            .map(|new| switchboard_policy::diff::definition_diff(&pin.definition, new))
            .unwrap_or_default();
        Ok(ToolChange {
            server: p.server,
            tool: p.tool,
            lines,
            pending_since: pin.pending_since,
        })
    }

    pub(crate) async fn tool_change_approve(&self, p: ToolRef) -> Result<(), ApiError> {
        if self.store.approve_pending_tool(&p.server, &p.tool).await? {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "{} {} has no changed definition to approve",
                    p.server, p.tool
                ),
            ))
        }
    }

    pub(crate) async fn rules_list(&self, (): ()) -> Result<Vec<PermissionRule>, ApiError> {
        Ok(self
            .store
            .list_permissions()
            .await?
            .into_iter()
            .map(|e| PermissionRule {
                scope: rule_scope(e.scope),
                server: e.server,
                tool: e.tool,
                permission: e.permission.into(),
            })
            .collect())
    }

    pub(crate) async fn rule_set(&self, p: SetRule) -> Result<(), ApiError> {
        if p.server.trim().is_empty() || p.tool.trim().is_empty() {
            return Err(ApiError::invalid("a rule names a server and a tool (or *)"));
        }
        match &p.scope {
            RuleScope::Client(c) => {
                if !self
                    .store
                    .list_clients()
                    .await?
                    .iter()
                    .any(|x| &x.name == c)
                {
                    return Err(ApiError::not_found(format!("no client named \"{c}\"")));
                }
            }
            RuleScope::Profile(name) => {
                if !self
                    .store
                    .list_profiles()
                    .await?
                    .iter()
                    .any(|x| &x.name == name)
                {
                    return Err(ApiError::not_found(format!("no profile named \"{name}\"")));
                }
            }
            RuleScope::Everyone => {}
        }
        let scope = scope_of(p.scope);
        match p.permission {
            Some(permission) => {
                self.store
                    .set_permission(&PermissionEntry {
                        scope,
                        server: p.server,
                        tool: p.tool,
                        permission: permission.into(),
                    })
                    .await?;
            }
            None => {
                self.store
                    .clear_permission(&scope, &p.server, &p.tool)
                    .await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn profiles_list(&self, (): ()) -> Result<Vec<ProfileInfo>, ApiError> {
        Ok(self
            .store
            .list_profiles()
            .await?
            .into_iter()
            .map(|p| ProfileInfo {
                name: p.name,
                servers: p.servers,
            })
            .collect())
    }

    pub(crate) async fn client_set_profile(&self, p: SetProfile) -> Result<(), ApiError> {
        self.store
            .assign_profile(&p.client, p.profile.as_deref())
            .await?;
        Ok(())
    }

    pub(crate) async fn catalog_search(
        &self,
        q: CatalogQuery,
    ) -> Result<Vec<CatalogEntry>, ApiError> {
        let catalog = Catalog::bundled().map_err(internal)?;
        Ok(catalog
            .search(&q.text)
            .into_iter()
            .take(CATALOG_HITS)
            .map(|hit| entry_of(hit.server))
            .collect())
    }

    pub(crate) async fn catalog_add(&self, p: CatalogAdd) -> Result<ServerInfo, ApiError> {
        switchboard_store::validate_server_name(&p.name)?;
        let catalog = Catalog::bundled().map_err(internal)?;
        let server = catalog
            .find(&p.id)
            .map_err(|e| ApiError::not_found(e.to_string()))?;
        let index = usize::try_from(p.index).unwrap_or(usize::MAX);
        let choice = match p.kind.as_str() {
            "package" => Choice::Package(index),
            "remote" => Choice::Remote(index),
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown kind {other:?}: expected package or remote"
                )));
            }
        };
        let mut answers = Answers::default();
        for (kind, key, value) in p.values {
            let map = match kind.as_str() {
                "env" => &mut answers.env,
                "header" => &mut answers.headers,
                "var" => &mut answers.vars,
                other => {
                    return Err(ApiError::invalid(format!("unknown field kind {other:?}")));
                }
            };
            if !value.is_empty() {
                map.insert(key, value);
            }
        }
        let built = catalog::build(server, choice, &answers)
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        if self.store.get_server(&p.name).await?.is_some() {
            return Err(switchboard_store::Error::ServerExists(p.name).into());
        }
        let secrets = self.secrets()?;
        let transport = switchboard_clients::import::store_secrets_where(
            &secrets,
            &p.name,
            &built.transport,
            &built.secret_keys,
        )
        .map_err(internal)?;
        let record = ServerRecord {
            sandbox: built.sandbox,
            ..ServerRecord::new(&p.name, transport)
        }
        .approve_launch();
        self.store.add_server(&record).await?;
        Ok(info_of(record, None, &self.data_dir))
    }
}
