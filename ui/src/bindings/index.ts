// Generated from crates/api (schema.rs, lib.rs) by `UPDATE_BINDINGS=1 cargo test -p switchboard-api`.
// Do not edit by hand.

/**
 * An error as the UI sees it.
 */
export type ApiError = { 
/**
 * What kind of failure, for the UI to act on.
 */
code: ErrorCode, 
/**
 * What went wrong, in words for the user.
 */
message: string, };

/**
 * Kinds of failure the UI tells apart.
 */
export type ErrorCode = "invalid" | "not_found" | "conflict" | "unauthorized" | "internal";

/**
 * allow / ask / deny.
 */
export type Permission = "allow" | "ask" | "deny";

/**
 * Lifecycle state of a server.
 */
export type ServerState = "starting" | "ready" | "failed" | "stopped" | "blocked" | "needs_sign_in";

/**
 * Live status of an enabled server.
 */
export type ServerStatus = { 
/**
 * State.
 */
state: ServerState, 
/**
 * Why the last attempt failed.
 */
error: string | null, 
/**
 * Tools, once known.
 */
tools: number | null, 
/**
 * Reconnections so far.
 */
restarts: number, 
/**
 * Protocol version agreed with the server.
 */
protocol_version: string | null, };

/**
 * How a server is reached (secret values never cross: only their names).
 */
export type Transport = { "kind": "stdio", 
/**
 * Program.
 */
command: string, 
/**
 * Arguments.
 */
args: Array<string>, 
/**
 * Names of the extra environment variables.
 */
env: Array<string>, } | { "kind": "http", 
/**
 * Endpoint.
 */
url: string, } | { "kind": "sse", 
/**
 * Endpoint.
 */
url: string, };

/**
 * Whether a sandboxed server may use the network.
 */
export type SandboxNetwork = "inferred" | "off" | "on";

/**
 * One path a sandboxed server may use.
 */
export type SandboxGrant = { 
/**
 * Folder (and everything beneath) or file.
 */
path: string, 
/**
 * Read and write (false: read only).
 */
write: boolean, 
/**
 * Why: `interpreter`, `package`, `argument`, `environment`,
 * `working_folder`, `cache`, `config`, `temp_dir` or `user`.
 */
why: string, 
/**
 * The argument or variable it came from.
 */
detail: string | null, };

/**
 * A stdio server's sandbox.
 */
export type SandboxInfo = { 
/**
 * Off: it runs with the user's full rights and environment.
 */
enabled: boolean, 
/**
 * Paths the user let it read.
 */
allow_read: Array<string>, 
/**
 * Paths the user let it read and write.
 */
allow_write: Array<string>, 
/**
 * Its network setting.
 */
network: SandboxNetwork, 
/**
 * Whether it gets the network when it starts now.
 */
network_on: boolean, 
/**
 * Why the network is on or off.
 */
network_why: string, 
/**
 * Everything it may use beyond the system's libraries and programs
 * (empty when its program is not found).
 */
grants: Array<SandboxGrant>, };

/**
 * New sandbox settings for a stdio server.
 */
export type SetSandbox = { 
/**
 * The server.
 */
name: string, 
/**
 * Off: unsandboxed.
 */
enabled: boolean, 
/**
 * Paths it may read (must exist).
 */
allow_read: Array<string>, 
/**
 * Paths it may read and write (must exist).
 */
allow_write: Array<string>, 
/**
 * Its network.
 */
network: SandboxNetwork, };

/**
 * A configured server and its live status.
 */
export type ServerInfo = { 
/**
 * Unique name.
 */
name: string, 
/**
 * Whether the gateway runs it.
 */
enabled: boolean, 
/**
 * How it is reached.
 */
transport: Transport, 
/**
 * For stdio: whether this exact command was approved.
 */
launch_approved: boolean, 
/**
 * Live status (None: disabled, or not picked up yet).
 */
status: ServerStatus | null, 
/**
 * Tokens of its tool definitions as `/mcp` lists them (None: not running).
 */
tokens: number | null, 
/**
 * For stdio: its sandbox (None for a remote server).
 */
sandbox: SandboxInfo | null, };

/**
 * A new server.
 */
export type NewServer = { 
/**
 * Unique name (letters, digits, `-`, `_`).
 */
name: string, 
/**
 * How to reach it.
 */
transport: NewTransport, };

/**
 * How a new server is reached; values of env/headers may be secrets and go
 * to the OS keyring.
 */
export type NewTransport = { "kind": "stdio", 
/**
 * Program.
 */
command: string, 
/**
 * Arguments.
 */
args: Array<string>, 
/**
 * Extra environment, as pairs.
 */
env: Array<[string, string]>, } | { "kind": "http", 
/**
 * Endpoint.
 */
url: string, 
/**
 * Extra headers, as pairs.
 */
headers: Array<[string, string]>, } | { "kind": "sse", 
/**
 * Endpoint.
 */
url: string, 
/**
 * Extra headers, as pairs.
 */
headers: Array<[string, string]>, };

/**
 * Names one server.
 */
export type ServerName = { 
/**
 * Server name.
 */
name: string, };

/**
 * Turns a server on or off.
 */
export type SetEnabled = { 
/**
 * Server name.
 */
name: string, 
/**
 * On or off.
 */
enabled: boolean, };

