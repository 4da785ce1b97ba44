//! The wire schema: every type that crosses to the UI. TypeScript for these is
//! generated into `ui/src/bindings/` (see [`crate::bindings`]).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// An error as the UI sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What kind of failure, for the UI to act on.
    pub code: ErrorCode,
    /// What went wrong, in words for the user.
    pub message: String,
}

/// Kinds of failure the UI tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed or a value is invalid.
    Invalid,
    /// The thing named does not exist.
    NotFound,
    /// A thing with that name exists already, or the state changed meanwhile.
    Conflict,
    /// No valid control credentials.
    Unauthorized,
    /// Anything else (database, I/O).
    Internal,
}

impl ApiError {
    /// An error of `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// [`ErrorCode::Invalid`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Invalid, message)
    }

    /// [`ErrorCode::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
}

impl From<switchboard_store::Error> for ApiError {
    fn from(e: switchboard_store::Error) -> Self {
        use switchboard_store::Error as E;
        let code = match &e {
            E::ServerExists(_) | E::ClientExists(_) => ErrorCode::Conflict,
            E::NoSuchServer(_) | E::NoSuchClient(_) => ErrorCode::NotFound,
            E::InvalidName(_) | E::InvalidValue(_) => ErrorCode::Invalid,
            _ => ErrorCode::Internal,
        };
        Self::new(code, e.to_string())
    }
}

impl From<switchboard_audit::Error> for ApiError {
    fn from(e: switchboard_audit::Error) -> Self {
        Self::new(ErrorCode::Internal, e.to_string())
    }
}

/// allow / ask / deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Runs.
    Allow,
    /// Waits for the user's answer.
    Ask,
    /// Refused.
    Deny,
}

impl From<switchboard_store::Permission> for Permission {
    fn from(p: switchboard_store::Permission) -> Self {
        match p {
            switchboard_store::Permission::Allow => Permission::Allow,
            switchboard_store::Permission::Ask => Permission::Ask,
            switchboard_store::Permission::Deny => Permission::Deny,
        }
    }
}

impl From<Permission> for switchboard_store::Permission {
    fn from(p: Permission) -> Self {
        match p {
            Permission::Allow => switchboard_store::Permission::Allow,
            Permission::Ask => switchboard_store::Permission::Ask,
            Permission::Deny => switchboard_store::Permission::Deny,
        }
    }
}

/// Lifecycle state of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum ServerState {
    /// Connecting and initializing.
    Starting,
    /// Serving.
    Ready,
    /// The last attempt failed; a retry is scheduled.
    Failed,
    /// Disabled or shut down.
    Stopped,
    /// Its command waits for the user's approval.
    Blocked,
    /// The server wants an OAuth sign-in.
    #[serde(rename = "needs_sign_in")]
    NeedsSignIn,
}

/// Live status of an enabled server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ServerStatus {
    /// State.
    pub state: ServerState,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// Tools, once known.
    pub tools: Option<u32>,
    /// Reconnections so far.
    pub restarts: u32,
    /// Protocol version agreed with the server.
    pub protocol_version: Option<String>,
}

/// How a server is reached (secret values never cross: only their names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Transport {
    /// A local process over stdin/stdout.
    Stdio {
        /// Program.
        command: String,
        /// Arguments.
        args: Vec<String>,
        /// Names of the extra environment variables.
        env: Vec<String>,
    },
    /// Streamable HTTP.
    Http {
        /// Endpoint.
        url: String,
    },
    /// Legacy HTTP + SSE.
    Sse {
        /// Endpoint.
        url: String,
    },
}

/// A configured server and its live status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ServerInfo {
    /// Unique name.
    pub name: String,
    /// Whether the gateway runs it.
    pub enabled: bool,
    /// How it is reached.
    pub transport: Transport,
    /// For stdio: whether this exact command was approved.
    pub launch_approved: bool,
    /// Live status (None: disabled, or not picked up yet).
    pub status: Option<ServerStatus>,
    /// Tokens of its tool definitions as `/mcp` lists them (None: not running).
    pub tokens: Option<u32>,
    /// For stdio: its sandbox (None for a remote server).
    pub sandbox: Option<crate::sandbox::SandboxInfo>,
}

