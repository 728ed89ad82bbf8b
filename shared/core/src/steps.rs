//! The vocabulary the workflow compiler, the engines, the step-worker and the runs share:
//! a workflow's mode, the step message compiled states send, what it asks for
//! ([`StepPhase`]) and the error names Retry and Catch match ([`StepErrorName`]). It
//! depends on nothing but ids, so every module can use it without a cycle.

use serde::{Deserialize, Serialize};

use crate::ids::{RunId, TenantId};

/// The longest error name Step Functions takes in SendTaskFailure (a longer one is a
/// ValidationException, which would leave the step unanswered).
pub const MAX_ERROR_CHARS: usize = 256;
/// The longest cause Step Functions takes. Every engine and every step record keeps to
/// these limits, so a failed step reads the same on `skein dev` as on AWS.
pub const MAX_CAUSE_CHARS: usize = 32_768;

/// `text` cut to at most `max` characters, saying so at the end when it was cut.
pub fn clip(text: &str, max: usize) -> String {
    const MARK: &str = " [truncated]";
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(MARK.chars().count());
    text.chars().take(keep).chain(MARK.chars()).collect()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Mode {
    /// Long-running and durable: steps are dispatched with task tokens, approvals allowed.
    #[default]
    Standard,
    /// Short and cheap: steps are invoked directly, level by level; no approvals.
    Express,
}

/// What the step-worker is asked to do: the body of a step's SQS message (standard) or
/// Lambda payload (express), as the compiled ASL builds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepMessage {
    pub v: u32,
    pub tenant: TenantId,
    pub workflow: String,
    pub version: u32,
    pub run: RunId,
    pub step: String,
    pub phase: StepPhase,
    /// The state's retry count: 0 on the first try.
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// What a step message asks the worker to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepPhase {
    /// Run the step (an agent, a transform, an approval, a sub-workflow...).
    Run,
    /// A map step: resolve its list and answer with the item indexes.
    Items,
    /// A map step: run one item.
    Item,
    /// A map step: every item is done; gather the outputs.
    Collect,
}

impl StepPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            StepPhase::Run => "run",
            StepPhase::Items => "items",
            StepPhase::Item => "item",
            StepPhase::Collect => "collect",
        }
    }
}

/// Error names step failures carry, for Retry and Catch to match, and for the step-worker
/// Lambda's `Diagnostic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StepErrorName {
    /// The agent failed; retried while attempts remain.
    #[serde(rename = "Skein.AgentFailed")]
    AgentFailed,
    /// The agent failed in a way retrying cannot fix (bad input, 4xx, a value too large).
    #[serde(rename = "Skein.NonRetryable")]
    NonRetryable,
    /// One attempt ran past the step's `timeout`, or its answer never came.
    #[serde(rename = "Skein.Timeout")]
    Timeout,
    #[serde(rename = "Skein.ApprovalRejected")]
    ApprovalRejected,
    #[serde(rename = "Skein.ApprovalTimedOut")]
    ApprovalTimedOut,
    #[serde(rename = "Skein.SubWorkflowFailed")]
    SubWorkflowFailed,
    /// A tenant quota would be passed (`quotas::Quotas`), e.g. a map over too many items.
    #[serde(rename = "Skein.QuotaExceeded")]
    QuotaExceeded,
    /// An LLM call would pass the run's or the tenant's budget (`usage`).
    #[serde(rename = "Skein.BudgetExceeded")]
    BudgetExceeded,
    /// Sub-workflows nested deeper than `runs::MAX_SUB_WORKFLOW_DEPTH`.
    #[serde(rename = "Skein.DepthExceeded")]
    DepthExceeded,
    /// The agent the step was addressed to was deleted while the step waited.
    #[serde(rename = "Skein.AgentGone")]
    AgentGone,
    #[serde(rename = "Skein.Cancelled")]
    Cancelled,
    /// The platform itself could not run the step (a store that stayed unavailable...).
    #[serde(rename = "Skein.Internal")]
    Internal,
}

impl StepErrorName {
    pub fn as_str(self) -> &'static str {
        match self {
            StepErrorName::AgentFailed => "Skein.AgentFailed",
            StepErrorName::NonRetryable => "Skein.NonRetryable",
            StepErrorName::Timeout => "Skein.Timeout",
            StepErrorName::ApprovalRejected => "Skein.ApprovalRejected",
            StepErrorName::ApprovalTimedOut => "Skein.ApprovalTimedOut",
            StepErrorName::SubWorkflowFailed => "Skein.SubWorkflowFailed",
            StepErrorName::QuotaExceeded => "Skein.QuotaExceeded",
            StepErrorName::BudgetExceeded => "Skein.BudgetExceeded",
            StepErrorName::DepthExceeded => "Skein.DepthExceeded",
            StepErrorName::AgentGone => "Skein.AgentGone",
            StepErrorName::Cancelled => "Skein.Cancelled",
            StepErrorName::Internal => "Skein.Internal",
        }
    }

    /// The names a step's `retry` policy retries: the agent's own failures and timeouts.
    pub const RETRIED: [StepErrorName; 2] = [StepErrorName::AgentFailed, StepErrorName::Timeout];

    pub fn is_retried(name: &str) -> bool {
        Self::RETRIED.iter().any(|n| n.as_str() == name)
    }
}

impl std::fmt::Display for StepErrorName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<StepErrorName> for String {
    fn from(name: StepErrorName) -> String {
        name.as_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_causes_are_clipped_to_what_step_functions_accepts() {
        let cause = "é".repeat(40 * 1024);
        let clipped = clip(&cause, MAX_CAUSE_CHARS);
        assert_eq!(clipped.chars().count(), MAX_CAUSE_CHARS);
        assert!(clipped.ends_with(" [truncated]"));
        assert_eq!(clip("short", MAX_ERROR_CHARS), "short");
    }

    #[test]
    fn wire_names_are_the_serde_names() {
        for name in [
            StepErrorName::AgentFailed,
            StepErrorName::NonRetryable,
            StepErrorName::Timeout,
            StepErrorName::ApprovalRejected,
            StepErrorName::ApprovalTimedOut,
            StepErrorName::SubWorkflowFailed,
            StepErrorName::QuotaExceeded,
            StepErrorName::BudgetExceeded,
            StepErrorName::DepthExceeded,
            StepErrorName::AgentGone,
            StepErrorName::Cancelled,
            StepErrorName::Internal,
        ] {
            assert_eq!(serde_json::to_value(name).unwrap(), name.as_str());
        }
        for phase in [
            StepPhase::Run,
            StepPhase::Items,
            StepPhase::Item,
            StepPhase::Collect,
        ] {
            assert_eq!(serde_json::to_value(phase).unwrap(), phase.as_str());
        }
    }
}
