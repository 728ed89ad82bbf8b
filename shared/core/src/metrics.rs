//! The platform's metrics, named once: every host records them through the `metrics`
//! facade and exports them its own way (`skein dev` as Prometheus text at `/metrics`, a
//! Lambda as CloudWatch EMF lines), so a dashboard or an alarm names the same series
//! wherever Skein runs. With no recorder installed (tests, the edge) recording is a no-op.
//!
//! Labels are kept to small, bounded sets: a status, an outcome, a route template, a
//! workflow name. Never an id: every distinct label set is a series to store (and, on
//! CloudWatch, a custom metric to pay for).

use std::time::Duration;

/// What a metric counts or measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric the platform records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    HttpRequests,
    HttpRequestDuration,
    RunsStarted,
    RunsEnded,
    StepAttempts,
    StepAttemptDuration,
    TaskClaims,
    TaskLeaseExpiries,
    TasksExpired,
    MessagesSent,
    MessagesDeadLettered,
    RateLimitRefusals,
    LlmTokens,
    LlmCalls,
    LlmCallDuration,
    LlmCost,
    BudgetRefusals,
    QueueDepth,
    QueueOldestAge,
}

impl Metric {
    pub const ALL: [Metric; 19] = [
        Metric::HttpRequests,
        Metric::HttpRequestDuration,
        Metric::RunsStarted,
        Metric::RunsEnded,
        Metric::StepAttempts,
        Metric::StepAttemptDuration,
        Metric::TaskClaims,
        Metric::TaskLeaseExpiries,
        Metric::TasksExpired,
        Metric::MessagesSent,
        Metric::MessagesDeadLettered,
        Metric::RateLimitRefusals,
        Metric::LlmTokens,
        Metric::LlmCalls,
        Metric::LlmCallDuration,
        Metric::LlmCost,
        Metric::BudgetRefusals,
        Metric::QueueDepth,
        Metric::QueueOldestAge,
    ];

    /// The series name, in Prometheus' conventions (`_total` counters, base units).
    pub const fn name(self) -> &'static str {
        match self {
            Metric::HttpRequests => "skein_http_requests_total",
            Metric::HttpRequestDuration => "skein_http_request_duration_seconds",
            Metric::RunsStarted => "skein_runs_started_total",
            Metric::RunsEnded => "skein_runs_ended_total",
            Metric::StepAttempts => "skein_step_attempts_total",
            Metric::StepAttemptDuration => "skein_step_attempt_duration_seconds",
            Metric::TaskClaims => "skein_task_claims_total",
            Metric::TaskLeaseExpiries => "skein_task_lease_expiries_total",
            Metric::TasksExpired => "skein_tasks_expired_total",
            Metric::MessagesSent => "skein_messages_sent_total",
            Metric::MessagesDeadLettered => "skein_messages_dead_lettered_total",
            Metric::RateLimitRefusals => "skein_rate_limit_refusals_total",
            Metric::LlmTokens => "skein_llm_tokens_total",
            Metric::LlmCalls => "skein_llm_calls_total",
            Metric::LlmCallDuration => "skein_llm_call_duration_seconds",
            Metric::LlmCost => "skein_llm_cost_microdollars_total",
            Metric::BudgetRefusals => "skein_budget_refusals_total",
            Metric::QueueDepth => "skein_queue_depth",
            Metric::QueueOldestAge => "skein_queue_oldest_age_seconds",
        }
    }

    pub const fn kind(self) -> Kind {
        match self {
            Metric::HttpRequestDuration | Metric::StepAttemptDuration | Metric::LlmCallDuration => {
                Kind::Histogram
            }
            Metric::QueueDepth | Metric::QueueOldestAge => Kind::Gauge,
            _ => Kind::Counter,
        }
    }

    pub const fn help(self) -> &'static str {
        match self {
            Metric::HttpRequests => "API requests answered, by method, route template and status",
            Metric::HttpRequestDuration => "Time to answer an API request, by method and route",
            Metric::RunsStarted => "Workflow runs started, by workflow",
            Metric::RunsEnded => "Workflow runs ended, by workflow and status",
            Metric::StepAttempts => "Step attempts ended, by outcome (succeeded, retrying, failed)",
            Metric::StepAttemptDuration => "Duration of a step attempt, by outcome",
            Metric::TaskClaims => "Tasks claimed by agents",
            Metric::TaskLeaseExpiries => {
                "Claimed tasks whose agent neither completed nor heartbeated in time"
            }
            Metric::TasksExpired => "Queued tasks that no agent claimed before their deadline",
            Metric::MessagesSent => "Messages sent between agents, by kind",
            Metric::MessagesDeadLettered => "Messages set aside after their last delivery",
            Metric::RateLimitRefusals => "Requests refused by a rate limit, by scope",
            Metric::LlmTokens => "LLM tokens, by provider, model and kind (input, output, cached)",
            Metric::LlmCalls => "LLM calls, by provider, model and outcome",
            Metric::LlmCallDuration => "Duration of an LLM call, by provider and model",
            Metric::LlmCost => {
                "Cost of LLM calls in millionths of a US dollar, by provider and model (priced models only)"
            }
            Metric::BudgetRefusals => "LLM calls refused by a budget, by scope (run, tenant)",
            Metric::QueueDepth => "Messages waiting in a queue (visible and in flight)",
            Metric::QueueOldestAge => "Age of the oldest message in a queue",
        }
    }

    pub const fn unit(self) -> metrics::Unit {
        match self {
            Metric::HttpRequestDuration
            | Metric::StepAttemptDuration
            | Metric::LlmCallDuration
            | Metric::QueueOldestAge => metrics::Unit::Seconds,
            _ => metrics::Unit::Count,
        }
    }

    /// The bucket bounds for a histogram, in its unit.
    pub const fn buckets(self) -> &'static [f64] {
        match self {
            Metric::HttpRequestDuration => &[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 20.0,
            ],
            _ => &[
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
                900.0, 3600.0,
            ],
        }
    }
}