/**
 * A suspicious-definition flag.
 */
export type ToolFlag = { 
/**
 * The rule that fired.
 */
rule: string, 
/**
 * `warning` or worse.
 */
severity: string, 
/**
 * What matched.
 */
detail: string, };

/**
 * One tool of a server with what may happen when it is called.
 */
export type ToolInfo = { 
/**
 * Server.
 */
server: string, 
/**
 * Tool name as the server names it.
 */
name: string, 
/**
 * Title, if any.
 */
title: string | null, 
/**
 * Description.
 */
description: string | null, 
/**
 * Input JSON Schema.
 */
input_schema: unknown, 
/**
 * Annotations (read-only, destructive, open-world hints).
 */
annotations: unknown, 
/**
 * Permission for every client: the explicit one or the default.
 */
permission: Permission, 
/**
 * Whether `permission` was set explicitly for this tool.
 */
explicit: boolean, 
/**
 * Why that permission.
 */
rule: string, 
/**
 * Suspicious-definition flags.
 */
flags: Array<ToolFlag>, 
/**
 * The server now serves a different definition than the approved one.
 */
changed: boolean, 
/**
 * Tokens of its definition as `/mcp` lists it.
 */
tokens: number, };

/**
 * Sets (or clears, with `permission` null) a tool's permission for every client.
 */
export type SetPermission = { 
/**
 * Server.
 */
server: string, 
/**
 * Tool (`*`: every tool of the server).
 */
tool: string, 
/**
 * New permission; null falls back to the default.
 */
permission: Permission | null, };

/**
 * A call that waits for (or got) the user's answer.
 */
export type ApprovalInfo = { 
/**
 * Id.
 */
id: number, 
/**
 * Client that made the call.
 */
client: string, 
/**
 * Server.
 */
server: string, 
/**
 * Tool.
 */
tool: string, 
/**
 * Arguments (secrets masked), JSON text: what the audit log keeps.
 */
arguments: string | null, 
/**
 * The exact arguments of a call still waiting, JSON text, for the person
 * deciding (only from the process that holds the call; never stored).
 */
exact_arguments: string | null, 
/**
 * `pending`, `allowed`, `denied` or `expired`.
 */
status: string, 
/**
 * For `allowed`: `once`, `session` or `always`.
 */
scope: string | null, 
/**
 * When asked, unix ms.
 */
created_at: number, 
/**
 * Why it was put to the user: the rule that asked.
 */
reason: string | null, };

/**
 * Which approvals to list.
 */
export type ApprovalsQuery = { 
/**
 * Only those still waiting.
 */
pending_only: boolean, };

/**
 * The user's answer to a waiting call.
 */
export type ApprovalAnswer = "once" | "session" | "always" | "deny";

/**
 * Answers an approval.
 */
export type AnswerApproval = { 
/**
 * Approval id.
 */
id: number, 
/**
 * The answer.
 */
answer: ApprovalAnswer, };

/**
 * One audit record without its bodies (the live log's row).
 */
export type AuditRow = { 
/**
 * Sequence number.
 */
id: number, 
/**
 * Start time, unix ms.
 */
ts: number, 
/**
 * Client.
 */
client: string | null, 
/**
 * Server.
 */
server: string | null, 
/**
 * `client_to_server` or `server_to_client`.
 */
direction: string, 
/**
 * JSON-RPC method.
 */
method: string, 
/**
 * Tool, prompt or resource name.
 */
name: string | null, 
/**
 * `ok`, `error`, `cancelled`, `denied`.
 */
status: string, 
/**
 * Error message.
 */
error: string | null, 
/**
 * Microseconds to the answer.
 */
latency_us: number | null, 
/**
 * Policy decision.
 */
decision: string, 
/**
 * MCP protocol version of the client's session or request.
 */
protocol_version: string | null, };

/**
 * One audit record in full.
 */
export type AuditDetail = { 
/**
 * The row.
 */
row: AuditRow, 
/**
 * MCP session.
 */
session: string | null, 
/**
 * Request params, JSON text (redacted); its first bytes when cut.
 */
request: string | null, 
/**
 * Size before capping.
 */
request_size: number, 
/**
 * Set when the request was stored cut to the payload cap.
 */
request_cut: PayloadCut | null, 
/**
 * Result, JSON text (redacted); its first bytes when cut.
 */
response: string | null, 
/**
 * Size before capping.
 */
response_size: number, 
/**
 * Set when the result was stored cut to the payload cap.
 */
response_cut: PayloadCut | null, 
/**
 * JSON-RPC error code.
 */
error_code: number | null, 
/**
 * Rule behind the decision.
 */
rule: string | null, 
/**
 * This record's chain hash.
 */
hash: string, };

/**
 * A request or result stored cut to the payload cap.
 */
export type PayloadCut = { 
/**
 * Its full length in bytes.
 */
size: number, 
/**
 * SHA-256 of its full (redacted) text, in hex.
 */
sha256: string | null, };

/**
 * Which audit records to return, newest first.
 */
