//! The world outside: time, randomness, and wake-ups for waiting claimers.

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// Cryptographically secure random bytes (ids, secrets, salts).
pub trait Entropy: Send + Sync {
    fn fill(&self, buf: &mut [u8]);
}

/// Told when a task becomes claimable, so that long-polling claimers wake at once
/// instead of at their next poll. Doing nothing is a correct implementation.
pub trait TaskEvents: Send + Sync {
    fn task_ready(&self);

    /// A run changed (a step moved, the run ended): live watchers should look again.
    fn run_changed(&self, _run: &str) {}

    /// A run reached its terminal status (told after `run_changed`): starts waiting for
    /// its end should look again. Apart from `run_changed` so that a waiting start reads
    /// its run once at the end, not at every step event.
    fn run_ended(&self, _run: &str) {}

    /// A message landed in this agent's inbox: its long-polling reads should look again.
    fn inbox_changed(&self, _agent: &str) {}
}

/// W3C trace context, for work that happens later and elsewhere than the request that
/// asked for it: a run carries its starter's `traceparent`, each step's span continues
/// it, and a task hands it to the remote agent that claims it. The host implements it
/// over its tracer (`skein-telemetry`); [`NoTraces`] when nothing is traced.
pub trait TraceContexts: Send + Sync {
    /// The `traceparent` header value of the current span, when it is being traced.
    fn current(&self) -> Option<String>;

    /// Makes `span` a child of the span `traceparent` names (ignored when malformed).
    fn continue_from(&self, span: &tracing::Span, traceparent: &str);
}

/// Traces nothing.
pub struct NoTraces;

impl TraceContexts for NoTraces {
    fn current(&self) -> Option<String> {
        None
    }

    fn continue_from(&self, _span: &tracing::Span, _traceparent: &str) {}
}
