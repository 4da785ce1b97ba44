//! The audit log: the space it takes against its limit, and whether its
//! chain is keyed.

use super::{Check, Input, Report, Severity};

/// What the doctor is told of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditState {
    /// Bytes its files take on disk (or its tables on PostgreSQL).
    pub bytes: u64,
    /// Its size limit.
    pub limit: Option<u64>,
    /// Records kept.
    pub records: u64,
    /// Days records are kept.
    pub retention_days: Option<u32>,
    /// The stored-payload cap in bytes.
    pub max_payload_bytes: u32,
    /// Err: why the chain is not keyed.
    pub keyed: Result<(), String>,
}

/// Megabytes with one decimal.
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_048_576.0)
}

pub(super) fn storage(input: &Input<'_>, report: &mut Report) {
    let Some(audit) = &input.audit else { return };
    let limit = audit.limit.map_or_else(
        || "no size limit".to_owned(),
        |l| format!("limit {}", megabytes(l)),
    );
    let kept = audit.retention_days.map_or_else(
        || "kept until the limit".to_owned(),
        |d| format!("kept {d} days"),
    );
    let detail = format!(
        "{} used by {} records ({limit}, {kept}; payloads over {} KB stored as their start, length and SHA-256)",
        megabytes(audit.bytes),
        audit.records,
        audit.max_payload_bytes / 1024
    );
    let over = audit.limit.is_some_and(|l| audit.bytes > l);
    let check = Check::new(
        "audit",
        "storage",
        if over {
            Severity::Warning
        } else {
            Severity::Ok
        },
        detail,
    );
    report.checks.push(if over {
        check.fix("retention brings it under the limit within minutes; a larger limit: `switchboard settings set audit.max_mb N`")
    } else {
        check
    });
    if let Err(why) = &audit.keyed {
        report.checks.push(
            Check::new(
                "audit",
                "tamper evidence",
                Severity::Warning,
                format!("the audit chain is not keyed ({why}): someone who can write the database could rebuild it unnoticed"),
            )
            .fix("make the OS keyring available (unlocked) and restart the gateway"),
        );
    }
}
