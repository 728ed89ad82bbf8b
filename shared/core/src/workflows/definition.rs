//! A workflow definition as a person writes it, in YAML or JSON. The JSON Schema in
//! `schemas/workflow.schema.json` describes the same shape for editors.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::duration::HumanDuration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Lowercase letters, digits and `-`; the workflow's id within its tenant.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub mode: Mode,
    /// A JSON Schema every run's input must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// A template for the run's output; by default, the outputs of the final steps by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// What each run may spend on LLM calls; a call that would pass it fails its step
    /// with `Skein.BudgetExceeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::usage::Budget>,
    pub steps: Vec<Step>,
}

pub use crate::steps::Mode;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Five fields (minute hour day-of-month month day-of-week), in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// A fixed period, e.g. `15m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<HumanDuration>,
    /// The input each scheduled run starts with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StepKind {
    /// An agent does the work: a registered agent, any agent with a capability, or a builtin.
    #[default]
    Task,
    /// A person approves or rejects.
    Approval,
    /// The step's agent runs once per element of a list.
    Map,
    /// Another registered workflow runs as this step.
    Workflow,
}

impl StepKind {
    /// The kind as a workflow file writes it (`type:`).
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Task => "task",
            StepKind::Approval => "approval",
            StepKind::Map => "map",
            StepKind::Workflow => "workflow",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    #[default]
    FailRun,
    /// The run goes on; dependents see `steps.<id>.status` = failed and a null output.
    Continue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: StepKind,
    /// A registered agent, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Any registered agent with this capability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// An agent built into Skein: echo, template, transform, decision, http, llm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<String>,
    /// The builtin's settings (e.g. the jq program of `transform`).
    #[serde(rename = "with", default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// A template for what the agent receives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// Steps that must finish first. When absent, inferred from the input's references.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// How long one attempt may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
    #[serde(default)]
    pub on_failure: OnFailure,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<MapSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<SubWorkflow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, including the first.
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles (times `backoff_rate`) each time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<HumanDuration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSpec {
    /// What the approver is asked; a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Value>,
    /// Principals (client or agent ids) who may decide; any operator or admin when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignees: Vec<String>,
    /// Undecided after this long, the step fails with `Skein.ApprovalTimedOut`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapSpec {
    /// A reference to the list, e.g. `{{ steps.search.output.urls }}`.
    pub over: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// How many items may fail, as a count (`2`) or a percentage (`"10%"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerated_failures: Option<Tolerance>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Tolerance {
    Count(u32),
    Percentage(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubWorkflow {
    pub name: String,
    /// Pinned version; the latest at run start when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

impl Step {
    /// The effective `max_attempts` (1 without a retry policy).
    pub fn max_attempts(&self) -> u32 {
        self.retry.as_ref().map_or(1, |r| r.max_attempts.max(1))
    }
}