/// Registers every metric's help text and unit with the installed recorder.
pub fn describe_all() {
    for metric in Metric::ALL {
        let (name, unit, help) = (metric.name(), metric.unit(), metric.help());
        match metric.kind() {
            Kind::Counter => metrics::describe_counter!(name, unit, help),
            Kind::Gauge => metrics::describe_gauge!(name, unit, help),
            Kind::Histogram => metrics::describe_histogram!(name, unit, help),
        }
    }
}

/// How a step attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Succeeded,
    /// Failed, and the engine tries again.
    Retrying,
    /// Failed for good.
    Failed,
}

impl AttemptOutcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Retrying => "retrying",
            AttemptOutcome::Failed => "failed",
        }
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// A bearer token's principal or tenant bucket.
    Token,
    /// A source address's bucket (requests without a token).
    Source,
}

impl LimitScope {
    pub const fn as_str(self) -> &'static str {
        match self {
            LimitScope::Token => "token",
            LimitScope::Source => "source",
        }
    }
}

/// The kind of a message between agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Direct,
    Broadcast,
    Reply,
}

impl MessageKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            MessageKind::Direct => "direct",
            MessageKind::Broadcast => "broadcast",
            MessageKind::Reply => "reply",
        }
    }
}

/// One answered API request. `route` is the matched route's template, never a raw path.
pub fn http_request(method: &'static str, route: &str, status: u16, took: Duration) {
    let route = route.to_owned();
    metrics::counter!(Metric::HttpRequests.name(), "method" => method, "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!(Metric::HttpRequestDuration.name(), "method" => method, "route" => route)
        .record(took.as_secs_f64());
}

pub fn run_started(workflow: &str) {
    metrics::counter!(Metric::RunsStarted.name(), "workflow" => workflow.to_owned()).increment(1);
}

/// A run ended with `status` (`RunStatus::as_str`: this module depends on none other).
pub fn run_ended(workflow: &str, status: &'static str) {
    metrics::counter!(Metric::RunsEnded.name(), "workflow" => workflow.to_owned(), "status" => status)
        .increment(1);
}

/// One step attempt ended. Labelled by outcome alone: the deployment's failure-rate alarm
/// divides these series, and an alarm cannot sum over a label it does not name.
pub fn step_attempt_ended(outcome: AttemptOutcome, took: Option<Duration>) {
    metrics::counter!(Metric::StepAttempts.name(), "outcome" => outcome.as_str()).increment(1);
    if let Some(took) = took {
        metrics::histogram!(Metric::StepAttemptDuration.name(), "outcome" => outcome.as_str())
            .record(took.as_secs_f64());
    }
}

pub fn task_claimed() {
    metrics::counter!(Metric::TaskClaims.name()).increment(1);
}

pub fn task_lease_expired() {
    metrics::counter!(Metric::TaskLeaseExpiries.name()).increment(1);
}

pub fn task_expired() {
    metrics::counter!(Metric::TasksExpired.name()).increment(1);
}

pub fn message_sent(kind: MessageKind) {
    metrics::counter!(Metric::MessagesSent.name(), "kind" => kind.as_str()).increment(1);
}

pub fn message_dead_lettered() {
    metrics::counter!(Metric::MessagesDeadLettered.name()).increment(1);
}

pub fn rate_limit_refused(scope: LimitScope) {
    metrics::counter!(Metric::RateLimitRefusals.name(), "scope" => scope.as_str()).increment(1);
}

/// Tokens one LLM call used, as its provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCounts {
    pub input: u64,
    pub output: u64,
    /// Input tokens served from the provider's prompt cache (part of `input`).
    pub cached: u64,
}

