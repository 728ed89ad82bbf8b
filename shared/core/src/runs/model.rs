//! Runs, their steps, their events and approvals, as stored and as the API shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{PrincipalId, RunId, TaskId, TenantId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
}

impl RunStatus {
    pub fn is_terminal(self) -> bool {
        self != RunStatus::Running
    }

    /// The status as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StepStatus {
    /// Not dispatched yet.
    Pending,
    /// Dispatched; waiting for its dependencies.
    Waiting,
    Running,
    /// An approval step waiting for a person.
    AwaitingApproval,
    Succeeded,
    Failed,
    Cancelled,
}

impl StepStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            StepStatus::Succeeded | StepStatus::Failed | StepStatus::Cancelled
        )
    }
}

/// An error as a run or step reports it: a stable name (Retry/Catch match it) and a cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunError {
    pub error: String,
    pub cause: String,
}

/// Set on a run started as another run's `workflow` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParentStep {
    pub run: RunId,
    pub step: String,
    /// How many parents the child run has: 1 under a top-level run.
    #[serde(default)]
    pub depth: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Run {
    pub id: RunId,
    pub tenant: TenantId,
    pub workflow: String,
    pub version: u32,
    pub status: RunStatus,
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RunError>,
    pub started_by: PrincipalId,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentStep>,
    /// What the run may spend on LLM calls (its workflow version's `budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::usage::Budget>,
    /// The W3C `traceparent` of the request (or parent step) that started the run: every
    /// step's span joins that trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// One try of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attempt {
    /// 1 for the first try.
    pub number: u32,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RunError>,
}

/// A step of a run, as stored. `token` is the engine's task token: never shown.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StepRecord {
    #[serde(default)]
    pub token: Option<String>,
    /// The retry count (0 first) of the dispatch that left `token`.
    #[serde(default)]
    pub token_attempt: Option<u32>,
    #[serde(default)]
    pub started_attempt: Option<u32>,
    /// Which worker instance started it: a restarted worker re-runs what it finds running.
    #[serde(default)]
    pub started_by: Option<String>,
    #[serde(default)]
    pub status: Option<StepStatus>,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    #[serde(default)]
    pub input: Option<Value>,
    /// Set instead of `input` when the input is large (`values.rs`).
    #[serde(default)]
    pub input_apart: Option<super::values::Apart>,
    #[serde(default)]
    pub output: Option<Value>,
    #[serde(default)]
    pub output_apart: Option<super::values::Apart>,
    #[serde(default)]
    pub error: Option<RunError>,
    #[serde(default)]
    pub queued_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    /// The remote agent's task for the current attempt.
    #[serde(default)]
    pub task: Option<TaskId>,
    /// The sub-workflow's run.
    #[serde(default)]
    pub child_run: Option<RunId>,
    #[serde(default)]
    pub items_total: Option<u32>,
}

/// A step as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: crate::workflows::StepKind,
    pub status: StepStatus,
    pub depends_on: Vec<String>,
    pub attempts: Vec<Attempt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RunError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_run: Option<RunId>,
    /// Map steps: how many items, and how many ended each way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<ItemCounts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemCounts {
    pub total: u32,
    pub succeeded: u32,
    pub failed: u32,
}

/// A run with every step, for `GET /v1/runs/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunView {
    #[serde(flatten)]
    pub run: Run,
    pub steps: Vec<StepView>,
}

/// Something that happened in a run; the SSE stream sends these in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunEvent {
    /// Sortable and unique; resume a stream after it with `Last-Event-ID`.
    pub id: String,
    /// e.g. `run.started`, `step.started`, `step.succeeded`, `approval.requested`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
}

impl RunEvent {
    /// Whether this event ends the run's stream: the run succeeded, failed, timed out or
    /// was cancelled (`run.started` and `run.cancelling` do not end it).
    pub fn ends_run(&self) -> bool {
        ends_run(&self.kind)
    }
}

/// Whether an event of this type ends its run's stream (for relays that see only the type).
pub fn ends_run(kind: &str) -> bool {
    kind.starts_with("run.") && !matches!(kind, "run.started" | "run.cancelling")
}

/// A person's decision an approval step waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Approval {
    pub run: RunId,
    pub step: String,
    pub workflow: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Value>,
    /// Empty: any admin or operator may decide.
    pub assignees: Vec<String>,
    pub requested_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing, default)]
    pub token: String,
    #[serde(skip_serializing, default)]
    pub attempt: u32,
}

pub use crate::steps::StepMessage;
