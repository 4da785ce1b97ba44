//! The OpenTelemetry semantic conventions for MCP, applied to the gateway's
//! requests: one SERVER span per request from a client (a child of the W3C
//! trace context the client put in `params._meta`), its attributes taken from
//! the request's audit record, and the operation metrics.
//!
//! Only names and ids are exported: never arguments or results, and every
//! name that the audit log masks (a resource URI with a token in it) is
//! masked here by the same redactor.

use std::{
    collections::HashMap,
    sync::{
        OnceLock,
        atomic::{AtomicBool, Ordering},
    },
};

use opentelemetry::{
    Context, KeyValue,
    metrics::{Counter, Histogram, Meter},
    propagation::TextMapPropagator,
    trace::{Status, TraceContextExt},
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use serde::Deserialize;
use switchboard_audit::{AuditRecord, Redactor, Status as Outcome};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `tracing` target of the request spans: the only spans exported.
pub const TARGET: &str = "switchboard::mcp";

/// Buckets of `mcp.server.operation.duration`, in seconds, as the
/// conventions advise.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

static TRACES: AtomicBool = AtomicBool::new(false);
static METRICS: OnceLock<Instruments> = OnceLock::new();

/// Turns the request spans on (the exporter is in place).
pub(crate) fn enable_traces() {
    TRACES.store(true, Ordering::Relaxed);
}

/// Whether request spans are made.
pub fn traces_enabled() -> bool {
    TRACES.load(Ordering::Relaxed)
}

/// The instruments the gateway records into.
struct Instruments {
    calls: Counter<u64>,
    errors: Counter<u64>,
    duration: Histogram<f64>,
}

/// Creates the instruments on `meter`; the first meter wins.
pub(crate) fn enable_metrics(meter: &Meter) {
    let _ = METRICS.set(Instruments {
        calls: meter
            .u64_counter("switchboard.mcp.calls")
            .with_unit("{call}")
            .with_description("MCP requests from clients, by client, server, tool and method")
            .build(),
        errors: meter
            .u64_counter("switchboard.mcp.errors")
            .with_unit("{error}")
            .with_description("MCP requests that ended in an error, a refusal or a tool error")
            .build(),
        duration: meter
            .f64_histogram("mcp.server.operation.duration")
            .with_unit("s")
            .with_description("Time from a client's MCP request to its answer")
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build(),
    });
}

#[derive(Deserialize)]
struct WithMeta {
    #[serde(rename = "_meta", default)]
    meta: Option<HashMap<String, serde_json::Value>>,
}

/// The W3C trace context keys a request's `_meta` may carry.
const CONTEXT_KEYS: [&str; 2] = ["traceparent", "tracestate"];

/// The trace context a client sent in the request's `params._meta` (the
/// raw JSON text of the params), as a parent; None when there is none.
pub fn remote_parent(params: &str) -> Option<Context> {
    let meta = serde_json::from_str::<WithMeta>(params).ok()?.meta?;
    let carrier: HashMap<String, String> = CONTEXT_KEYS
        .iter()
        .filter_map(|key| Some(((*key).to_owned(), meta.get(*key)?.as_str()?.to_owned())))
        .collect();
    if !carrier.contains_key("traceparent") {
        return None;
    }
    let cx = TraceContextPropagator::new().extract(&carrier);
    cx.span().span_context().is_valid().then_some(cx)
}

/// The string form of a JSON-RPC id (its raw JSON text): a string id
/// without its quotes, a number as written.
pub fn request_id(raw: &str) -> String {
    serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_owned())
}

/// The span of one MCP request from a client, a child of the trace context
/// in its `params._meta`. [`Span::none`] when spans are not exported.
pub fn request_span(method: &str, id: Option<&str>, params: Option<&str>) -> Span {
    if !traces_enabled() {
        return Span::none();
    }
    let id = id.map(request_id);
    let span = tracing::info_span!(
        target: TARGET,
        "mcp.request",
        otel.name = method,
        otel.kind = "server",
        mcp.method.name = method,
        jsonrpc.request.id = id.as_deref(),
        network.transport = "tcp",
        network.protocol.name = "http",
    );
    if let Some(parent) = params.and_then(remote_parent) {
        // Only fails when the span is not exported; nothing to do then.
        let _ = span.set_parent(parent);
    }
    span
}

/// The W3C trace context of `span` (`traceparent`, and `tracestate` when it
/// has one), to carry on to a server; empty when spans are not exported.
pub fn trace_context(span: &Span) -> Vec<(&'static str, String)> {
    if !traces_enabled() || span.is_none() {
        return Vec::new();
    }
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return Vec::new();
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    CONTEXT_KEYS
        .iter()
        .filter_map(|key| Some((*key, carrier.remove(*key).filter(|v| !v.is_empty())?)))
        .collect()
}

/// What a finished request exports: the span name, its attributes and the
/// error type when it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    /// `{mcp.method.name} {target}` for a tool or prompt, else the method.
    pub name: String,
    /// The span's attributes.
    pub attributes: Vec<KeyValue>,
    /// `error.type`, when the request failed.
    pub error_type: Option<String>,
}