pub fn llm_call(
    provider: &'static str,
    model: &str,
    ok: bool,
    took: Duration,
    tokens: TokenCounts,
) {
    let model = model.to_owned();
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!(Metric::LlmCalls.name(), "provider" => provider, "model" => model.clone(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!(Metric::LlmCallDuration.name(), "provider" => provider, "model" => model.clone())
        .record(took.as_secs_f64());
    for (kind, count) in [
        ("input", tokens.input),
        ("output", tokens.output),
        ("cached", tokens.cached),
    ] {
        if count > 0 {
            metrics::counter!(Metric::LlmTokens.name(), "provider" => provider, "model" => model.clone(), "kind" => kind)
                .increment(count);
        }
    }
}

/// What a recorded LLM call cost, in micro-dollars.
pub fn llm_cost(provider: &str, model: &str, micros: u64) {
    metrics::counter!(Metric::LlmCost.name(), "provider" => provider.to_owned(), "model" => model.to_owned())
        .increment(micros);
}

/// A call refused because it would pass a budget; `scope` is `run` or `tenant`.
pub fn budget_refused(scope: &'static str) {
    metrics::counter!(Metric::BudgetRefusals.name(), "scope" => scope).increment(1);
}

/// A queue's depth and oldest message, sampled by a host that can see them (on AWS, SQS
/// publishes its own).
pub fn queue_sampled(queue: &str, depth: u64, oldest: Option<Duration>) {
    metrics::gauge!(Metric::QueueDepth.name(), "queue" => queue.to_owned()).set(depth as f64);
    metrics::gauge!(Metric::QueueOldestAge.name(), "queue" => queue.to_owned())
        .set(oldest.map_or(0.0, |age| age.as_secs_f64()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        for metric in Metric::ALL {
            let name = metric.name();
            assert!(name.starts_with("skein_"), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name}"
            );
            assert_eq!(
                metric.kind() == Kind::Counter,
                name.ends_with("_total"),
                "{name}: counters and only counters end in _total"
            );
            if metric.unit() == metrics::Unit::Seconds {
                assert!(name.ends_with("_seconds"), "{name}");
            }
        }
    }

    #[test]
    fn every_name_is_distinct() {
        let mut names: Vec<_> = Metric::ALL.iter().map(|m| m.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Metric::ALL.len());
    }

    #[test]
    fn histogram_buckets_ascend() {
        for metric in Metric::ALL {
            let buckets = metric.buckets();
            assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{}", metric.name());
        }
    }
}