export type AuditQuery = { 
/**
 * Full-text search over names, arguments and results.
 */
search: string | null, 
/**
 * Client.
 */
client: string | null, 
/**
 * Server.
 */
server: string | null, 
/**
 * JSON-RPC method.
 */
method: string | null, 
/**
 * `ok`, `error`, `cancelled`, `denied`.
 */
status: string | null, 
/**
 * Keyset paging: older than this id.
 */
before_id: number | null, 
/**
 * Page size (0: 100; at most 10,000).
 */
limit: number, };

/**
 * Names one audit record.
 */
export type AuditId = { 
/**
 * Record id.
 */
id: number, };

/**
 * Over what time the figures are computed.
 */
export type StatsQuery = { 
/**
 * Minutes back from now.
 */
minutes: number, };

/**
 * Usage of one tool.
 */
export type ToolStat = { 
/**
 * Server.
 */
server: string, 
/**
 * Tool.
 */
tool: string, 
/**
 * Calls.
 */
calls: number, 
/**
 * Errors and refusals.
 */
errors: number, 
/**
 * Median latency, µs.
 */
p50_us: number | null, 
/**
 * 95th percentile latency, µs.
 */
p95_us: number | null, };

/**
 * Calls in one minute.
 */
export type MinuteBucket = { 
/**
 * Start of the minute, unix ms.
 */
minute: number, 
/**
 * Tool calls.
 */
calls: number, 
/**
 * Of which errors or refusals.
 */
errors: number, };

/**
 * Figures from the audit log.
 */
export type AuditStats = { 
/**
 * Tool calls in the period.
 */
calls: number, 
/**
 * Errors and refusals in the period.
 */
errors: number, 
/**
 * Per minute, oldest first (every minute of the period).
 */
per_minute: Array<MinuteBucket>, 
/**
 * Per tool, busiest first.
 */
tools: Array<ToolStat>, };

/**
 * A client allowed to connect.
 */
export type ClientInfo = { 
/**
 * Name.
 */
name: string, 
/**
 * Profile it uses (None: every server).
 */
profile: string | null, 
/**
 * Created, unix ms.
 */
created_at: number, 
/**
 * Last seen, unix ms.
 */
last_seen_at: number | null, };

/**
 * Names one client.
 */
export type ClientName = { 
/**
 * Client name.
 */
name: string, };

/**
 * How `/mcp` offers a client its tools.
 */
export type ToolMode = "passthrough" | "search" | "auto";

/**
 * A client's budget (None: no limit).
 */
export type Budget = { 
/**
 * Tools listed at most.
 */
tools: number | null, 
/**
 * Tokens of tool definitions at most.
 */
tokens: number | null, };

/**
 * One server's share of a client's view.
 */
export type ServerTokens = { 
/**
 * Server.
 */
server: string, 
/**
 * Its tools in the view.
 */
tools: number, 
/**
 * Tokens of their definitions.
 */
tokens: number, };

/**
 * One tool's cost in a client's view.
 */
export type ToolTokens = { 
/**
 * Server.
 */
server: string, 
/**
 * Name on `/mcp` (`SERVER__TOOL`).
 */
name: string, 
/**
 * Tokens of its definition.
 */
tokens: number, 
/**
 * Listed whatever the mode.
 */
always_listed: boolean, };

/**
 * What a client's tools cost and how they are offered to it.
 */
export type ClientContext = { 
/**
 * Client.
 */
client: string, 
/**
 * Its tool mode.
 */
mode: ToolMode, 
/**
 * Whether the mode is its kind's default (not set for it).
 */
mode_default: boolean, 
/**
 * Its budget.
 */
budget: Budget, 
/**
 * Its kind's budget.
 */
default_budget: Budget, 
/**
 * Where its kind's defaults come from.
 */
defaults_reason: string, 
/**
 * True when `/mcp` lists it the search tools now.
 */
searching: boolean, 
/**
 * Tools in its full view.
 */
view_tools: number, 
/**
 * Tokens of its full view.
 */
view_tokens: number, 
/**
 * Tools it is listed now.
 */
listed_tools: number, 
/**
 * Tokens of what it is listed now.
 */
listed_tokens: number, 
/**
 * Past its tool budget.
 */
over_tools: boolean, 
/**
 * Past its token budget.
 */
over_tokens: boolean, 
/**
 * Its servers, most tokens first.
 */
servers: Array<ServerTokens>, 
/**
 * Its tools.
 */
tools: Array<ToolTokens>, 
/**
 * The tokenizer's encoding (an estimate for other model families).
 */
encoding: string, };

/**
 * A budget limit to change: absent leaves it, null goes back to the kind's
 * default, a number sets it.
 */
export type Limit = { "to": "default" } | { "to": "set", "value": number };

/**
 * A mode to change to.
 */
export type ModeChange = { "to": "default" } | { "to": "set", "value": ToolMode };

/**
 * Changes how `/mcp` offers a client its tools.
 */
export type SetClientTools = { 
/**
 * Client.
 */
client: string, 
/**
 * New mode (absent: unchanged).
 */
mode?: ModeChange, 
/**
 * New tool budget.
 */
budget_tools?: Limit, 
/**
 * New token budget.
 */
budget_tokens?: Limit, 
/**
 * Tools (`SERVER__TOOL`) to list whatever the mode.
 */
always_list: Array<string>, 
/**
 * Tools to take off that list.
 */
unlist: Array<string>, };

/**
 * Labels the user set (None: as inferred).
 */
