//! The request span and the metrics through the real SDK, into in-memory
//! exporters.

use opentelemetry::{
    Value,
    metrics::MeterProvider as _,
    trace::{SpanKind, Status, TraceId, TracerProvider as _},
};
use opentelemetry_sdk::{
    metrics::{InMemoryMetricExporter, SdkMeterProvider, data::AggregatedMetrics},
    trace::{InMemorySpanExporter, SdkTracerProvider},
};
use switchboard_audit::{AuditRecord, Decision, Direction, Redactor, Status as Outcome};
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::mcp;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

fn denied_call() -> AuditRecord {
    let mut record = AuditRecord::new(Direction::ClientToServer, "tools/call");
    record.client = Some("cursor".into());
    record.server = Some("everything".into());
    record.session = Some("s-9".into());
    record.name = Some("printEnv".into());
    record.protocol_version = Some("2025-06-18".into());
    record.request = Some(serde_json::json!({"arguments": {"key": "hunter2-value"}}));
    record.decision = Decision::Denied;
    record.status = Outcome::Denied;
    record.error_code = Some(-32010);
    record.error_message = Some("tool printEnv is denied for cursor".into());
    record.latency_us = Some(250);
    record
}

#[test]
fn a_request_span_is_a_child_of_the_clients_context_with_the_records_attributes() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    mcp::enable_traces();
    let params = format!(
        r#"{{"name":"everything__printEnv","arguments":{{"key":"hunter2-value"}},"_meta":{{"traceparent":"00-{TRACE}-{PARENT}-01"}}}}"#
    );
    let carried = tracing::subscriber::with_default(subscriber, || {
        let span = mcp::request_span("tools/call", Some(r#""req-1""#), Some(&params));
        let carried = futures_lite(
            async { mcp::trace_context(&tracing::Span::current()) }.instrument(span.clone()),
        );
        mcp::finish(&span, &denied_call(), &Redactor::builtin());
        drop(span);
        carried
    });
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.name, "tools/call printEnv");
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex(TRACE).unwrap()
    );
    assert_eq!(span.parent_span_id.to_string(), PARENT);
    assert!(
        matches!(&span.status, Status::Error { description } if description.contains("denied"))
    );
    let attr = |key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.clone())
    };
    let text = |s: &str| Some(Value::from(s.to_owned()));
    assert_eq!(attr("mcp.method.name"), text("tools/call"));
    assert_eq!(attr("gen_ai.tool.name"), text("printEnv"));
    assert_eq!(attr("jsonrpc.request.id"), text("req-1"));
    assert_eq!(attr("mcp.session.id"), text("s-9"));
    assert_eq!(attr("error.type"), text("-32010"));
    assert_eq!(attr("switchboard.decision"), text("denied"));
    assert_eq!(attr("network.transport"), text("tcp"));
    for kv in &span.attributes {
        assert!(!kv.value.as_str().contains("hunter2"), "{kv:?}");
    }
    // What goes on to the server: the same trace, this span as the parent.
    let traceparent = &carried.iter().find(|(k, _)| *k == "traceparent").unwrap().1;
    assert_eq!(
        traceparent,
        &format!("00-{TRACE}-{}-01", span.span_context.span_id())
    );
}

#[test]
fn calls_errors_and_latency_are_counted_per_client_server_and_tool() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_periodic_exporter(exporter.clone())
        .build();
    mcp::enable_metrics(&provider.meter("test"));
    let mut denied = denied_call();
    // Other tests record too: this one counts its own client.
    denied.client = Some("metered".into());
    let mut ok = denied.clone();
    ok.decision = Decision::Allowed;
    ok.status = Outcome::Ok;
    ok.error_code = None;
    mcp::finish(&tracing::Span::none(), &ok, &Redactor::builtin());
    mcp::finish(&tracing::Span::none(), &denied, &Redactor::builtin());
    provider.force_flush().unwrap();
    let metrics = exporter.get_finished_metrics().unwrap();
    let names: Vec<_> = metrics
        .iter()
        .flat_map(|rm| rm.scope_metrics())
        .flat_map(|sm| sm.metrics())
        .map(|m| (m.name().to_owned(), m.data()))
        .collect();
    let find = |name: &str| names.iter().find(|(n, _)| n == name).map(|(_, d)| d);
    match find("switchboard.mcp.calls") {
        Some(AggregatedMetrics::U64(opentelemetry_sdk::metrics::data::MetricData::Sum(sum))) => {
            let ours: Vec<_> = sum
                .data_points()
                .filter(|p| metered(p.attributes()))
                .collect();
            assert_eq!(ours.iter().map(|p| p.value()).sum::<u64>(), 2);
            assert!(ours.iter().all(|p| {
                p.attributes()
                    .any(|kv| kv.key.as_str() == "gen_ai.tool.name")
            }));
        }
        other => panic!("calls: {other:?}"),
    }
    match find("switchboard.mcp.errors") {
        Some(AggregatedMetrics::U64(opentelemetry_sdk::metrics::data::MetricData::Sum(sum))) => {
            let ours = sum.data_points().filter(|p| metered(p.attributes()));
            assert_eq!(ours.map(|p| p.value()).sum::<u64>(), 1);
        }
        other => panic!("errors: {other:?}"),
    }
    assert!(matches!(
        find("mcp.server.operation.duration"),
        Some(AggregatedMetrics::F64(
            opentelemetry_sdk::metrics::data::MetricData::Histogram(_)
        ))
    ));
}

fn metered<'a>(mut attributes: impl Iterator<Item = &'a opentelemetry::KeyValue>) -> bool {
    attributes.any(|kv| kv.key.as_str() == "switchboard.client" && kv.value.as_str() == "metered")
}

/// Runs a future that never waits, to completion, on this thread.
fn futures_lite<T>(future: impl std::future::Future<Output = T>) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(future)
}
