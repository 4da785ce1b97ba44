//! The TypeScript bindings of the schema, as one file: `ui/src/bindings/index.ts`.
//! A test compares the committed file with this output; run
//! `UPDATE_BINDINGS=1 cargo test -p switchboard-api` to refresh it.

use ts_rs::{Config, TS};

use crate::{context::*, flows::*, integrations::*, sandbox::*, schema::*};

fn decl<T: TS>(cfg: &Config, out: &mut String) {
    if let Some(docs) = T::docs() {
        out.push_str(&docs);
    }
    out.push_str("export ");
    out.push_str(&T::decl(cfg));
    out.push_str("\n\n");
}

/// The whole generated file.
pub fn typescript() -> String {
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from crates/api (schema.rs, lib.rs) by `UPDATE_BINDINGS=1 cargo test -p switchboard-api`.\n\
         // Do not edit by hand.\n\n",
    );
    macro_rules! all {
        ($($t:ty),* $(,)?) => { $( decl::<$t>(&cfg, &mut out); )* };
    }
    all!(
        ApiError,
        ErrorCode,
        Permission,
        ServerState,
        ServerStatus,
        Transport,
        SandboxNetwork,
        SandboxGrant,
        SandboxInfo,
        SetSandbox,
        ServerInfo,
        NewServer,
        NewTransport,
        ServerName,
        SetEnabled,
        ToolFlag,
        ToolInfo,
        SetPermission,
        ApprovalInfo,
        ApprovalsQuery,
        ApprovalAnswer,
        AnswerApproval,
        AuditRow,
        AuditDetail,
        PayloadCut,
        AuditQuery,
        AuditId,
        StatsQuery,
        ToolStat,
        MinuteBucket,
        AuditStats,
        ClientInfo,
        ClientName,
        ToolMode,
        Budget,
        ServerTokens,
        ToolTokens,
        ClientContext,
        Limit,
        ModeChange,
        SetClientTools,
        FlowLabelsSet,
        FlowToolInfo,
        ClientFlows,
        SetToolFlow,
        Connection,
        ClientIntegration,
        IntegrationKind,
        IntegrationImport,
        ImportRow,
        SkippedRow,
        ImportPreview,
        IntegrationConnect,
        ConnectPreview,
        Disconnected,
        NewClient,
        PolicyDefaults,
        AuditConfig,
        AuditStorage,
        Settings,
        SettingsUpdate,
        Overview,
        Severity,
        DoctorCheck,
        DoctorReport,
        ServerLog,
        ResourceInfo,
        PromptArgumentInfo,
        PromptInfo,
        ServerOffer,
        ToolRef,
        ToolChange,
        RuleScope,
        PermissionRule,
        SetRule,
        ProfileInfo,
        SetProfile,
        CatalogQuery,
        CatalogField,
        CatalogOption,
        CatalogEntry,
        CatalogAdd,
        SignInState,
        OAuthStatus,
        OAuthStep,
        OAuthAttempt,
        OAuthDetail,
        BeginSignIn,
        SignInStarted,
        CompleteSignIn,
        Revocation,
        SignOutResult,
        OAuthClientSettings,
        Event,
    );
    out.push_str(&crate::rpc_map_ts(&cfg));
    out
}

/// Where the committed file lives.
pub fn path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings/index.ts")
}