/// `error.type` of a record: the JSON-RPC error code, `tool_error` for a
/// tool's result marked isError, `cancelled` for a call that ended without
/// an answer.
pub fn error_type(record: &AuditRecord) -> Option<String> {
    if let Some(code) = record.error_code {
        return Some(code.to_string());
    }
    match record.status {
        Outcome::Ok => None,
        Outcome::Cancelled => Some("cancelled".into()),
        Outcome::Error | Outcome::Denied => Some("tool_error".into()),
    }
}

/// The span of a finished request as the conventions name it: built from
/// its audit record, with names masked like the audit log masks them.
pub fn describe(record: &AuditRecord, redactor: &Redactor) -> Described {
    let masked = |text: &str| {
        let mut text = text.to_owned();
        redactor.redact_str(&mut text);
        text
    };
    let method = record.method.as_str();
    let mut attributes = vec![KeyValue::new("mcp.method.name", method.to_owned())];
    let mut name = method.to_owned();
    if let Some(target) = record.name.as_deref().map(masked) {
        match method {
            "tools/call" => {
                name = format!("{method} {target}");
                attributes.push(KeyValue::new("gen_ai.operation.name", "execute_tool"));
                attributes.push(KeyValue::new("gen_ai.tool.name", target));
            }
            "prompts/get" => {
                name = format!("{method} {target}");
                attributes.push(KeyValue::new("gen_ai.prompt.name", target));
            }
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                attributes.push(KeyValue::new("mcp.resource.uri", target));
            }
            _ => {}
        }
    }
    let optional = [
        ("mcp.session.id", record.session.as_deref()),
        ("mcp.protocol.version", record.protocol_version.as_deref()),
        ("switchboard.client", record.client.as_deref()),
        ("switchboard.server", record.server.as_deref()),
        ("switchboard.rule", record.rule.as_deref()),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            attributes.push(KeyValue::new(key, value.to_owned()));
        }
    }
    attributes.push(KeyValue::new(
        "switchboard.decision",
        record.decision.to_text(),
    ));
    attributes.push(KeyValue::new("switchboard.status", record.status.as_str()));
    let error_type = error_type(record);
    if let Some(error_type) = &error_type {
        attributes.push(KeyValue::new("error.type", error_type.clone()));
    }
    if let Some(code) = record.error_code {
        attributes.push(KeyValue::new("rpc.response.status_code", code.to_string()));
    }
    Described {
        name,
        attributes,
        error_type,
    }
}

/// The attributes of the operation metrics: low-cardinality names only (no
/// session, no request id).
pub fn metric_attributes(record: &AuditRecord, redactor: &Redactor) -> Vec<KeyValue> {
    let keep = [
        "mcp.method.name",
        "gen_ai.tool.name",
        "gen_ai.prompt.name",
        "gen_ai.operation.name",
        "mcp.protocol.version",
        "switchboard.client",
        "switchboard.server",
        "switchboard.decision",
        "error.type",
    ];
    let mut attributes = describe(record, redactor).attributes;
    attributes.retain(|kv| keep.contains(&kv.key.as_str()));
    attributes.push(KeyValue::new("network.transport", "tcp"));
    attributes
}