export type FlowLabelsSet = { 
/**
 * Reads private data.
 */
private_data: boolean | null, 
/**
 * Carries untrusted content.
 */
untrusted_content: boolean | null, 
/**
 * Sends data out.
 */
outbound: boolean | null, };

/**
 * One labelled tool of a client's view.
 */
export type FlowToolInfo = { 
/**
 * Server.
 */
server: string, 
/**
 * Tool as the server names it.
 */
tool: string, 
/**
 * Name on `/mcp` (`SERVER__TOOL`).
 */
name: string, 
/**
 * Reads private data.
 */
private_data: boolean, 
/**
 * Its results carry content someone else wrote.
 */
untrusted_content: boolean, 
/**
 * Can send data out.
 */
outbound: boolean, 
/**
 * Why, one line per label.
 */
why: Array<string>, 
/**
 * The user's overrides of its labels.
 */
overridden: FlowLabelsSet, };

/**
 * What one client's view can do in a flow.
 */
export type ClientFlows = { 
/**
 * Client.
 */
client: string, 
/**
 * Its view holds a private-data, an untrusted-content and an outbound
 * tool: text planted in the untrusted content can steer it to send the
 * private data out.
 */
toxic: boolean, 
/**
 * The guard is on: after an untrusted result, outbound calls ask first.
 */
guard: boolean, 
/**
 * The tools of its view with any label.
 */
tools: Array<FlowToolInfo>, };

/**
 * Sets what a tool does in a flow (for every client).
 */
export type SetToolFlow = { 
/**
 * Server.
 */
server: string, 
/**
 * Tool as the server names it.
 */
tool: string, 
/**
 * The labels to hold whatever is inferred (None: as inferred).
 */
labels: FlowLabelsSet, };

/**
 * Whether a client's config points at Switchboard.
 */
export type Connection = "not_connected" | "connected" | "changed_since" | "entry_missing";

/**
 * One kind of MCP client and its user config.
 */
export type ClientIntegration = { 
/**
 * Its id (`claude-desktop`, `cursor`, ...).
 */
kind: string, 
/**
 * Its name.
 */
name: string, 
/**
 * Whether it appears to be installed here.
 */
installed: boolean, 
/**
 * Its user config file.
 */
config_path: string, 
/**
 * Whether that file exists.
 */
config_exists: boolean, 
/**
 * Why the file cannot be read (it is left untouched).
 */
config_error: string | null, 
/**
 * The servers it has of its own (Switchboard's entry left out).
 */
servers: Array<string>, 
/**
 * Of those, the ones Switchboard cannot import.
 */
unsupported: Array<string>, 
/**
 * Whether it points at Switchboard.
 */
connection: Connection, 
/**
 * How (`http`, or `stdio` through `switchboard connect`).
 */
mode: string | null, 
/**
 * The Switchboard client whose token it holds.
 */
client: string | null, 
/**
 * When that client's first (latest) request arrived, unix ms: None
 * until the client has used the gateway.
 */
last_seen_at: number | null, };

/**
 * Names a client kind.
 */
export type IntegrationKind = { 
/**
 * `claude-desktop`, `cursor`, ...
 */
kind: string, };

/**
 * Imports a client's servers (or, with `apply` false, says what would be).
 */
export type IntegrationImport = { 
/**
 * The client kind.
 */
kind: string, 
/**
 * False: a preview; nothing changes.
 */
apply: boolean, 
/**
 * Import remote servers whose URL or headers take values from the
 * gateway's environment (the preview names each variable).
 */
allow_env: boolean, };

/**
 * One of a client's servers and what importing does with it.
 */
export type ImportRow = { 
/**
 * Its name in the client's config.
 */
entry: string, 
/**
 * `add` or `merge`.
 */
action: string, 
/**
 * The Switchboard server it becomes (`add`) or is the same as (`merge`).
 */
server: string, 
/**
 * Added under another name, the entry's being taken or unusable.
 */
renamed: boolean, 
/**
 * `stdio`, `http` or `sse`.
 */
transport: string, 
/**
 * Its command line or URL.
 */
target: string, 
/**
 * Whether the client had it on.
 */
enabled: boolean, 
/**
 * Notes on the entry.
 */
warnings: Array<string>, 
/**
 * Values it takes from the gateway's environment, as `${VAR} into the ...`.
 */
from_env: Array<string>, };

/**
 * An entry left in the client's config, and why.
 */
export type SkippedRow = { 
/**
 * Its name in the client's config.
 */
entry: string, 
/**
 * Why it is not imported.
 */
reason: string, };

/**
 * What importing does, or did.
 */
export type ImportPreview = { 
/**
 * Entries that become (or already are) servers.
 */
servers: Array<ImportRow>, 
/**
 * Entries left alone.
 */
skipped: Array<SkippedRow>, 
/**
 * Files that could not be read.
 */
problems: Array<string>, 
/**
 * Whether it was carried out.
 */
applied: boolean, 
/**
 * Servers added.
 */
added: Array<string>, 
/**
 * Of those, stdio servers whose command waits for approval.
 */
need_approval: Array<string>, 
/**
 * Secrets moved to the keyring, as `server/purpose`.
 */
secrets: Array<string>, };

/**
 * Points a client at Switchboard (or, with `apply` false, shows the change).
 */