/// A new server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct NewServer {
    /// Unique name (letters, digits, `-`, `_`).
    pub name: String,
    /// How to reach it.
    pub transport: NewTransport,
}

/// How a new server is reached; values of env/headers may be secrets and go
/// to the OS keyring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum NewTransport {
    /// A local process.
    Stdio {
        /// Program.
        command: String,
        /// Arguments.
        args: Vec<String>,
        /// Extra environment, as pairs.
        env: Vec<(String, String)>,
    },
    /// Streamable HTTP.
    Http {
        /// Endpoint.
        url: String,
        /// Extra headers, as pairs.
        headers: Vec<(String, String)>,
    },
    /// Legacy HTTP + SSE.
    Sse {
        /// Endpoint.
        url: String,
        /// Extra headers, as pairs.
        headers: Vec<(String, String)>,
    },
}

/// Names one server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ServerName {
    /// Server name.
    pub name: String,
}

/// Turns a server on or off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SetEnabled {
    /// Server name.
    pub name: String,
    /// On or off.
    pub enabled: bool,
}

/// A suspicious-definition flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ToolFlag {
    /// The rule that fired.
    pub rule: String,
    /// `warning` or worse.
    pub severity: String,
    /// What matched.
    pub detail: String,
}

/// One tool of a server with what may happen when it is called.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ToolInfo {
    /// Server.
    pub server: String,
    /// Tool name as the server names it.
    pub name: String,
    /// Title, if any.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Input JSON Schema.
    #[ts(type = "unknown")]
    pub input_schema: serde_json::Value,
    /// Annotations (read-only, destructive, open-world hints).
    #[ts(type = "unknown")]
    pub annotations: serde_json::Value,
    /// Permission for every client: the explicit one or the default.
    pub permission: Permission,
    /// Whether `permission` was set explicitly for this tool.
    pub explicit: bool,
    /// Why that permission.
    pub rule: String,
    /// Suspicious-definition flags.
    pub flags: Vec<ToolFlag>,
    /// The server now serves a different definition than the approved one.
    pub changed: bool,
    /// Tokens of its definition as `/mcp` lists it.
    pub tokens: u32,
}

/// Sets (or clears, with `permission` null) a tool's permission for every client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SetPermission {
    /// Server.
    pub server: String,
    /// Tool (`*`: every tool of the server).
    pub tool: String,
    /// New permission; null falls back to the default.
    pub permission: Option<Permission>,
}

/// A call that waits for (or got) the user's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ApprovalInfo {
    /// Id.
    pub id: i64,
    /// Client that made the call.
    pub client: String,
    /// Server.
    pub server: String,
    /// Tool.
    pub tool: String,
    /// Arguments (secrets masked), JSON text: what the audit log keeps.
    pub arguments: Option<String>,
    /// The exact arguments of a call still waiting, JSON text, for the person
    /// deciding (only from the process that holds the call; never stored).
    pub exact_arguments: Option<String>,
    /// `pending`, `allowed`, `denied` or `expired`.
    pub status: String,
    /// For `allowed`: `once`, `session` or `always`.
    pub scope: Option<String>,
    /// When asked, unix ms.
    pub created_at: i64,
    /// Why it was put to the user: the rule that asked.
    pub reason: Option<String>,
}

/// Which approvals to list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ApprovalsQuery {
    /// Only those still waiting.
    pub pending_only: bool,
}

/// The user's answer to a waiting call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalAnswer {
    /// This call only.
    Once,
    /// For the rest of the client's session.
    Session,
    /// From now on for this client.
    Always,
    /// Refuse.
    Deny,
}

/// Answers an approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AnswerApproval {
    /// Approval id.
    pub id: i64,
    /// The answer.
    pub answer: ApprovalAnswer,
}

/// One audit record without its bodies (the live log's row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AuditRow {
    /// Sequence number.
    pub id: i64,
    /// Start time, unix ms.
    pub ts: i64,
    /// Client.
    pub client: Option<String>,
    /// Server.
    pub server: Option<String>,
    /// `client_to_server` or `server_to_client`.
    pub direction: String,
    /// JSON-RPC method.
    pub method: String,
    /// Tool, prompt or resource name.
    pub name: Option<String>,
    /// `ok`, `error`, `cancelled`, `denied`.
    pub status: String,
    /// Error message.
    pub error: Option<String>,
    /// Microseconds to the answer.
    pub latency_us: Option<i64>,
    /// Policy decision.
    pub decision: String,
    /// MCP protocol version of the client's session or request.
    pub protocol_version: Option<String>,
}

