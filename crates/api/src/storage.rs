//! The audit log's settings and the space it takes, as the control panel,
//! `switchboard settings` and `switchboard doctor` show them.

use std::sync::Arc;

use switchboard_audit::{AuditDb, AuditSettings, KeyState, MIN_MAX_PAYLOAD, Truncated, Vault};
use switchboard_clients::doctor::AuditState;

use crate::schema::{ApiError, AuditConfig, AuditStorage, PayloadCut};

/// The smallest size limit: below it the write-ahead log alone would not fit.
pub const MIN_MAX_MB: u32 = 10;
/// The largest stored-payload cap.
pub const MAX_PAYLOAD_KB: u32 = 64 * 1024;

/// The settings as the panel edits them.
pub fn config(settings: &AuditSettings) -> AuditConfig {
    AuditConfig {
        strict: settings.strict,
        retention_days: settings.retention_days,
        max_mb: settings
            .max_bytes
            .map(|b| u32::try_from(b / 1024 / 1024).unwrap_or(u32::MAX)),
        max_payload_kb: settings.max_payload_bytes / 1024,
    }
}

/// `settings` changed as `config` says, when every value is in range.
pub fn apply(mut settings: AuditSettings, config: &AuditConfig) -> Result<AuditSettings, ApiError> {
    check_max_mb(config.max_mb)?;
    check_payload_kb(config.max_payload_kb)?;
    settings.strict = config.strict;
    settings.retention_days = config.retention_days.filter(|&d| d > 0);
    settings.max_bytes = config.max_mb.map(|mb| u64::from(mb) * 1024 * 1024);
    settings.max_payload_bytes = config.max_payload_kb * 1024;
    Ok(settings)
}

/// Refuses a size limit under [`MIN_MAX_MB`].
pub fn check_max_mb(max_mb: Option<u32>) -> Result<(), ApiError> {
    match max_mb {
        Some(mb) if mb < MIN_MAX_MB => Err(ApiError::invalid(format!(
            "the audit log's size limit must be at least {MIN_MAX_MB} MB (or off)"
        ))),
        _ => Ok(()),
    }
}

/// Refuses a payload cap outside 1 KB to [`MAX_PAYLOAD_KB`].
pub fn check_payload_kb(kb: u32) -> Result<(), ApiError> {
    let min = MIN_MAX_PAYLOAD / 1024;
    if (min..=MAX_PAYLOAD_KB).contains(&kb) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "the stored-payload cap must be {min} to {MAX_PAYLOAD_KB} KB"
        )))
    }
}

/// The space `db` takes and whether its chain is keyed.
pub async fn storage(db: &AuditDb, key: &KeyState) -> Result<AuditStorage, ApiError> {
    let space = db.space().await?;
    Ok(AuditStorage {
        engine: db.engine().into(),
        bytes: i64::try_from(space.bytes).unwrap_or(i64::MAX),
        records: i64::try_from(space.records).unwrap_or(i64::MAX),
        oldest_ts: space.oldest_ts,
        keyed: matches!(key, KeyState::Keyed(_)),
        unkeyed_reason: match key {
            KeyState::Keyed(_) => None,
            KeyState::Unkeyed(why) => Some(why.clone()),
        },
    })
}

/// What `switchboard doctor` is told of the audit log in `db`: the key is
/// looked up in `vault` when no running log says how it stands.
pub async fn doctor_state(
    db: &AuditDb,
    settings: &AuditSettings,
    key: Option<&KeyState>,
    vault: Option<Arc<dyn Vault>>,
) -> Option<AuditState> {
    let key = match key {
        Some(key) => key.clone(),
        None => db.key_state(vault).await,
    };
    let storage = storage(db, &key).await.ok()?;
    Some(AuditState {
        bytes: u64::try_from(storage.bytes).unwrap_or(0),
        limit: settings.max_bytes,
        records: u64::try_from(storage.records).unwrap_or(0),
        retention_days: settings.retention_days,
        max_payload_bytes: settings.max_payload_bytes,
        keyed: storage.unkeyed_reason.map_or(Ok(()), Err),
    })
}

/// A stored payload for the detail view: its text (the first bytes, when it
/// was cut) and how it was cut.
pub fn payload(stored: Option<String>) -> (Option<String>, Option<PayloadCut>) {
    match stored.as_deref().and_then(Truncated::parse) {
        Some(cut) => (
            Some(cut.preview),
            Some(PayloadCut {
                size: cut.size,
                sha256: cut.sha256,
            }),
        ),
        None => (stored, None),
    }
}
