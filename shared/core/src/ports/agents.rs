//! Builtin agents: work Skein does itself (echo, template, transform, decision, http, llm),
//! so that a workflow runs with no external service. Implemented outside core because
//! some of them need an HTTP client.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::steps::StepErrorName;

pub use crate::metrics::TokenCounts;

/// One run of a builtin agent for one step attempt.
#[derive(Debug, Clone)]
pub struct BuiltinCall {
    pub name: String,
    /// The step's `with` section (null when absent).
    pub config: Value,
    pub input: Value,
    /// Stable across re-runs of the same step attempt; side effects use it to dedupe.
    pub idempotency_key: String,
    pub timeout: Option<Duration>,
    /// The W3C `traceparent` of the step's span: outbound requests carry it.
    pub trace: Option<String>,
    /// Where a builtin that streams (`llm` with `stream: true`) sends its output as it
    /// is written; None where nobody could watch (a check, a benchmark).
    pub deltas: Option<Deltas>,
}

/// Receives a streaming builtin's output in pieces, already coalesced by the builtin.
#[async_trait]
pub trait DeltaSink: Send + Sync {
    async fn delta(&self, text: &str);
}

/// A [`DeltaSink`] a call carries.
#[derive(Clone)]
pub struct Deltas(pub std::sync::Arc<dyn DeltaSink>);

impl std::fmt::Debug for Deltas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Deltas")
    }
}

/// A failed builtin call: `error` is a Skein error name (see `steps::StepErrorName`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFailure {
    pub error: StepErrorName,
    pub message: String,
}

impl AgentFailure {
    pub fn new(error: StepErrorName, message: impl Into<String>) -> Self {
        Self {
            error,
            message: message.into(),
        }
    }
}

/// What a builtin call to a paid provider (the `llm` builtin) used.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderUsage {
    pub provider: String,
    /// The model that answered (the provider's name for it), else the one asked for.
    pub model: String,
    pub tokens: TokenCounts,
    pub latency: Duration,
}

/// The most a builtin call may use, known before it is made, so that budgets can hold
/// it: the prompt's tokens (estimated) and the output's cap.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageEstimate {
    pub provider: String,
    pub model: String,
    pub tokens: TokenCounts,
}

/// A builtin's answer, and what it used of a paid provider.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltinOutput {
    pub value: Value,
    pub usage: Option<ProviderUsage>,
}

impl From<Value> for BuiltinOutput {
    fn from(value: Value) -> Self {
        BuiltinOutput { value, usage: None }
    }
}

#[async_trait]
pub trait BuiltinAgents: Send + Sync {
    /// Names every builtin (for messages that list them).
    fn names(&self) -> Vec<&'static str>;

    /// Checks a step's use of a builtin when the workflow is registered: the name, and
    /// its `with` settings. Each problem is (path under the step, e.g. `.with.program`, message).
    fn check(&self, name: &str, config: Option<&Value>) -> Result<(), Vec<(String, String)>>;

    /// What `call` may use of a paid provider at most; None for a call that uses none.
    fn estimate(&self, call: &BuiltinCall) -> Option<UsageEstimate>;

    /// Whether builtin `name` only computes: its output comes from its input and `with`
    /// settings, and a call reaches nothing outside the process (no network, no paid
    /// provider). Such a step is run before its start is recorded, and its start and end
    /// are recorded in one write; should two deliveries both run it, one output is kept
    /// and nothing else happened twice.
    fn only_computes(&self, name: &str) -> bool;

    async fn invoke(&self, call: BuiltinCall) -> Result<BuiltinOutput, AgentFailure>;
}
