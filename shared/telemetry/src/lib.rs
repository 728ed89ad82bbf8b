//! Traces. W3C trace context travels with the work: an API request continues the
//! caller's `traceparent`, a run keeps its starter's, every step's span continues the
//! run's, a task hands it to the agent that claims it, and `http` steps send it on
//! (`skein_core::ports::TraceContexts`, implemented here as [`W3cTraces`]).
//!
//! With the `export` feature, [`export::install`] sends the spans over OTLP/HTTP as the
//! standard `OTEL_*` variables configure; without an endpoint nothing is exported and
//! every span stays a cheap no-op for OpenTelemetry.

#[cfg(feature = "export")]
pub mod export;

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use skein_core::ports::TraceContexts;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// Trace context through OpenTelemetry's W3C propagator and the tracing spans'
/// OpenTelemetry contexts.
pub struct W3cTraces;

impl TraceContexts for W3cTraces {
    fn current(&self) -> Option<String> {
        traceparent_of(&tracing::Span::current())
    }

    fn continue_from(&self, span: &tracing::Span, traceparent: &str) {
        let carrier = HashMap::from([(TRACEPARENT.to_string(), traceparent.to_string())]);
        continue_from_carrier(span, &carrier);
    }
}

/// The `traceparent` of `span`, when OpenTelemetry traces it.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Makes `span` continue the trace of an incoming request's `traceparent` and
/// `tracestate` headers; a request without (or with a malformed) one starts a new trace.
pub fn continue_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    let mut carrier = HashMap::new();
    for name in [TRACEPARENT, TRACESTATE] {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            carrier.insert(name.to_string(), value.to_string());
        }
    }
    if !carrier.is_empty() {
        continue_from_carrier(span, &carrier);
    }
}

fn continue_from_carrier(span: &tracing::Span, carrier: &HashMap<String, String>) {
    let parent = TraceContextPropagator::new().extract(carrier);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}
