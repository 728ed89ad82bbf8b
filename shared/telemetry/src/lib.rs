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
use opentelemetry_aws::trace::XrayPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use skein_core::ports::TraceContexts;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
/// X-Ray's header, which API Gateway and Lambda set (`Root=1-...;Parent=...;Sampled=1`).
const XRAY: &str = "x-amzn-trace-id";

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

/// Makes `span` continue the trace of an incoming request: its W3C `traceparent` (and
/// `tracestate`), else X-Ray's `X-Amzn-Trace-Id` (what API Gateway and Lambda pass on). A
/// request with neither, or only malformed ones, starts a new trace.
pub fn continue_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    let mut carrier = HashMap::new();
    for name in [TRACEPARENT, TRACESTATE, XRAY] {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            carrier.insert(name.to_string(), value.to_string());
        }
    }
    if !carrier.is_empty() {
        continue_from_carrier(span, &carrier);
    }
}

fn continue_from_carrier(span: &tracing::Span, carrier: &HashMap<String, String>) {
    let w3c = TraceContextPropagator::new().extract(carrier);
    let parent = if w3c.span().span_context().is_valid() {
        w3c
    } else {
        XrayPropagator::new().extract(carrier)
    };
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt;

    /// Runs `f` with spans going to a real (not exporting) OpenTelemetry tracer.
    fn traced<T>(f: impl FnOnce() -> T) -> T {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, f)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| (http::HeaderName::from_static(n), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn a_request_continues_a_w3c_traceparent_and_hands_on_its_own() {
        traced(|| {
            let span = tracing::info_span!("request");
            let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
            continue_from_headers(&span, &headers(&[("traceparent", incoming)]));
            let current = span.in_scope(|| W3cTraces.current()).expect("traced");
            assert!(
                current.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
                "{current}"
            );
            assert!(
                !current.contains("00f067aa0ba902b7"),
                "a span of its own: {current}"
            );

            // A later span (a step) joins the same trace from the stored context.
            let step = tracing::info_span!("step");
            W3cTraces.continue_from(&step, &current);
            let inside = step.in_scope(|| W3cTraces.current()).unwrap();
            assert!(inside.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        });
    }

    #[test]
    fn an_x_ray_header_is_a_trace_context_too_and_w3c_wins_when_both_come() {
        traced(|| {
            let xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
            let span = tracing::info_span!("request");
            continue_from_headers(&span, &headers(&[("x-amzn-trace-id", xray)]));
            let current = span.in_scope(|| W3cTraces.current()).unwrap();
            assert!(
                current.starts_with("00-5759e988bd862e3fe1be46a994272793-"),
                "{current}"
            );

            let both = tracing::info_span!("request");
            let w3c = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
            continue_from_headers(
                &both,
                &headers(&[("traceparent", w3c), ("x-amzn-trace-id", xray)]),
            );
            let current = both.in_scope(|| W3cTraces.current()).unwrap();
            assert!(
                current.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
                "{current}"
            );
        });
    }

    #[test]
    fn without_a_tracer_or_with_a_malformed_header_nothing_is_carried() {
        let span = tracing::info_span!("request");
        continue_from_headers(&span, &headers(&[("traceparent", "00-zz-yy-01")]));
        assert_eq!(span.in_scope(|| W3cTraces.current()), None);
        traced(|| {
            let span = tracing::info_span!("request");
            continue_from_headers(&span, &headers(&[("traceparent", "garbage")]));
            let current = span.in_scope(|| W3cTraces.current()).unwrap();
            assert!(!current.contains("garbage"), "a new trace: {current}");
        });
    }
}
