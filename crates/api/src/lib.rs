//! The control API of Switchboard: one schema of commands ([`Api::call`]) and
//! events ([`Api::events`]) that both hosts serve, the desktop app over Tauri
//! IPC and `switchboard serve` over HTTP ([`http`]).
//!
//! Every change goes through the store; the running gateway follows the
//! store, so the API and the CLI can never disagree.

mod api;
pub mod bindings;
pub mod context;
mod events;
pub mod flows;
pub mod http;
pub mod integrations;
mod manage;
mod oauth;
pub mod sandbox;
pub mod schema;
pub mod storage;

pub use api::Api;
pub use schema::{ApiError, ErrorCode, Event};

/// Declares the commands once: the dispatcher, the method list, and the
/// TypeScript map of method -> params and result.
macro_rules! commands {
    ($( $(#[doc = $doc:literal])* $method:ident ( $params:ty ) -> $result:ty ; )*) => {
        impl Api {
            /// Runs one command: `method` with its JSON `params`.
            pub async fn call(
                &self,
                method: &str,
                params: serde_json::Value,
            ) -> Result<serde_json::Value, ApiError> {
                match method {
                    $(
                        stringify!($method) => {
                            let params: $params = serde_json::from_value(params).map_err(|e| {
                                ApiError::invalid(format!("bad params for {method}: {e}"))
                            })?;
                            let result: $result = self.$method(params).await?;
                            serde_json::to_value(result)
                                .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
                        }
                    )*
                    other => Err(ApiError::not_found(format!("no command named {other:?}"))),
                }
            }
        }

        /// Every command's name.
        pub const METHODS: &[&str] = &[$(stringify!($method)),*];

        /// `export type Rpc = { method: { params: P; result: R } ... }`.
        pub(crate) fn rpc_map_ts(cfg: &ts_rs::Config) -> String {
            use ts_rs::TS as _;
            let mut out = String::from("/** Every command: its params and its result. */\nexport type Rpc = {\n");
            $(
                out.push_str(&format!(
                    "  /**{} */\n  {}: {{ params: {}; result: {} }};\n",
                    concat!($($doc),*),
                    stringify!($method),
                    <$params>::name(cfg),
                    <$result>::name(cfg),
                ));
            )*
            out.push_str("};\n");
            out
        }
    };
}

use context::*;
use flows::*;
use integrations::*;
use sandbox::*;
use schema::*;

commands! {
    /// The gateway at a glance.
    overview(()) -> Overview;
    /// Every configured server with its live status.
    servers_list(()) -> Vec<ServerInfo>;
    /// Adds a server (a command typed by the user counts as approved).
    server_add(NewServer) -> ServerInfo;
    /// Removes a server and forgets its secrets.
    server_remove(ServerName) -> ();
    /// Turns a server on or off.
    server_set_enabled(SetEnabled) -> ();
    /// Approves the current command of a stdio server.
    server_approve(ServerName) -> ();
    /// Changes how a server is reached (an empty env or header value keeps
    /// the stored one).
    server_update(NewServer) -> ServerInfo;
    /// Sets a stdio server's sandbox (a wider one waits for approval).
    server_set_sandbox(SetSandbox) -> ServerInfo;
    /// Stops and starts a running server again.
    server_restart(ServerName) -> ();
    /// The end of a stdio server's stderr log.
    server_log(ServerName) -> ServerLog;
    /// The resources, templates and prompts of a running server.
    server_offer(ServerName) -> ServerOffer;
    /// How a tool's definition changed since it was approved.
    tool_change(ToolRef) -> ToolChange;
    /// Approves a tool's changed definition.
    tool_change_approve(ToolRef) -> ();
    /// Every explicit permission, for every scope.
    rules_list(()) -> Vec<PermissionRule>;
    /// Sets or removes a permission for everyone, a profile or a client.
    rule_set(SetRule) -> ();
    /// Profiles.
    profiles_list(()) -> Vec<ProfileInfo>;
    /// Binds a client to a profile (or to none).
    client_set_profile(SetProfile) -> ();
    /// What each client's tools cost, its budget and its tool mode.
    contexts_list(()) -> Vec<ClientContext>;
    /// Changes a client's tool mode, budget or always-listed tools.
    client_set_tools(SetClientTools) -> ClientContext;
    /// Which tools of each client's view read private data, carry untrusted
    /// content or send data out, and whether a view holds all three.
    flows_list(()) -> Vec<ClientFlows>;
    /// Sets what a tool does in a flow, whatever is inferred.
    tool_set_flow(SetToolFlow) -> ();
    /// Servers in the catalog, with their add forms.
    catalog_search(CatalogQuery) -> Vec<CatalogEntry>;
    /// Adds a server from the catalog (approved: the user chose it).
    catalog_add(CatalogAdd) -> ServerInfo;
    /// The tools of a server with their permissions and flags.
    tools_list(ServerName) -> Vec<ToolInfo>;
    /// Sets or clears a tool's permission for every client.
    permission_set(SetPermission) -> ();
    /// Approvals, newest first.
    approvals_list(ApprovalsQuery) -> Vec<ApprovalInfo>;
    /// Answers a waiting call.
    approval_answer(AnswerApproval) -> ();
    /// Audit records, newest first.
    audit_query(AuditQuery) -> Vec<AuditRow>;
    /// One audit record in full.
    audit_detail(AuditId) -> AuditDetail;
    /// Figures from the audit log.
    audit_stats(StatsQuery) -> AuditStats;
    /// Clients allowed to connect.
    clients_list(()) -> Vec<ClientInfo>;
    /// Creates a client and its token (shown only in this answer).
    client_add(ClientName) -> NewClient;
    /// Revokes a client's token.
    client_revoke(ClientName) -> ();
    /// Every kind of MCP client, its config and whether it points at Switchboard.
    integrations_list(()) -> Vec<ClientIntegration>;
    /// Imports a client's servers, or previews the import.
    integration_import(IntegrationImport) -> ImportPreview;
    /// Points a client at Switchboard (backup kept), or shows the diff first.
    integration_connect(IntegrationConnect) -> ConnectPreview;
    /// Puts a client's config back as it was before the connect.
    integration_disconnect(IntegrationKind) -> Disconnected;
    /// Settings.
    settings_get(()) -> Settings;
    /// Changes settings.
    settings_set(SettingsUpdate) -> Settings;
    /// What is wrong, each problem with its fix.
    doctor(()) -> DoctorReport;
    /// OAuth status of every remote server.
    oauth_list(()) -> Vec<OAuthStatus>;
    /// A server's OAuth status and the debug record of its last attempts.
    oauth_detail(ServerName) -> OAuthDetail;
    /// Starts signing in to a server: returns the URL to open.
    oauth_begin(BeginSignIn) -> SignInStarted;
    /// Completes a sign-in with the redirect URL.
    oauth_complete(CompleteSignIn) -> ();
    /// Signs out of a server: revokes its tokens at the authorization
    /// server where it can, then forgets them (the registration is kept).
    oauth_sign_out(ServerName) -> SignOutResult;
}
