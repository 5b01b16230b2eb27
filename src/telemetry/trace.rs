//! Distributed traces (OpenTelemetry): one trace follows a change from the HTTP request that
//! made it, through the outbox and the topic, into the worker's handler and on through the
//! events that handler emits in turn, across processes.
//!
//! The W3C trace context crosses process boundaries in two places: the `traceparent` request
//! header (a load balancer or a client that traces) and the `traceparent` of an event's
//! metadata (also sent as an SNS message attribute). Every event records the span that emitted
//! it; the worker's span for a message continues that trace.
//!
//! Export is off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
//! is set; the exporter reads the standard `OTEL_EXPORTER_OTLP_*` and `OTEL_BSP_*` settings
//! (protocol `http/protobuf` by default, or `http/json`). With export off nothing is recorded
//! and events carry no trace context.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::Subscriber;
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt};
use tracing_subscriber::registry::LookupSpan;

/// The W3C header and attribute name.
pub const TRACEPARENT: &str = "traceparent";

/// Settings that turn export on, most specific first.
const ENDPOINT_SETTINGS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// Whether the environment asks for traces to be exported.
pub fn export_requested() -> bool {
    ENDPOINT_SETTINGS
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()))
}

/// A tracer provider exporting over OTLP/HTTP as the `OTEL_*` settings say, naming the
/// service `service` unless `OTEL_SERVICE_NAME` names it.
///
/// # Errors
/// When the exporter cannot be built from the settings (an invalid endpoint, say).
pub fn otlp_provider(service: &str) -> anyhow::Result<SdkTracerProvider> {
    use anyhow::Context as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .context("OTEL_EXPORTER_OTLP_ENDPOINT: cannot build the trace exporter")?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        resource = resource.with_service_name(service.to_owned());
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

/// The `tracing` layer that turns spans into OpenTelemetry spans of `provider`.
pub fn layer<S>(provider: &SdkTracerProvider) -> OpenTelemetryLayer<S, SdkTracer>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("quickfix"))
        .with_threads(false)
}

/// The `traceparent` of the current span, when it is traced (export on).
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Renames the current span's trace span (once a request's route is known, say).
pub fn rename_current_span(name: String) {
    tracing::Span::current().context().span().update_name(name);
}

/// Makes `span` (not yet entered) continue the trace `traceparent` names. Nothing happens
/// without one, or with a malformed one: the span starts a trace of its own.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(value) = traceparent.filter(|v| v.len() <= 128) else {
        return;
    };
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), value.to_owned())]);
    let parent = TraceContextPropagator::new().extract(&carrier);
    if parent.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed: then there is nothing to join.
        let _ = span.set_parent(parent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_tracer_there_is_no_trace_context() {
        let span = tracing::info_span!("untraced");
        continue_trace(
            &span,
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        let _entered = span.enter();
        assert_eq!(current_traceparent(), None);
    }
}