/// One audit record in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AuditDetail {
    /// The row.
    pub row: AuditRow,
    /// MCP session.
    pub session: Option<String>,
    /// Request params, JSON text (redacted); its first bytes when cut.
    pub request: Option<String>,
    /// Size before capping.
    pub request_size: i64,
    /// Set when the request was stored cut to the payload cap.
    pub request_cut: Option<PayloadCut>,
    /// Result, JSON text (redacted); its first bytes when cut.
    pub response: Option<String>,
    /// Size before capping.
    pub response_size: i64,
    /// Set when the result was stored cut to the payload cap.
    pub response_cut: Option<PayloadCut>,
    /// JSON-RPC error code.
    pub error_code: Option<i64>,
    /// Rule behind the decision.
    pub rule: Option<String>,
    /// This record's chain hash.
    pub hash: String,
}

/// Which audit records to return, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct AuditQuery {
    /// Full-text search over names, arguments and results.
    pub search: Option<String>,
    /// Client.
    pub client: Option<String>,
    /// Server.
    pub server: Option<String>,
    /// JSON-RPC method.
    pub method: Option<String>,
    /// `ok`, `error`, `cancelled`, `denied`.
    pub status: Option<String>,
    /// Keyset paging: older than this id.
    pub before_id: Option<i64>,
    /// Page size (0: 100; at most 10,000).
    pub limit: u32,
}

/// Names one audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AuditId {
    /// Record id.
    pub id: i64,
}

/// Over what time the figures are computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StatsQuery {
    /// Minutes back from now.
    pub minutes: u32,
}

/// Usage of one tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ToolStat {
    /// Server.
    pub server: String,
    /// Tool.
    pub tool: String,
    /// Calls.
    pub calls: u32,
    /// Errors and refusals.
    pub errors: u32,
    /// Median latency, µs.
    pub p50_us: Option<i64>,
    /// 95th percentile latency, µs.
    pub p95_us: Option<i64>,
}

/// Calls in one minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MinuteBucket {
    /// Start of the minute, unix ms.
    pub minute: i64,
    /// Tool calls.
    pub calls: u32,
    /// Of which errors or refusals.
    pub errors: u32,
}

/// Figures from the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AuditStats {
    /// Tool calls in the period.
    pub calls: u32,
    /// Errors and refusals in the period.
    pub errors: u32,
    /// Per minute, oldest first (every minute of the period).
    pub per_minute: Vec<MinuteBucket>,
    /// Per tool, busiest first.
    pub tools: Vec<ToolStat>,
}

/// A client allowed to connect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ClientInfo {
    /// Name.
    pub name: String,
    /// Profile it uses (None: every server).
    pub profile: Option<String>,
    /// Created, unix ms.
    pub created_at: i64,
    /// Last seen, unix ms.
    pub last_seen_at: Option<i64>,
}

/// Names one client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ClientName {
    /// Client name.
    pub name: String,
}

/// A new client and its token, shown only this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct NewClient {
    /// The client.
    pub client: ClientInfo,
    /// Its bearer token.
    pub token: String,
    /// The MCP endpoint to point it at.
    pub mcp_url: String,
}

/// Defaults by tool annotations, for tools without an explicit permission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PolicyDefaults {
    /// `readOnlyHint`.
    pub read_only: Permission,
    /// `destructiveHint`.
    pub destructive: Permission,
    /// `openWorldHint`.
    pub open_world: Permission,
    /// None of these.
    pub unannotated: Permission,
    /// Seconds a call waits for an answer before it is denied.
    pub approval_timeout_secs: u32,
    /// The toxic-flow guard: once a session received a result of an
    /// untrusted-content tool, its calls of outbound tools ask first.
    pub flow_guard: bool,
}