export type IntegrationConnect = { 
/**
 * The client kind.
 */
kind: string, 
/**
 * False: a preview; nothing changes.
 */
apply: boolean, 
/**
 * Use the `switchboard connect` stdio bridge even if the client speaks HTTP.
 */
stdio: boolean, 
/**
 * Leave the client's own servers in its config (they are imported still).
 */
keep_servers: boolean, 
/**
 * As for an import.
 */
allow_env: boolean, };

/**
 * The change to a client's config, and what was done.
 */
export type ConnectPreview = { 
/**
 * The config file.
 */
path: string, 
/**
 * `http` or `stdio`.
 */
mode: string, 
/**
 * Its config already points at Switchboard: nothing to do.
 */
already_connected: boolean, 
/**
 * The unified diff of the file (a new token shows as `sbt_…`).
 */
diff: string, 
/**
 * What happens to the Switchboard client and its token.
 */
token: string, 
/**
 * The client's servers taken out of its config (Switchboard serves them).
 */
removed: Array<string>, 
/**
 * Entries left in its config, and why.
 */
kept: Array<SkippedRow>, 
/**
 * Its servers' import.
 */
import: ImportPreview, 
/**
 * Whether the file was written.
 */
applied: boolean, 
/**
 * The copy of the original, once written.
 */
backup: string | null, };

/**
 * How a client's config was put back.
 */
export type Disconnected = { 
/**
 * The config file.
 */
path: string, 
/**
 * Byte for byte the file from before the connect.
 */
exact: boolean, 
/**
 * What was done, in a sentence.
 */
summary: string, 
/**
 * The Switchboard client removed with it (its token no longer works).
 */
removed_client: string | null, };

/**
 * A new client and its token, shown only this once.
 */
export type NewClient = { 
/**
 * The client.
 */
client: ClientInfo, 
/**
 * Its bearer token.
 */
token: string, 
/**
 * The MCP endpoint to point it at.
 */
mcp_url: string, };

/**
 * Defaults by tool annotations, for tools without an explicit permission.
 */
export type PolicyDefaults = { 
/**
 * `readOnlyHint`.
 */
read_only: Permission, 
/**
 * `destructiveHint`.
 */
destructive: Permission, 
/**
 * `openWorldHint`.
 */
open_world: Permission, 
/**
 * None of these.
 */
unannotated: Permission, 
/**
 * Seconds a call waits for an answer before it is denied.
 */
approval_timeout_secs: number, 
/**
 * The toxic-flow guard: once a session received a result of an
 * untrusted-content tool, its calls of outbound tools ask first.
 */
flow_guard: boolean, };

/**
 * Audit log settings.
 */
export type AuditConfig = { 
/**
 * A call's answer waits until its record is committed.
 */
strict: boolean, 
/**
 * Delete records older than this many days (None: keep).
 */
retention_days: number | null, 
/**
 * Keep the log's files under this many MB (None: no limit; at least 10).
 */
max_mb: number | null, 
/**
 * Requests and results longer than this many KB are stored as their
 * first bytes, full length and SHA-256 (1 to 65536).
 */
max_payload_kb: number, };

/**
 * The space the audit log takes, and whether its chain is keyed.
 */
export type AuditStorage = { 
/**
 * `sqlite` or `postgres`.
 */
engine: string, 
/**
 * Bytes on disk (SQLite: the file and its write-ahead log; PostgreSQL:
 * the tables and their indexes).
 */
bytes: number, 
/**
 * Records kept.
 */
records: number, 
/**
 * When the oldest kept record was written (unix ms).
 */
oldest_ts: number | null, 
/**
 * Whether the hash chain is keyed with a key in the OS keyring.
 */
keyed: boolean, 
/**
 * Why it is not, when it is not.
 */
unkeyed_reason: string | null, };

/**
 * Settings the UI shows; `listen` and `data_dir` are read-only.
 */
export type Settings = { 
/**
 * Where the gateway listens.
 */
listen: string, 
/**
 * MCP endpoint.
 */
mcp_url: string, 
/**
 * Data directory.
 */
data_dir: string, 
/**
 * Audit log.
 */
audit: AuditConfig, 
/**
 * The space the audit log takes.
 */
audit_storage: AuditStorage, 
/**
 * Permission defaults.
 */
defaults: PolicyDefaults, 
/**
 * Sign-in to remote servers.
 */
oauth: OAuthClientSettings, };

/**
 * The writable part of [`Settings`].
 */
export type SettingsUpdate = { 
/**
 * Audit log.
 */
audit: AuditConfig, 
/**
 * Permission defaults.
 */
defaults: PolicyDefaults, 
/**
 * Sign-in settings (left as they are when absent).
 */
oauth?: OAuthClientSettings, };

/**
 * The gateway at a glance.
 */
export type Overview = { 
/**
 * Version.
 */
version: string, 
/**
 * MCP endpoint.
 */
mcp_url: string, 
/**
 * Configured servers.
 */
servers: number, 
/**
 * Of which ready.
 */
ready: number, 
/**
 * Clients.
 */
clients: number, 
/**
 * Calls waiting for approval.
 */
pending_approvals: number, 
/**
 * Live client sessions by MCP protocol version (a 2026-07-28 client,
 * which has no session, counts per open request or listen stream).
 */
sessions: { [key in string]: number }, };

