//! Logs to stderr; traces and metrics over OTLP (HTTP or gRPC) when an
//! endpoint is configured. The exporters batch on their own, so a slow or
//! absent collector never blocks a request or the packet path.

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithExportConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;
use troupe_config::{Config, OtlpProtocol};

pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
    bridge: std::sync::Mutex<Option<std::sync::Arc<crate::metrics_bridge::MetricsBridge>>>,
}

impl Telemetry {
    /// Exports the registry's metrics over OTLP too, when an endpoint is set.
    /// Must run inside the Tokio runtime: families that appear later are
    /// picked up by a task.
    pub fn export_metrics(&self, registry: std::sync::Arc<prometheus_client::registry::Registry>) {
        let Some(meter) = &self.meter else { return };
        let bridge = std::sync::Arc::new(crate::metrics_bridge::MetricsBridge::new(
            meter.meter("troupe"),
            registry,
        ));
        let refreshing = bridge.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(METRICS_INTERVAL / 2);
            loop {
                tick.tick().await;
                refreshing.refresh();
            }
        });
        *self.bridge.lock().unwrap_or_else(|e| e.into_inner()) = Some(bridge);
    }

    /// Flushes and stops both exporters.
    pub fn shutdown(self) {
        if let Some(bridge) = self
            .bridge
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            bridge.refresh();
        }
        if let Some(meter) = self.meter {
            if let Err(e) = meter.shutdown() {
                eprintln!("troupe: flushing metrics failed: {e}");
            }
        }
        if let Some(tracer) = self.tracer {
            if let Err(e) = tracer.shutdown() {
                eprintln!("troupe: flushing traces failed: {e}");
            }
        }
    }
}

/// The OTLP/HTTP URL of one signal (`traces`, `metrics`) for an endpoint
/// given as a collector base URL; a full traces URL is kept for traces and
/// mapped for metrics.
pub fn signal_url(endpoint: &str, signal: &str) -> String {
    let trimmed = endpoint.trim_end_matches('/');
    if let Some(base) = trimmed.strip_suffix("/v1/traces") {
        return format!("{base}/v1/{signal}");
    }
    let has_path = trimmed.splitn(4, '/').nth(3).is_some_and(|p| !p.is_empty());
    if has_path {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v1/{signal}")
    }
}

/// How often metrics are pushed over OTLP.
const METRICS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

pub fn init(config: &Config) -> Result<Telemetry, String> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log))
        .map_err(|e| format!("invalid config field `log`: {e}"))?;
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let Some(endpoint) = &config.otlp_endpoint else {
        let _ = tracing_subscriber::registry().with(fmt).try_init();
        return Ok(Telemetry {
            tracer: None,
            meter: None,
            bridge: Default::default(),
        });
    };
    let invalid = |e: &dyn std::fmt::Display| format!("invalid config field `otlp_endpoint`: {e}");
    let (spans, metrics) = match config.otlp_protocol {
        OtlpProtocol::HttpProtobuf => (
            SpanExporter::builder()
                .with_http()
                .with_endpoint(signal_url(endpoint, "traces"))
                .build()
                .map_err(|e| invalid(&e))?,
            MetricExporter::builder()
                .with_http()
                .with_endpoint(signal_url(endpoint, "metrics"))
                .build()
                .map_err(|e| invalid(&e))?,
        ),
        // gRPC needs the Tokio runtime this is called in: the exporters'
        // channels run their I/O on it.
        OtlpProtocol::Grpc => (
            SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()
                .map_err(|e| invalid(&e))?,
            MetricExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()
                .map_err(|e| invalid(&e))?,
        ),
    };
    let resource = Resource::builder()
        .with_service_name("troupe")
        .with_attributes([
            KeyValue::new("troupe.node_id", config.node_id.clone()),
            KeyValue::new("troupe.region", config.region.clone()),
        ])
        .build();
    let tracer = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .with_resource(resource.clone())
        .build();
    let reader = PeriodicReader::builder(metrics)
        .with_interval(METRICS_INTERVAL)
        .build();
    let meter = SdkMeterProvider::builder()
        .with_reader(reader)
        .with_resource(resource)
        .build();
    // The exporters' own HTTP/gRPC clients must not trace themselves into a
    // loop.
    let mut own_traffic = Targets::new().with_default(tracing::Level::INFO);
    for target in [
        "reqwest",
        "hyper",
        "hyper_util",
        "h2",
        "tonic",
        "tower",
        "opentelemetry",
        "opentelemetry_sdk",
        "opentelemetry_otlp",
    ] {
        own_traffic = own_traffic.with_target(target, tracing::level_filters::LevelFilter::OFF);
    }
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer.tracer("troupe"))
        .with_filter(own_traffic);
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init();
    Ok(Telemetry {
        tracer: Some(tracer),
        meter: Some(meter),
        bridge: Default::default(),
    })
}

/// The W3C `traceparent` of the current span, to carry trace context to
/// another node; `None` when traces are not exported.
pub fn current_traceparent() -> Option<String> {
    use opentelemetry::propagation::TextMapPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let context = tracing::Span::current().context();
    let mut carrier = std::collections::HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` a child of the caller's span named by a `traceparent`
/// header (a request relayed from another node, or a traced client).
pub fn adopt_remote_parent(span: &tracing::Span, traceparent: &str) {
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let carrier =
        std::collections::HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

#[cfg(test)]
mod tests {
    use super::signal_url;

    #[test]
    fn a_base_url_gets_each_signals_path() {
        assert_eq!(
            signal_url("http://collector:4318", "traces"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            signal_url("http://collector:4318/", "metrics"),
            "http://collector:4318/v1/metrics"
        );
        assert_eq!(
            signal_url("http://c:4318/v1/traces", "metrics"),
            "http://c:4318/v1/metrics"
        );
        assert_eq!(
            signal_url("http://c:4318/custom/traces", "traces"),
            "http://c:4318/custom/traces"
        );
    }
}