/// Audit log settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AuditConfig {
    /// A call's answer waits until its record is committed.
    pub strict: bool,
    /// Delete records older than this many days (None: keep).
    pub retention_days: Option<u32>,
    /// Keep the log's files under this many MB (None: no limit; at least 10).
    pub max_mb: Option<u32>,
    /// Requests and results longer than this many KB are stored as their
    /// first bytes, full length and SHA-256 (1 to 65536).
    pub max_payload_kb: u32,
}

/// The space the audit log takes, and whether its chain is keyed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AuditStorage {
    /// `sqlite` or `postgres`.
    pub engine: String,
    /// Bytes on disk (SQLite: the file and its write-ahead log; PostgreSQL:
    /// the tables and their indexes).
    pub bytes: i64,
    /// Records kept.
    pub records: i64,
    /// When the oldest kept record was written (unix ms).
    pub oldest_ts: Option<i64>,
    /// Whether the hash chain is keyed with a key in the OS keyring.
    pub keyed: bool,
    /// Why it is not, when it is not.
    pub unkeyed_reason: Option<String>,
}

/// A request or result stored cut to the payload cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PayloadCut {
    /// Its full length in bytes.
    pub size: i64,
    /// SHA-256 of its full (redacted) text, in hex.
    pub sha256: Option<String>,
}

/// Settings the UI shows; `listen` and `data_dir` are read-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Settings {
    /// Where the gateway listens.
    pub listen: String,
    /// MCP endpoint.
    pub mcp_url: String,
    /// Data directory.
    pub data_dir: String,
    /// Audit log.
    pub audit: AuditConfig,
    /// The space the audit log takes.
    pub audit_storage: AuditStorage,
    /// Permission defaults.
    pub defaults: PolicyDefaults,
    /// Sign-in to remote servers.
    pub oauth: OAuthClientSettings,
}

/// How Switchboard signs in to remote servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct OAuthClientSettings {
    /// HTTPS URL of Switchboard's Client ID Metadata Document, used with
    /// authorization servers that accept them (None: dynamic registration).
    pub client_metadata_url: Option<String>,
}

/// The writable part of [`Settings`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SettingsUpdate {
    /// Audit log.
    pub audit: AuditConfig,
    /// Permission defaults.
    pub defaults: PolicyDefaults,
    /// Sign-in settings (left as they are when absent).
    #[serde(default)]
    #[ts(optional)]
    pub oauth: Option<OAuthClientSettings>,
}

/// The gateway at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Overview {
    /// Version.
    pub version: String,
    /// MCP endpoint.
    pub mcp_url: String,
    /// Configured servers.
    pub servers: u32,
    /// Of which ready.
    pub ready: u32,
    /// Clients.
    pub clients: u32,
    /// Calls waiting for approval.
    pub pending_approvals: u32,
    /// Live client sessions by MCP protocol version (a 2026-07-28 client,
    /// which has no session, counts per open request or listen stream).
    pub sessions: std::collections::BTreeMap<String, u32>,
}

/// How bad a doctor finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fine.
    Ok,
    /// Worth knowing; nothing is broken.
    Info,
    /// Something may not work as expected.
    Warning,
    /// Something does not work.
    Problem,
}

/// One doctor finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DoctorCheck {
    /// Group: `data`, `gateway`, `runtime`, `keyring`, `server`, `client`.
    pub area: String,
    /// What was checked (`node`, a server's name, a client's id).
    pub subject: String,
    /// How bad.
    pub severity: Severity,
    /// What was found.
    pub detail: String,
    /// How to fix it (always present for warnings and problems).
    pub fix: Option<String>,
}

/// Everything the doctor found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DoctorReport {
    /// The findings, in the order checked.
    pub checks: Vec<DoctorCheck>,
}

/// The end of a stdio server's stderr log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ServerLog {
    /// The server.
    pub name: String,
    /// The last lines it wrote (at most 64 KiB), oldest first.
    pub text: String,
}

/// A resource a server offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ResourceInfo {
    /// Its URI.
    pub uri: String,
    /// Its name.
    pub name: String,
    /// A display title.
    pub title: Option<String>,
    /// What it is.
    pub description: Option<String>,
    /// Its MIME type.
    pub mime_type: Option<String>,
    /// `true` for a template (`uri` is then an RFC 6570 URI template).
    pub template: bool,
}