/**
 * How bad a doctor finding is.
 */
export type Severity = "ok" | "info" | "warning" | "problem";

/**
 * One doctor finding.
 */
export type DoctorCheck = { 
/**
 * Group: `data`, `gateway`, `runtime`, `keyring`, `server`, `client`.
 */
area: string, 
/**
 * What was checked (`node`, a server's name, a client's id).
 */
subject: string, 
/**
 * How bad.
 */
severity: Severity, 
/**
 * What was found.
 */
detail: string, 
/**
 * How to fix it (always present for warnings and problems).
 */
fix: string | null, };

/**
 * Everything the doctor found.
 */
export type DoctorReport = { 
/**
 * The findings, in the order checked.
 */
checks: Array<DoctorCheck>, };

/**
 * The end of a stdio server's stderr log.
 */
export type ServerLog = { 
/**
 * The server.
 */
name: string, 
/**
 * The last lines it wrote (at most 64 KiB), oldest first.
 */
text: string, };

/**
 * A resource a server offers.
 */
export type ResourceInfo = { 
/**
 * Its URI.
 */
uri: string, 
/**
 * Its name.
 */
name: string, 
/**
 * A display title.
 */
title: string | null, 
/**
 * What it is.
 */
description: string | null, 
/**
 * Its MIME type.
 */
mime_type: string | null, 
/**
 * `true` for a template (`uri` is then an RFC 6570 URI template).
 */
template: boolean, };

/**
 * An argument of a prompt.
 */
export type PromptArgumentInfo = { 
/**
 * Name.
 */
name: string, 
/**
 * What it is for.
 */
description: string | null, 
/**
 * Whether it must be given.
 */
required: boolean, };

/**
 * A prompt a server offers.
 */
export type PromptInfo = { 
/**
 * Name.
 */
name: string, 
/**
 * A display title.
 */
title: string | null, 
/**
 * What it does.
 */
description: string | null, 
/**
 * Its arguments.
 */
arguments: Array<PromptArgumentInfo>, };

/**
 * What a running server offers besides tools.
 */
export type ServerOffer = { 
/**
 * Resources and resource templates.
 */
resources: Array<ResourceInfo>, 
/**
 * Prompts.
 */
prompts: Array<PromptInfo>, };

/**
 * Names one tool of one server.
 */
export type ToolRef = { 
/**
 * Server.
 */
server: string, 
/**
 * Tool, as the server names it.
 */
tool: string, };

/**
 * How a tool's definition changed since it was approved.
 */
export type ToolChange = { 
/**
 * Server.
 */
server: string, 
/**
 * Tool.
 */
tool: string, 
/**
 * A line diff of the approved and the served definition (`- `, `+ `
 * or two spaces before each line); empty when nothing changed.
 */
lines: Array<string>, 
/**
 * Since when the changed definition is served, unix ms.
 */
pending_since: number | null, };

/**
 * Who a permission rule applies to.
 */
export type RuleScope = { "kind": "everyone" } | { "kind": "profile", "name": string } | { "kind": "client", "name": string };

/**
 * An explicit permission.
 */
export type PermissionRule = { 
/**
 * Who it applies to.
 */
scope: RuleScope, 
/**
 * Server (`*`: every server).
 */
server: string, 
/**
 * Tool (`*`: every tool of the server).
 */
tool: string, 
/**
 * The permission.
 */
permission: Permission, };

/**
 * Sets (or, with no permission, removes) a rule.
 */
export type SetRule = { 
/**
 * Who it applies to.
 */
scope: RuleScope, 
/**
 * Server (`*`: every server).
 */
server: string, 
/**
 * Tool (`*`: every tool of the server).
 */
tool: string, 
/**
 * The permission; None removes the rule.
 */
permission: Permission | null, };

/**
 * A named set of servers clients can be limited to.
 */
export type ProfileInfo = { 
/**
 * Name.
 */
name: string, 
/**
 * Its servers (None: every server).
 */
servers: Array<string> | null, };

/**
 * Binds a client to a profile.
 */
export type SetProfile = { 
/**
 * The client.
 */
client: string, 
/**
 * The profile (None: every server).
 */
profile: string | null, };

/**
 * Searches the server catalog.
 */
export type CatalogQuery = { 
/**
 * Words to look for (empty: everything).
 */
text: string, };

/**
 * One field of a catalog entry's form.
 */
export type CatalogField = { 
/**
 * `env`, `header` or `var` (an argument or a `{variable}`).
 */
kind: string, 
/**
 * The key it is given by.
 */
key: string, 
/**
 * What it is for.
 */
description: string | null, 
/**
 * It must be given.
 */
required: boolean, 
/**
 * It is a secret (goes to the OS keyring).
 */
secret: boolean, 
/**
 * The value used if none is given.
 */
default: string | null, 
/**
 * Allowed values.
 */
choices: Array<string>, };

/**
 * One way to run a catalog entry.
 */
export type CatalogOption = { 
/**
 * `package` (local, over stdio) or `remote` (over HTTP).
 */
kind: string, 
/**
 * Which package or remote.
 */
index: number, 
/**
 * One line: what runs and how.
 */
summary: string, 
/**
 * What the user fills in.
 */
fields: Array<CatalogField>, 
/**
 * Why it cannot be used, if it cannot.
 */
unsupported: string | null, };

