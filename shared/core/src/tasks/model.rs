use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, FieldErrors, Result};
use crate::ids::{AgentId, Capability, LeaseId, PrincipalId, RunId, TaskId, TenantId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TaskStatus {
    /// Waiting for an agent to claim it.
    Queued,
    /// Held by an agent under a lease.
    Claimed,
    Succeeded,
    /// The agent reported failure with no attempts left, or leases kept expiring.
    Failed,
    /// Nobody claimed it before its deadline.
    Expired,
}

impl TaskStatus {
    /// The status's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Claimed => "claimed",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Expired => "expired",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Expired
        )
    }
}

/// Who may claim the task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TaskTarget {
    Agent(AgentId),
    Capability(Capability),
}

impl TaskTarget {
    /// The claim queue this task waits in; matches `Agent::claim_targets`.
    pub fn queue(&self) -> String {
        match self {
            TaskTarget::Agent(id) => format!("agent:{id}"),
            TaskTarget::Capability(c) => format!("capability:{c}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lease {
    pub id: LeaseId,
    pub agent: AgentId,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskError {
    /// A short machine-readable reason, e.g. `timeout` or `lease_expired`.
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Task {
    pub id: TaskId,
    pub tenant: TenantId,
    pub target: TaskTarget,
    pub status: TaskStatus,
    pub input: Value,
    pub result: Option<Value>,
    pub error: Option<TaskError>,
    pub attempts: u32,
    pub max_attempts: u32,
    /// How long one claim lasts without a heartbeat.
    pub timeout_seconds: u32,
    /// An unclaimed task expires at this time.
    pub deadline: Option<DateTime<Utc>>,
    pub lease: Option<Lease>,
    /// The agent that holds or last held the task.
    pub claimed_by: Option<AgentId>,
    pub created_by: PrincipalId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it (re)entered the queue; claimers take the oldest first.
    pub available_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Set when a workflow step created the task: finishing it finishes the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<TaskOrigin>,
    /// The LLM usage the agent reported when it completed the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::usage::ReportedUsage>,
    /// The W3C `traceparent` of the span that created the task (a run's step, or the
    /// request): an agent that traces makes its work a child of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// The run step (or map item) a task does the work of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskOrigin {
    pub run: RunId,
    pub step: String,
    /// The step's retry count (0 on the first try).
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// Set once the run heard that the task ended. Until then a finished task keeps a
    /// timer, so the sweep tells the run again if the first report was lost.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reported: bool,
}

impl Task {
    /// A finished task whose run step was not yet told.
    pub fn awaits_report(&self) -> bool {
        self.status.is_terminal() && self.origin.as_ref().is_some_and(|o| !o.reported)
    }

    /// Whether `agent` may see and act on this task.
    pub fn belongs_to(&self, agent: &AgentId) -> bool {
        self.target == TaskTarget::Agent(agent.clone()) || self.claimed_by.as_ref() == Some(agent)
    }
}

pub const MAX_INPUT_BYTES: usize = 256 * 1024;
pub const MAX_RESULT_BYTES: usize = 256 * 1024;
const MAX_TIMEOUT_SECONDS: u32 = 12 * 3600;
const MAX_ATTEMPTS: u32 = 100;
const MAX_TTL_SECONDS: u32 = 30 * 24 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewTask {
    /// The agent that must do the task; give this or `capability`, not both.
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub agent: Option<AgentId>,
    /// Any agent with this capability may do the task; give this or `agent`, not both.
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub capability: Option<Capability>,
    #[serde(default)]
    pub input: Value,
    #[serde(
        default = "default_timeout",
        deserialize_with = "crate::whole_number::deserialize"
    )]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 43200))]
    pub timeout_seconds: u32,
    #[serde(
        default = "default_attempts",
        deserialize_with = "crate::whole_number::deserialize"
    )]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100))]
    pub max_attempts: u32,
    /// Seconds the task may wait unclaimed before it expires; none means forever.
    #[serde(default, deserialize_with = "crate::whole_number::option::deserialize")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2592000))]
    pub ttl_seconds: Option<u32>,
}

fn default_timeout() -> u32 {
    300
}

fn default_attempts() -> u32 {
    3
}

impl NewTask {
    pub fn validate(&self) -> Result<TaskTarget> {
        let size = json_size(&self.input);
        if size > MAX_INPUT_BYTES {
            return Err(Error::PayloadTooLarge(format!(
                "the task input is {size} bytes; the limit is {MAX_INPUT_BYTES}: store large data elsewhere and pass a reference"
            )));
        }
        let mut errors = FieldErrors::default();
        errors.check(
            (1..=MAX_TIMEOUT_SECONDS).contains(&self.timeout_seconds),
            "$.timeout_seconds",
            || format!("timeout_seconds must be between 1 and {MAX_TIMEOUT_SECONDS}"),
        );
        errors.check(
            (1..=MAX_ATTEMPTS).contains(&self.max_attempts),
            "$.max_attempts",
            || format!("max_attempts must be between 1 and {MAX_ATTEMPTS}"),
        );
        if let Some(ttl) = self.ttl_seconds {
            errors.check(
                (1..=MAX_TTL_SECONDS).contains(&ttl),
                "$.ttl_seconds",
                || format!("ttl_seconds must be between 1 and {MAX_TTL_SECONDS}"),
            );
        }
        let target = match (&self.agent, &self.capability) {
            (Some(agent), None) => Some(TaskTarget::Agent(agent.clone())),
            (None, Some(capability)) => Some(TaskTarget::Capability(capability.clone())),
            (Some(_), Some(_)) => {
                errors.push(
                    "$.capability",
                    "give either `agent` or `capability`, not both",
                );
                None
            }
            (None, None) => {
                errors.push(
                    "$.agent",
                    "give `agent` (an agent id) or `capability` to say who may claim the task",
                );
                None
            }
        };
        errors.into_result()?;
        target.ok_or_else(|| Error::Internal("validated task has no target".into()))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskCompletion {
    #[serde(default)]
    pub result: Value,
    /// The lease from the claim; when given, a stale lease is refused.
    pub lease_id: Option<LeaseId>,
    /// What the agent's LLM calls for this task used: recorded in the usage ledger and
    /// counted against the run's and the tenant's budgets.
    #[serde(default)]
    pub usage: Option<crate::usage::ReportedUsage>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskFailure {
    pub error: TaskError,
    /// False ends the task now; true (the default) retries while attempts remain.
    #[serde(default = "yes")]
    pub retryable: bool,
    pub lease_id: Option<LeaseId>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    pub agent: Option<AgentId>,
}

impl TaskFilter {
    pub fn matches(&self, task: &Task) -> bool {
        self.status.is_none_or(|s| task.status == s)
            && self.agent.as_ref().is_none_or(|a| task.belongs_to(a))
    }
}

pub fn json_size(value: &Value) -> usize {
    serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
}