/// An argument of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PromptArgumentInfo {
    /// Name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Whether it must be given.
    pub required: bool,
}

/// A prompt a server offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PromptInfo {
    /// Name.
    pub name: String,
    /// A display title.
    pub title: Option<String>,
    /// What it does.
    pub description: Option<String>,
    /// Its arguments.
    pub arguments: Vec<PromptArgumentInfo>,
}

/// What a running server offers besides tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ServerOffer {
    /// Resources and resource templates.
    pub resources: Vec<ResourceInfo>,
    /// Prompts.
    pub prompts: Vec<PromptInfo>,
}

/// Names one tool of one server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ToolRef {
    /// Server.
    pub server: String,
    /// Tool, as the server names it.
    pub tool: String,
}

/// How a tool's definition changed since it was approved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ToolChange {
    /// Server.
    pub server: String,
    /// Tool.
    pub tool: String,
    /// A line diff of the approved and the served definition (`- `, `+ `
    /// or two spaces before each line); empty when nothing changed.
    pub lines: Vec<String>,
    /// Since when the changed definition is served, unix ms.
    pub pending_since: Option<i64>,
}

/// Who a permission rule applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum RuleScope {
    /// Every client.
    Everyone,
    /// Clients using this profile.
    Profile(String),
    /// One client.
    Client(String),
}

/// An explicit permission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PermissionRule {
    /// Who it applies to.
    pub scope: RuleScope,
    /// Server (`*`: every server).
    pub server: String,
    /// Tool (`*`: every tool of the server).
    pub tool: String,
    /// The permission.
    pub permission: Permission,
}

/// Sets (or, with no permission, removes) a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SetRule {
    /// Who it applies to.
    pub scope: RuleScope,
    /// Server (`*`: every server).
    pub server: String,
    /// Tool (`*`: every tool of the server).
    pub tool: String,
    /// The permission; None removes the rule.
    pub permission: Option<Permission>,
}

/// A named set of servers clients can be limited to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ProfileInfo {
    /// Name.
    pub name: String,
    /// Its servers (None: every server).
    pub servers: Option<Vec<String>>,
}

/// Binds a client to a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SetProfile {
    /// The client.
    pub client: String,
    /// The profile (None: every server).
    pub profile: Option<String>,
}

/// Searches the server catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CatalogQuery {
    /// Words to look for (empty: everything).
    pub text: String,
}

/// One field of a catalog entry's form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CatalogField {
    /// `env`, `header` or `var` (an argument or a `{variable}`).
    pub kind: String,
    /// The key it is given by.
    pub key: String,
    /// What it is for.
    pub description: Option<String>,
    /// It must be given.
    pub required: bool,
    /// It is a secret (goes to the OS keyring).
    pub secret: bool,
    /// The value used if none is given.
    pub default: Option<String>,
    /// Allowed values.
    pub choices: Vec<String>,
}

/// One way to run a catalog entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CatalogOption {
    /// `package` (local, over stdio) or `remote` (over HTTP).
    pub kind: String,
    /// Which package or remote.
    pub index: u32,
    /// One line: what runs and how.
    pub summary: String,
    /// What the user fills in.
    pub fields: Vec<CatalogField>,
    /// Why it cannot be used, if it cannot.
    pub unsupported: Option<String>,
}

/// A server from the catalog and its add form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CatalogEntry {
    /// Registry name (the id to add it by).
    pub id: String,
    /// What it does.
    pub description: String,
    /// The server name it gets unless the user picks one.
    pub suggested_name: String,
    /// Ways to run it.
    pub options: Vec<CatalogOption>,
    /// The index into `options` used unless the user picks one.
    pub default_option: Option<u32>,
}

/// Adds a server from the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CatalogAdd {
    /// Registry name.
    pub id: String,
    /// Name of the new server.
    pub name: String,
    /// `package` or `remote`.
    pub kind: String,
    /// Which package or remote.
    pub index: u32,
    /// Answers, as (field kind, key, value).
    pub values: Vec<(String, String, String)>,
}