/**
 * A server from the catalog and its add form.
 */
export type CatalogEntry = { 
/**
 * Registry name (the id to add it by).
 */
id: string, 
/**
 * What it does.
 */
description: string, 
/**
 * The server name it gets unless the user picks one.
 */
suggested_name: string, 
/**
 * Ways to run it.
 */
options: Array<CatalogOption>, 
/**
 * The index into `options` used unless the user picks one.
 */
default_option: number | null, };

/**
 * Adds a server from the catalog.
 */
export type CatalogAdd = { 
/**
 * Registry name.
 */
id: string, 
/**
 * Name of the new server.
 */
name: string, 
/**
 * `package` or `remote`.
 */
kind: string, 
/**
 * Which package or remote.
 */
index: number, 
/**
 * Answers, as (field kind, key, value).
 */
values: Array<[string, string, string]>, };

/**
 * Where a server stands with OAuth.
 */
export type SignInState = "none" | "signed_in" | "needs_sign_in" | "signing_in";

/**
 * A server's OAuth status (never a token).
 */
export type OAuthStatus = { 
/**
 * Server name.
 */
server: string, 
/**
 * State.
 */
state: SignInState, 
/**
 * The authorization server.
 */
issuer: string | null, 
/**
 * Scopes granted.
 */
scopes: Array<string>, 
/**
 * When the access token expires (Unix ms).
 */
expires_at_ms: number | null, 
/**
 * Why a sign-in is needed, or why the last one failed.
 */
reason: string | null, 
/**
 * The sign-in waiting for its redirect.
 */
flow_id: string | null, 
/**
 * The user signed out (rather than a sign-in that was lost).
 */
signed_out: boolean, };

/**
 * One step of an OAuth attempt.
 */
export type OAuthStep = { 
/**
 * Unix ms.
 */
at_ms: number, 
/**
 * What was done (`GET https://…/.well-known/…`, `registration`, …).
 */
action: string, 
/**
 * HTTP status of the answer.
 */
status: number | null, 
/**
 * What came of it (secrets left out).
 */
detail: string | null, };

/**
 * One OAuth attempt: a sign-in, or a connection's token upkeep.
 */
export type OAuthAttempt = { 
/**
 * Counts up per server.
 */
attempt: number, 
/**
 * `sign-in`, `connection` or `sign-out`.
 */
kind: string, 
/**
 * Unix ms.
 */
started_ms: number, 
/**
 * Steps, oldest first.
 */
steps: Array<OAuthStep>, 
/**
 * How it ended.
 */
outcome: string | null, };

/**
 * A server's OAuth status with the record of its last attempts.
 */
export type OAuthDetail = { 
/**
 * The status.
 */
status: OAuthStatus, 
/**
 * The last attempts, oldest first.
 */
attempts: Array<OAuthAttempt>, };

/**
 * Starts a sign-in.
 */
export type BeginSignIn = { 
/**
 * Server name.
 */
name: string, 
/**
 * A client id registered out of band (else: metadata document or dynamic registration).
 */
client_id: string | null, 
/**
 * Its secret (kept in the keyring).
 */
client_secret: string | null, 
/**
 * Scopes to ask for (default: from the server's metadata).
 */
scopes: Array<string>, 
/**
 * Register anew instead of reusing the registration of an earlier sign-in.
 */
register_anew: boolean, };

/**
 * A started sign-in: open the URL; completion shows in `oauth` events.
 */
export type SignInStarted = { 
/**
 * The flow, for `oauth_complete`.
 */
flow_id: string, 
/**
 * Open this in a browser or the host's window.
 */
authorization_url: string, 
/**
 * The loopback redirect URI the flow listens on.
 */
redirect_uri: string, };

/**
 * Completes a sign-in with the URL the authorization server redirected to
 * (for hosts that catch the redirect in their own window).
 */
export type CompleteSignIn = { 
/**
 * The flow.
 */
flow_id: string, 
/**
 * The full redirect URL (code, state, iss).
 */
callback_url: string, };

/**
 * What signing out told the authorization server.
 */
export type Revocation = "revoked" | "unsupported" | "failed" | "nothing_to_revoke";

/**
 * What signing out did. The tokens are forgotten in every case; the client
 * registration is kept for the next sign-in.
 */
export type SignOutResult = { 
/**
 * Whether there was a sign-in.
 */
had_sign_in: boolean, 
/**
 * What the authorization server was told.
 */
revocation: Revocation, 
/**
 * The same, in words (with the reason of a failure).
 */
message: string, };

/**
 * How Switchboard signs in to remote servers.
 */
export type OAuthClientSettings = { 
/**
 * HTTPS URL of Switchboard's Client ID Metadata Document, used with
 * authorization servers that accept them (None: dynamic registration).
 */
client_metadata_url: string | null, };

/**
 * Something that happened, pushed to the UI.
 */
export type Event = { "type": "audit", 
/**
 * The records.
 */
rows: Array<AuditRow>, } | { "type": "audit_lagged", 
/**
 * Batches missed.
 */
missed: number, } | { "type": "approvals", 
/**
 * Those now waiting.
 */
pending: Array<ApprovalInfo>, } | { "type": "servers", 
/**
 * Every server.
 */
servers: Array<ServerInfo>, } | { "type": "oauth", 
/**
 * Every remote server's status.
 */
statuses: Array<OAuthStatus>, };

