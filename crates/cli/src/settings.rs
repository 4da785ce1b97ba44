//! `switchboard settings`: show and change settings; a running gateway
//! applies changes within a second.

use std::{io::Write as _, path::Path};

use clap::Subcommand;
use switchboard_api::storage;
use switchboard_audit::AuditSettings;
use switchboard_auth::oauth::{OAUTH_SETTINGS_KEY, OAuthSettings};
use switchboard_gateway::{
    AUDIT_SETTINGS_KEY,
    policy::{POLICY_SETTINGS_KEY, PolicySettings},
};
use switchboard_store::Permission;

use crate::error::CliError;

/// `switchboard settings …`
#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Print every setting.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change one setting.
    ///
    /// Keys: audit.strict (true|false), audit.retention_days (N|off),
    /// audit.max_mb (N|off: the log's files stay under N MB, at least 10),
    /// audit.max_payload_kb (N: requests and results over N KB are stored as
    /// their first bytes, length and SHA-256; default 16); policy.read_only, policy.destructive,
    /// policy.open_world, policy.unannotated (allow|ask|deny: defaults for tools
    /// by their annotations), policy.approval_timeout_secs (N),
    /// policy.flow_guard (on|off: after untrusted content, outbound tools ask);
    /// ratelimit.client, ratelimit.server, ratelimit.tool (calls/min|off);
    /// oauth.client_metadata_url (an https URL of Switchboard's Client ID
    /// Metadata Document, or off).
    Set {
        /// The setting.
        key: String,
        /// Its new value.
        value: String,
    },
}

fn parse_bool(value: &str) -> Result<bool, CliError> {
    match value {
        "true" | "on" | "yes" => Ok(true),
        "false" | "off" | "no" => Ok(false),
        _ => Err(CliError::Usage(format!(
            "expected true or false, got {value:?}"
        ))),
    }
}

fn per_minute(value: &str) -> Result<Option<u32>, CliError> {
    parse_limit(value)?
        .map(|n| u32::try_from(n).map_err(|_| CliError::Usage(format!("too large: {value}"))))
        .transpose()
}

fn parse_limit(value: &str) -> Result<Option<u64>, CliError> {
    match value {
        "off" | "none" => Ok(None),
        n => n
            .parse()
            .map(Some)
            .map_err(|_| CliError::Usage(format!("expected a number or off, got {value:?}"))),
    }
}

