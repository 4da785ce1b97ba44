//! Telemetry of the gateway: the process's `tracing` subscriber (logs on
//! stderr) and, when an OTLP endpoint is configured, OpenTelemetry export
//! over OTLP/HTTP: a span per MCP request, the operation metrics, and
//! optionally the audit records as logs. Used by `switchboard serve` and the
//! desktop app alike; off by default.

mod audit_logs;
pub mod config;
pub mod mcp;

use std::time::Duration;

use opentelemetry::{global, trace::TracerProvider as _};
use opentelemetry_otlp::{LogExporter, MetricExporter, SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::{
    Resource, logs::SdkLoggerProvider, metrics::SdkMeterProvider,
    propagation::TraceContextPropagator, trace::SdkTracerProvider,
};
use tracing_subscriber::{
    EnvFilter, Layer as _, filter::Targets, layer::SubscriberExt as _, util::SubscriberInitExt as _,
};

pub use audit_logs::export_audit;
pub use config::{Config, ConfigError, Signal};

/// The instrumentation scope of everything exported.
const SCOPE: &str = "switchboard";

/// How long shutdown waits for the last export of each signal.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// An exporter that could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter of a signal.
    #[error("the OTLP {signal:?} exporter cannot start: {source}")]
    Exporter {
        /// Which.
        signal: Signal,
        /// Why.
        source: opentelemetry_otlp::ExporterBuildError,
    },
}

/// How the process logs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The filter when `RUST_LOG` is not set.
    pub default_filter: String,
    /// Colours on stderr.
    pub ansi: bool,
    /// Whether this process exports (the gateway does; admin commands that
    /// only talk to it do not, whatever the environment says).
    pub export: bool,
}

/// The running export; flushes and stops it when dropped (or on
/// [`Telemetry::shutdown`]), so a gateway that stops exports its last spans.
#[derive(Debug, Default)]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
    metrics: Option<SdkMeterProvider>,
    logs: Option<SdkLoggerProvider>,
}

impl Telemetry {
    /// Whether anything is exported.
    pub fn exporting(&self) -> bool {
        self.traces.is_some() || self.metrics.is_some() || self.logs.is_some()
    }

    /// Exports what is buffered and stops the exporters, the three at once:
    /// blocks up to [`FLUSH_TIMEOUT`] in all (an unreachable receiver costs no
    /// more). Call it outside the async runtime, or from a blocking task.
    pub fn shutdown(&mut self) {
        fn report(signal: &str, result: opentelemetry_sdk::error::OTelSdkResult) {
            if let Err(e) = result {
                eprintln!("OpenTelemetry: {signal} not flushed: {e}");
            }
        }
        let (traces, metrics, logs) = (self.traces.take(), self.metrics.take(), self.logs.take());
        std::thread::scope(|scope| {
            if let Some(traces) = traces {
                scope.spawn(move || report("spans", traces.shutdown_with_timeout(FLUSH_TIMEOUT)));
            }
            if let Some(metrics) = metrics {
                scope.spawn(move || {
                    report("metrics", metrics.shutdown_with_timeout(FLUSH_TIMEOUT));
                });
            }
            if let Some(logs) = logs {
                scope
                    .spawn(move || report("audit logs", logs.shutdown_with_timeout(FLUSH_TIMEOUT)));
            }
        });
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Installs the process's subscriber: logs on stderr (filtered by
/// `RUST_LOG`, else `options.default_filter`) and, as [`Config::from_env`]
/// says, the OTLP exporters. Call it once, before the async runtime starts
/// (the exporters run on threads of their own). A second call only logs.
pub fn init(options: &Options) -> Telemetry {
    let config = if options.export {
        Config::from_env()
    } else {
        Config::from_lookup(|_| None)
    };
    // The SDK reports its own trouble (a receiver that refuses an export)
    // as tracing events; its chatter below warnings stays out.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("{},opentelemetry=warn", options.default_filter))
    });
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(options.ansi)
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let mut errors = Vec::new();
    let (telemetry, tracer) = start(&config, &mut errors);
    let otel = tracer.map(|tracer| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_level(false)
            .with_target(false)
            .with_location(false)
            .with_threads(false)
            // Only the request spans: events and other spans may quote what
            // a server said, which the audit log redacts and spans never carry.
            .with_filter(Targets::new().with_target(mcp::TARGET, tracing::Level::INFO))
    });
    let installed = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init()
        .is_ok();
    for refused in &config.refused {
        tracing::error!("OpenTelemetry: {refused}");
    }
    for error in &errors {
        tracing::error!("OpenTelemetry: {error}");
    }
    if installed && telemetry.exporting() {
        tracing::info!(
            service = %config.service_name,
            traces = telemetry.traces.is_some(),
            metrics = telemetry.metrics.is_some(),
            audit_logs = telemetry.logs.is_some(),
            "OpenTelemetry export over OTLP/HTTP"
        );
    }
    telemetry
}

fn resource(config: &Config) -> Resource {
    let builder = Resource::builder().with_attribute(opentelemetry::KeyValue::new(
        "service.version",
        env!("CARGO_PKG_VERSION"),
    ));
    if config.service_name_in_resource {
        builder.build()
    } else {
        builder
            .with_service_name(config.service_name.clone())
            .build()
    }
}

/// Builds the providers the config asks for; what fails is left off and
/// said in `errors`.
fn start(
    config: &Config,
    errors: &mut Vec<TelemetryError>,
) -> (Telemetry, Option<opentelemetry_sdk::trace::Tracer>) {
    let mut telemetry = Telemetry::default();
    let mut tracer = None;
    if !config.any() {
        return (telemetry, tracer);
    }
    let resource = resource(config);
    if let Some(protocol) = config.traces {
        match SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .build()
        {
            Ok(exporter) => {
                let provider = SdkTracerProvider::builder()
                    .with_resource(resource.clone())
                    .with_batch_exporter(exporter)
                    .build();
                tracer = Some(provider.tracer(SCOPE));
                global::set_text_map_propagator(TraceContextPropagator::new());
                global::set_tracer_provider(provider.clone());
                mcp::enable_traces();
                telemetry.traces = Some(provider);
            }
            Err(source) => errors.push(TelemetryError::Exporter {
                signal: Signal::Traces,
                source,
            }),
        }
    }
    if let Some(protocol) = config.metrics {
        match MetricExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .build()
        {
            Ok(exporter) => {
                let provider = SdkMeterProvider::builder()
                    .with_resource(resource.clone())
                    .with_periodic_exporter(exporter)
                    .build();
                global::set_meter_provider(provider.clone());
                mcp::enable_metrics(&global::meter(SCOPE));
                telemetry.metrics = Some(provider);
            }
            Err(source) => errors.push(TelemetryError::Exporter {
                signal: Signal::Metrics,
                source,
            }),
        }
    }
    if let Some(protocol) = config.logs {
        match LogExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .build()
        {
            Ok(exporter) => {
                let provider = SdkLoggerProvider::builder()
                    .with_resource(resource)
                    .with_batch_exporter(exporter)
                    .build();
                audit_logs::enable(&provider);
                telemetry.logs = Some(provider);
            }
            Err(source) => errors.push(TelemetryError::Exporter {
                signal: Signal::Logs,
                source,
            }),
        }
    }
    (telemetry, tracer)
}

#[cfg(test)]
mod tests;