/** Every command: its params and its result. */
export type Rpc = {
  /** The gateway at a glance. */
  overview: { params: null; result: Overview };
  /** Every configured server with its live status. */
  servers_list: { params: null; result: Array<ServerInfo> };
  /** Adds a server (a command typed by the user counts as approved). */
  server_add: { params: NewServer; result: ServerInfo };
  /** Removes a server and forgets its secrets. */
  server_remove: { params: ServerName; result: null };
  /** Turns a server on or off. */
  server_set_enabled: { params: SetEnabled; result: null };
  /** Approves the current command of a stdio server. */
  server_approve: { params: ServerName; result: null };
  /** Changes how a server is reached (an empty env or header value keeps the stored one). */
  server_update: { params: NewServer; result: ServerInfo };
  /** Sets a stdio server's sandbox (a wider one waits for approval). */
  server_set_sandbox: { params: SetSandbox; result: ServerInfo };
  /** Stops and starts a running server again. */
  server_restart: { params: ServerName; result: null };
  /** The end of a stdio server's stderr log. */
  server_log: { params: ServerName; result: ServerLog };
  /** The resources, templates and prompts of a running server. */
  server_offer: { params: ServerName; result: ServerOffer };
  /** How a tool's definition changed since it was approved. */
  tool_change: { params: ToolRef; result: ToolChange };
  /** Approves a tool's changed definition. */
  tool_change_approve: { params: ToolRef; result: null };
  /** Every explicit permission, for every scope. */
  rules_list: { params: null; result: Array<PermissionRule> };
  /** Sets or removes a permission for everyone, a profile or a client. */
  rule_set: { params: SetRule; result: null };
  /** Profiles. */
  profiles_list: { params: null; result: Array<ProfileInfo> };
  /** Binds a client to a profile (or to none). */
  client_set_profile: { params: SetProfile; result: null };
  /** What each client's tools cost, its budget and its tool mode. */
  contexts_list: { params: null; result: Array<ClientContext> };
  /** Changes a client's tool mode, budget or always-listed tools. */
  client_set_tools: { params: SetClientTools; result: ClientContext };
  /** Which tools of each client's view read private data, carry untrusted content or send data out, and whether a view holds all three. */
  flows_list: { params: null; result: Array<ClientFlows> };
  /** Sets what a tool does in a flow, whatever is inferred. */
  tool_set_flow: { params: SetToolFlow; result: null };
  /** Servers in the catalog, with their add forms. */
  catalog_search: { params: CatalogQuery; result: Array<CatalogEntry> };
  /** Adds a server from the catalog (approved: the user chose it). */
  catalog_add: { params: CatalogAdd; result: ServerInfo };
  /** The tools of a server with their permissions and flags. */
  tools_list: { params: ServerName; result: Array<ToolInfo> };
  /** Sets or clears a tool's permission for every client. */
  permission_set: { params: SetPermission; result: null };
  /** Approvals, newest first. */
  approvals_list: { params: ApprovalsQuery; result: Array<ApprovalInfo> };
  /** Answers a waiting call. */
  approval_answer: { params: AnswerApproval; result: null };
  /** Audit records, newest first. */
  audit_query: { params: AuditQuery; result: Array<AuditRow> };
  /** One audit record in full. */
  audit_detail: { params: AuditId; result: AuditDetail };
  /** Figures from the audit log. */
  audit_stats: { params: StatsQuery; result: AuditStats };
  /** Clients allowed to connect. */
  clients_list: { params: null; result: Array<ClientInfo> };
  /** Creates a client and its token (shown only in this answer). */
  client_add: { params: ClientName; result: NewClient };
  /** Revokes a client's token. */
  client_revoke: { params: ClientName; result: null };
  /** Every kind of MCP client, its config and whether it points at Switchboard. */
  integrations_list: { params: null; result: Array<ClientIntegration> };
  /** Imports a client's servers, or previews the import. */
  integration_import: { params: IntegrationImport; result: ImportPreview };
  /** Points a client at Switchboard (backup kept), or shows the diff first. */
  integration_connect: { params: IntegrationConnect; result: ConnectPreview };
  /** Puts a client's config back as it was before the connect. */
  integration_disconnect: { params: IntegrationKind; result: Disconnected };
  /** Settings. */
  settings_get: { params: null; result: Settings };
  /** Changes settings. */
  settings_set: { params: SettingsUpdate; result: Settings };
  /** What is wrong, each problem with its fix. */
  doctor: { params: null; result: DoctorReport };
  /** OAuth status of every remote server. */
  oauth_list: { params: null; result: Array<OAuthStatus> };
  /** A server's OAuth status and the debug record of its last attempts. */
  oauth_detail: { params: ServerName; result: OAuthDetail };
  /** Starts signing in to a server: returns the URL to open. */
  oauth_begin: { params: BeginSignIn; result: SignInStarted };
  /** Completes a sign-in with the redirect URL. */
  oauth_complete: { params: CompleteSignIn; result: null };
  /** Signs out of a server: revokes its tokens at the authorization server where it can, then forgets them (the registration is kept). */
  oauth_sign_out: { params: ServerName; result: SignOutResult };
};