/// Where a server stands with OAuth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SignInState {
    /// No sign-in stored and none asked for.
    None,
    /// Signed in; tokens in the keyring.
    SignedIn,
    /// The server wants a sign-in (first use, revoked, or more scope).
    NeedsSignIn,
    /// A sign-in waits for the browser.
    SigningIn,
}

/// A server's OAuth status (never a token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct OAuthStatus {
    /// Server name.
    pub server: String,
    /// State.
    pub state: SignInState,
    /// The authorization server.
    pub issuer: Option<String>,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// When the access token expires (Unix ms).
    pub expires_at_ms: Option<f64>,
    /// Why a sign-in is needed, or why the last one failed.
    pub reason: Option<String>,
    /// The sign-in waiting for its redirect.
    pub flow_id: Option<String>,
    /// The user signed out (rather than a sign-in that was lost).
    pub signed_out: bool,
}

/// One step of an OAuth attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct OAuthStep {
    /// Unix ms.
    pub at_ms: f64,
    /// What was done (`GET https://…/.well-known/…`, `registration`, …).
    pub action: String,
    /// HTTP status of the answer.
    pub status: Option<u16>,
    /// What came of it (secrets left out).
    pub detail: Option<String>,
}

/// One OAuth attempt: a sign-in, or a connection's token upkeep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct OAuthAttempt {
    /// Counts up per server.
    pub attempt: u32,
    /// `sign-in`, `connection` or `sign-out`.
    pub kind: String,
    /// Unix ms.
    pub started_ms: f64,
    /// Steps, oldest first.
    pub steps: Vec<OAuthStep>,
    /// How it ended.
    pub outcome: Option<String>,
}

/// A server's OAuth status with the record of its last attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct OAuthDetail {
    /// The status.
    pub status: OAuthStatus,
    /// The last attempts, oldest first.
    pub attempts: Vec<OAuthAttempt>,
}

/// Starts a sign-in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct BeginSignIn {
    /// Server name.
    pub name: String,
    /// A client id registered out of band (else: metadata document or dynamic registration).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Its secret (kept in the keyring).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Scopes to ask for (default: from the server's metadata).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Register anew instead of reusing the registration of an earlier sign-in.
    #[serde(default)]
    pub register_anew: bool,
}

/// What signing out told the authorization server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Revocation {
    /// The tokens were revoked (RFC 7009).
    Revoked,
    /// The authorization server offers no revocation: the tokens stay valid
    /// there until they expire.
    Unsupported,
    /// Revoking failed; the tokens stay valid there until they expire.
    Failed,
    /// There were no tokens.
    NothingToRevoke,
}

/// What signing out did. The tokens are forgotten in every case; the client
/// registration is kept for the next sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SignOutResult {
    /// Whether there was a sign-in.
    pub had_sign_in: bool,
    /// What the authorization server was told.
    pub revocation: Revocation,
    /// The same, in words (with the reason of a failure).
    pub message: String,
}

/// A started sign-in: open the URL; completion shows in `oauth` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SignInStarted {
    /// The flow, for `oauth_complete`.
    pub flow_id: String,
    /// Open this in a browser or the host's window.
    pub authorization_url: String,
    /// The loopback redirect URI the flow listens on.
    pub redirect_uri: String,
}

/// Completes a sign-in with the URL the authorization server redirected to
/// (for hosts that catch the redirect in their own window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CompleteSignIn {
    /// The flow.
    pub flow_id: String,
    /// The full redirect URL (code, state, iss).
    pub callback_url: String,
}

/// Something that happened, pushed to the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Newly committed audit records, oldest first.
    Audit {
        /// The records.
        rows: Vec<AuditRow>,
    },
    /// The live log fell behind and missed batches: reload from the log.
    AuditLagged {
        /// Batches missed.
        missed: u32,
    },
    /// The set of waiting approvals changed.
    Approvals {
        /// Those now waiting.
        pending: Vec<ApprovalInfo>,
    },
    /// A server's status or configuration changed.
    Servers {
        /// Every server.
        servers: Vec<ServerInfo>,
    },
    /// The OAuth status of remote servers changed (a sign-in completed,
    /// failed, or a server needs one).
    Oauth {
        /// Every remote server's status.
        statuses: Vec<OAuthStatus>,
    },
}