pub async fn run(data_dir: &Path, command: SettingsCommand) -> Result<(), CliError> {
    let store = crate::database::open_store(data_dir).await?;
    let mut audit = store
        .get_setting::<AuditSettings>(AUDIT_SETTINGS_KEY)
        .await?
        .unwrap_or_default();
    let mut policy = store
        .get_setting::<PolicySettings>(POLICY_SETTINGS_KEY)
        .await?
        .unwrap_or_default();
    let mut oauth = store
        .get_setting::<OAuthSettings>(OAUTH_SETTINGS_KEY)
        .await?
        .unwrap_or_default();
    match command {
        SettingsCommand::Show { json } => {
            let mut out = std::io::stdout().lock();
            if json {
                let text = serde_json::to_string_pretty(
                    &serde_json::json!({ "audit": audit, "policy": policy, "oauth": oauth }),
                )
                .map_err(|e| CliError::Remote(e.to_string()))?;
                writeln!(out, "{text}")?;
            } else {
                let off = |v: Option<String>| v.unwrap_or_else(|| "off".into());
                writeln!(out, "audit.strict          {}", audit.strict)?;
                writeln!(
                    out,
                    "audit.retention_days  {}",
                    off(audit.retention_days.map(|d| d.to_string()))
                )?;
                writeln!(
                    out,
                    "audit.max_mb          {}",
                    off(audit.max_bytes.map(|b| (b / 1024 / 1024).to_string()))
                )?;
                writeln!(
                    out,
                    "audit.max_payload_kb  {}",
                    audit.max_payload_bytes / 1024
                )?;
                writeln!(out, "policy.read_only      {}", policy.read_only.as_str())?;
                writeln!(out, "policy.destructive    {}", policy.destructive.as_str())?;
                writeln!(out, "policy.open_world     {}", policy.open_world.as_str())?;
                writeln!(out, "policy.unannotated    {}", policy.unannotated.as_str())?;
                writeln!(
                    out,
                    "policy.approval_timeout_secs {}",
                    policy.approval_timeout_secs
                )?;
                writeln!(out, "policy.flow_guard     {}", policy.flow_guard)?;
                let limit = |v: Option<u32>| off(v.map(|n| format!("{n}/min")));
                writeln!(
                    out,
                    "ratelimit.client      {}",
                    limit(policy.rate_limits.per_client)
                )?;
                writeln!(
                    out,
                    "ratelimit.server      {}",
                    limit(policy.rate_limits.per_server)
                )?;
                writeln!(
                    out,
                    "ratelimit.tool        {}",
                    limit(policy.rate_limits.per_tool)
                )?;
                writeln!(
                    out,
                    "oauth.client_metadata_url {}",
                    off(oauth.client_metadata_url.clone())
                )?;
            }
            return Ok(());
        }
        SettingsCommand::Set { key, value } => {
            match key.as_str() {
                "audit.strict" => audit.strict = parse_bool(&value)?,
                "audit.retention_days" => {
                    audit.retention_days = parse_limit(&value)?
                        .map(|d| {
                            u32::try_from(d).map_err(|_| CliError::Usage("too many days".into()))
                        })
                        .transpose()?;
                }
                "audit.max_mb" => {
                    let mb = parse_limit(&value)?.map(|mb| u32::try_from(mb).unwrap_or(u32::MAX));
                    storage::check_max_mb(mb).map_err(|e| CliError::Usage(e.message))?;
                    audit.max_bytes = mb.map(|mb| u64::from(mb) * 1024 * 1024);
                }
                "audit.max_payload_kb" => {
                    let kb = value.parse().map_err(|_| {
                        CliError::Usage(format!("expected a number of KB, got {value:?}"))
                    })?;
                    storage::check_payload_kb(kb).map_err(|e| CliError::Usage(e.message))?;
                    audit.max_payload_bytes = kb * 1024;
                }
                "policy.read_only" => policy.read_only = Permission::parse(&value)?,
                "policy.destructive" => policy.destructive = Permission::parse(&value)?,
                "policy.open_world" => policy.open_world = Permission::parse(&value)?,
                "policy.unannotated" => policy.unannotated = Permission::parse(&value)?,
                "policy.approval_timeout_secs" => {
                    policy.approval_timeout_secs = value
                        .parse()
                        .map_err(|_| CliError::Usage(format!("expected seconds, got {value:?}")))?;
                }
                "policy.flow_guard" => policy.flow_guard = parse_bool(&value)?,
                "ratelimit.client" => policy.rate_limits.per_client = per_minute(&value)?,
                "ratelimit.server" => policy.rate_limits.per_server = per_minute(&value)?,
                "ratelimit.tool" => policy.rate_limits.per_tool = per_minute(&value)?,
                "oauth.client_metadata_url" => {
                    oauth.client_metadata_url = OAuthSettings::parse_metadata_url(&value)
                        .map_err(|e| CliError::Usage(e.to_string()))?;
                }
                other => {
                    return Err(CliError::Usage(format!(
                        "unknown setting {other:?} (see `switchboard settings set --help`)"
                    )));
                }
            }
            if key.starts_with("audit.") {
                store.set_setting(AUDIT_SETTINGS_KEY, &audit).await?;
            } else if key.starts_with("oauth.") {
                store.set_setting(OAUTH_SETTINGS_KEY, &oauth).await?;
            } else {
                store.set_setting(POLICY_SETTINGS_KEY, &policy).await?;
            }
            eprintln!("{key} = {value}");
        }
    }
    Ok(())
}
