//! What to export, read from the standard `OTEL_*` variables.
//!
//! Export is off unless an OTLP endpoint is set: `OTEL_EXPORTER_OTLP_ENDPOINT`
//! for every signal, or `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT`
//! for one. `OTEL_SDK_DISABLED=true` and `OTEL_{TRACES,METRICS}_EXPORTER=none`
//! turn a signal off. The audit records go out as OTLP logs only when
//! `SWITCHBOARD_OTEL_AUDIT_LOGS` is set as well: they hold what clients sent
//! (redacted), which spans and metrics never do.

use opentelemetry_otlp::Protocol;

/// The service name when `OTEL_SERVICE_NAME` does not give one.
pub const DEFAULT_SERVICE_NAME: &str = "switchboard";

/// Names the variable that asks for the audit records as OTLP logs.
pub const AUDIT_LOGS_VAR: &str = "SWITCHBOARD_OTEL_AUDIT_LOGS";

/// One kind of telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Counters and histograms.
    Metrics,
    /// Log records (the audit records).
    Logs,
}

impl Signal {
    fn upper(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }
}

/// A setting that cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// OTLP over gRPC was asked for; only OTLP over HTTP is built in.
    #[error(
        "{var}=grpc is not supported: Switchboard exports OTLP over HTTP only; set it to \
         http/protobuf (or http/json) and point the endpoint at the receiver's HTTP port \
         (usually 4318). {signal:?} are not exported"
    )]
    Grpc {
        /// The variable that asked.
        var: String,
        /// The signal left off.
        signal: Signal,
    },
    /// A protocol that OTLP does not have.
    #[error("{var}={value} is not an OTLP protocol (http/protobuf, http/json)")]
    Protocol {
        /// The variable.
        var: String,
        /// What it said.
        value: String,
    },
}

/// What to export, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `service.name` of every signal.
    pub service_name: String,
    /// Whether `service.name` comes from `OTEL_RESOURCE_ATTRIBUTES` (then it is
    /// left as it is).
    pub service_name_in_resource: bool,
    /// Spans, over this protocol.
    pub traces: Option<Protocol>,
    /// Metrics, over this protocol.
    pub metrics: Option<Protocol>,
    /// The audit records as logs, over this protocol.
    pub logs: Option<Protocol>,
    /// Settings that were refused (each leaves its signal off).
    pub refused: Vec<ConfigError>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `var` (the environment, or a test's map).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let service_name = get("OTEL_SERVICE_NAME");
        let service_name_in_resource = service_name.is_none()
            && get("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|attrs| {
                attrs
                    .split(',')
                    .any(|kv| kv.split('=').next().map(str::trim) == Some("service.name"))
            });
        let mut config = Config {
            service_name: service_name.unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned()),
            service_name_in_resource,
            traces: None,
            metrics: None,
            logs: None,
            refused: Vec::new(),
        };
        if get("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return config;
        }
        let general = get("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
        let mut wanted = |signal: Signal, asked: bool| -> Option<Protocol> {
            let endpoint = get(&format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", signal.upper()));
            if !(asked && (general || endpoint.is_some())) {
                return None;
            }
            let specific = format!("OTEL_EXPORTER_OTLP_{}_PROTOCOL", signal.upper());
            let (var, value) = match get(&specific) {
                Some(value) => (specific, value),
                None => match get("OTEL_EXPORTER_OTLP_PROTOCOL") {
                    Some(value) => ("OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(), value),
                    None => return Some(Protocol::HttpBinary),
                },
            };
            match value.trim().to_ascii_lowercase().as_str() {
                "http/protobuf" => Some(Protocol::HttpBinary),
                "http/json" => Some(Protocol::HttpJson),
                "grpc" => {
                    config.refused.push(ConfigError::Grpc { var, signal });
                    None
                }
                _ => {
                    config.refused.push(ConfigError::Protocol { var, value });
                    None
                }
            }
        };
        let exporter_on = |name: &str| {
            get(name).is_none_or(|v| v.split(',').any(|e| e.trim().eq_ignore_ascii_case("otlp")))
        };
        let audit_logs = get(AUDIT_LOGS_VAR).is_some_and(|v| {
            !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "0" | "false" | "no" | "off"
            )
        });
        let traces = wanted(Signal::Traces, exporter_on("OTEL_TRACES_EXPORTER"));
        let metrics = wanted(Signal::Metrics, exporter_on("OTEL_METRICS_EXPORTER"));
        let logs = wanted(
            Signal::Logs,
            audit_logs && exporter_on("OTEL_LOGS_EXPORTER"),
        );
        config.traces = traces;
        config.metrics = metrics;
        config.logs = logs;
        config
    }

    /// Whether anything is exported.
    pub fn any(&self) -> bool {
        self.traces.is_some() || self.metrics.is_some() || self.logs.is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn off_without_an_endpoint() {
        let off = config(&[("OTEL_SERVICE_NAME", "gw"), (AUDIT_LOGS_VAR, "1")]);
        assert!(!off.any());
        assert_eq!(off.service_name, "gw");
        assert_eq!(config(&[]).service_name, DEFAULT_SERVICE_NAME);
    }

    #[test]
    fn one_endpoint_turns_on_traces_and_metrics_but_not_audit_logs() {
        let on = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")]);
        assert_eq!(on.traces, Some(Protocol::HttpBinary));
        assert_eq!(on.metrics, Some(Protocol::HttpBinary));
        assert_eq!(on.logs, None);
        let logs = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            (AUDIT_LOGS_VAR, "true"),
        ]);
        assert_eq!(logs.logs, Some(Protocol::HttpBinary));
    }

    #[test]
    fn signal_endpoints_and_exporters_choose_signals() {
        let traces = config(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://127.0.0.1:6006/v1/traces",
        )]);
        assert!(traces.traces.is_some() && traces.metrics.is_none());
        let no_metrics = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ]);
        assert!(no_metrics.traces.is_some() && no_metrics.metrics.is_none());
        let disabled = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x"),
            ("OTEL_SDK_DISABLED", "true"),
        ]);
        assert!(!disabled.any());
    }

    #[test]
    fn grpc_is_refused_by_name_and_json_is_taken() {
        let grpc = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"),
        ]);
        assert_eq!(grpc.traces, None);
        assert_eq!(grpc.metrics, Some(Protocol::HttpJson));
        assert!(matches!(
            &grpc.refused[..],
            [ConfigError::Grpc { var, signal: Signal::Traces }] if var == "OTEL_EXPORTER_OTLP_PROTOCOL"
        ));
        assert!(grpc.refused[0].to_string().contains("not supported"));
    }

    #[test]
    fn a_service_name_in_the_resource_attributes_is_kept() {
        let c = config(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=gw,team=x")]);
        assert!(c.service_name_in_resource);
    }
}