/// Completes the span of a request from its audit record and records the
/// request in the metrics. Called once per request, by the record stage.
pub fn finish(span: &Span, record: &AuditRecord, redactor: &Redactor) {
    let traced = traces_enabled() && !span.is_none();
    let metrics = METRICS.get();
    if !traced && metrics.is_none() {
        return;
    }
    if traced {
        let described = describe(record, redactor);
        // The span started (was entered) before its target was known.
        span.context().span().update_name(described.name);
        for kv in described.attributes {
            span.set_attribute(kv.key, kv.value);
        }
        if described.error_type.is_some() {
            let message = match record.error_message.as_deref() {
                Some(message) => {
                    let mut message = message.to_owned();
                    redactor.redact_str(&mut message);
                    message
                }
                None => described.error_type.unwrap_or_default(),
            };
            span.set_status(Status::error(message));
        }
    }
    if let Some(instruments) = metrics {
        let attributes = metric_attributes(record, redactor);
        instruments.calls.add(1, &attributes);
        if error_type(record).is_some() {
            instruments.errors.add(1, &attributes);
        }
        if let Some(us) = record.latency_us {
            // Microseconds to seconds: f64 holds every latency exactly enough.
            #[expect(clippy::cast_precision_loss, reason = "a duration in seconds")]
            let seconds = us as f64 / 1e6;
            instruments.duration.record(seconds, &attributes);
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceId;
    use switchboard_audit::{Decision, Direction};

    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn get(attributes: &[KeyValue], key: &str) -> Option<String> {
        attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned())
    }

    #[test]
    fn the_parent_comes_from_meta() {
        let params = format!(
            r#"{{"name":"echo","arguments":{{"message":"hi"}},"_meta":{{"traceparent":"{PARENT}","tracestate":"rojo=00f067aa0ba902b7","progressToken":3}}}}"#
        );
        let cx = remote_parent(&params).unwrap();
        let parent = cx.span().span_context().clone();
        assert_eq!(
            parent.trace_id(),
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
        );
        assert!(parent.is_remote() && parent.is_sampled());
        assert_eq!(parent.trace_state().header(), "rojo=00f067aa0ba902b7");
    }

    #[test]
    fn no_or_bad_trace_context_is_no_parent() {
        assert!(remote_parent(r#"{"name":"echo"}"#).is_none());
        assert!(remote_parent(r#"{"_meta":{"progressToken":1}}"#).is_none());
        assert!(remote_parent(r#"{"_meta":{"traceparent":"00-zz-00-01"}}"#).is_none());
        assert!(
            remote_parent(
                r#"{"_meta":{"traceparent":"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}}"#
            )
            .is_none()
        );
        assert!(remote_parent("not json").is_none());
    }

    #[test]
    fn request_ids_are_strings() {
        assert_eq!(request_id("7"), "7");
        assert_eq!(request_id(r#""req-7""#), "req-7");
    }

    fn call() -> AuditRecord {
        let mut record = AuditRecord::new(Direction::ClientToServer, "tools/call");
        record.client = Some("cursor".into());
        record.server = Some("everything".into());
        record.session = Some("s-1".into());
        record.name = Some("echo".into());
        record.protocol_version = Some("2025-11-25".into());
        record.request =
            Some(serde_json::json!({"name": "echo", "arguments": {"message": "secret words"}}));
        record.response =
            Some(serde_json::json!({"content": [{"type": "text", "text": "Echo: secret words"}]}));
        record.latency_us = Some(1500);
        record.rule = Some("default: allow".into());
        record
    }

    #[test]
    fn a_tool_call_is_named_and_described_by_the_conventions() {
        let described = describe(&call(), &Redactor::builtin());
        assert_eq!(described.name, "tools/call echo");
        let a = &described.attributes;
        assert_eq!(get(a, "mcp.method.name").as_deref(), Some("tools/call"));
        assert_eq!(get(a, "gen_ai.tool.name").as_deref(), Some("echo"));
        assert_eq!(
            get(a, "gen_ai.operation.name").as_deref(),
            Some("execute_tool")
        );
        assert_eq!(get(a, "mcp.session.id").as_deref(), Some("s-1"));
        assert_eq!(
            get(a, "mcp.protocol.version").as_deref(),
            Some("2025-11-25")
        );
        assert_eq!(get(a, "switchboard.client").as_deref(), Some("cursor"));
        assert_eq!(get(a, "switchboard.server").as_deref(), Some("everything"));
        assert_eq!(get(a, "switchboard.decision").as_deref(), Some("allowed"));
        assert_eq!(get(a, "error.type"), None);
        assert_eq!(described.error_type, None);
        // Never the arguments or the result.
        for kv in a {
            assert!(!kv.value.as_str().contains("secret words"), "{kv:?}");
        }
    }

    #[test]
    fn a_denied_call_has_its_error_type_and_code() {
        let mut denied = call();
        denied.decision = Decision::Denied;
        denied.status = Outcome::Denied;
        denied.error_code = Some(-32010);
        denied.error_message = Some("denied".into());
        let described = describe(&denied, &Redactor::builtin());
        let a = &described.attributes;
        assert_eq!(get(a, "error.type").as_deref(), Some("-32010"));
        assert_eq!(
            get(a, "rpc.response.status_code").as_deref(),
            Some("-32010")
        );
        assert_eq!(get(a, "switchboard.decision").as_deref(), Some("denied"));
        let mut tool_error = call();
        tool_error.status = Outcome::Error;
        assert_eq!(error_type(&tool_error).as_deref(), Some("tool_error"));
    }

    #[test]
    fn names_are_masked_like_the_audit_log_masks_them() {
        let redactor = Redactor::builtin();
        redactor.set_known_secrets(["tok_0123456789abcdef".to_owned()]);
        let mut read = AuditRecord::new(Direction::ClientToServer, "resources/read");
        read.name = Some("https://api.example.com/doc?token=tok_0123456789abcdef".into());
        let described = describe(&read, &redactor);
        assert_eq!(described.name, "resources/read");
        let uri = get(&described.attributes, "mcp.resource.uri").unwrap();
        assert!(!uri.contains("tok_0123456789abcdef"), "{uri}");
    }

    #[test]
    fn metrics_leave_out_sessions_and_ids() {
        let attributes = metric_attributes(&call(), &Redactor::builtin());
        assert_eq!(
            get(&attributes, "gen_ai.tool.name").as_deref(),
            Some("echo")
        );
        assert_eq!(get(&attributes, "mcp.session.id"), None);
        assert_eq!(get(&attributes, "switchboard.rule"), None);
    }
}
