//! The audit records as OTLP logs (with `SWITCHBOARD_OTEL_AUDIT_LOGS`): each
//! committed record as the audit log stored it, redacted and capped, taken
//! from its live broadcast, so nothing leaves that the audit log masks.

use std::{
    sync::{Arc, OnceLock},
    time::{Duration, SystemTime},
};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use switchboard_audit::AuditEvent;
use tokio::{sync::broadcast, task::JoinHandle};
use tokio_util::sync::CancellationToken;

static LOGGER: OnceLock<SdkLogger> = OnceLock::new();

pub(crate) fn enable(provider: &SdkLoggerProvider) {
    let _ = LOGGER.set(provider.logger("switchboard.audit"));
}

/// Exports each audit record `live` delivers as an OTLP log record, until
/// `stop` (then what is already delivered goes too). None when audit logs
/// are not exported.
pub fn export_audit(
    mut live: broadcast::Receiver<Arc<[AuditEvent]>>,
    stop: CancellationToken,
) -> Option<JoinHandle<()>> {
    let logger = LOGGER.get()?;
    Some(tokio::spawn(async move {
        loop {
            let batch = tokio::select! {
                batch = live.recv() => batch,
                () = stop.cancelled() => break,
            };
            match batch {
                Ok(batch) => batch.iter().for_each(|event| emit(logger, event)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "OpenTelemetry: audit batches missed (export is behind)"
                    );
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
        while let Ok(batch) = live.try_recv() {
            batch.iter().for_each(|event| emit(logger, event));
        }
    }))
}

fn emit(logger: &SdkLogger, event: &AuditEvent) {
    let mut record = logger.create_log_record();
    let millis = u64::try_from(event.ts).unwrap_or_default();
    record.set_timestamp(SystemTime::UNIX_EPOCH + Duration::from_millis(millis));
    record.set_observed_timestamp(SystemTime::now());
    record.set_event_name("switchboard.audit");
    let (number, text) = match event.status.as_str() {
        "ok" => (Severity::Info, "INFO"),
        "error" => (Severity::Error, "ERROR"),
        _ => (Severity::Warn, "WARN"),
    };
    record.set_severity_number(number);
    record.set_severity_text(text);
    let body = match &event.name {
        Some(name) => format!("{} {name}", event.method),
        None => event.method.clone(),
    };
    record.set_body(AnyValue::from(body));
    record.add_attribute("switchboard.audit.id", event.id);
    record.add_attribute("switchboard.audit.hash", event.hash.clone());
    record.add_attribute("switchboard.direction", event.direction.clone());
    record.add_attribute("mcp.method.name", event.method.clone());
    record.add_attribute("switchboard.status", event.status.clone());
    record.add_attribute("switchboard.decision", event.decision.clone());
    let optional = [
        ("switchboard.client", &event.client),
        ("switchboard.server", &event.server),
        ("mcp.session.id", &event.session),
        ("switchboard.name", &event.name),
        ("mcp.protocol.version", &event.protocol_version),
        ("switchboard.rule", &event.rule),
        ("switchboard.error.message", &event.error_message),
        ("switchboard.request", &event.request),
        ("switchboard.response", &event.response),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            record.add_attribute(key, value.clone());
        }
    }
    if let Some(code) = event.error_code {
        record.add_attribute("rpc.response.status_code", code.to_string());
    }
    if let Some(us) = event.latency_us {
        record.add_attribute("switchboard.latency_us", us);
    }
    logger.emit(record);
}
