//! The workflow engine: Step Functions on AWS, skein-asl with SQLite checkpoints locally.
//! Both run the same compiled ASL.

use async_trait::async_trait;
use serde_json::Value;

use crate::steps::{Mode, StepMessage};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The token's task already finished, timed out, or its execution ended.
    #[error("the task token is unknown or its task already ended")]
    TaskDoesNotExist,
    #[error("no execution or state machine named {0}")]
    NotFound(String),
    #[error("the engine refused the definition: {0}")]
    InvalidDefinition(String),
    /// A state machine of that name exists with another definition; it is never replaced.
    #[error("state machine {0} already exists with another definition")]
    Conflict(String),
    #[error("engine unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait WorkflowEngine: Send + Sync {
    /// Makes `asl` runnable under `machine` (one state machine per workflow version).
    /// Registering the same machine again with the same definition is a no-op; with
    /// another definition it is `EngineError::Conflict`, and the existing one stands.
    async fn register(&self, machine: &str, mode: Mode, asl: &Value) -> Result<(), EngineError>;

    /// Starts an execution named `run`. Starting a name that already exists is a no-op,
    /// which makes starting a run idempotent.
    async fn start(&self, machine: &str, run: &str, input: &Value) -> Result<(), EngineError>;

    /// Stops the execution of `run` (of state machine `machine`).
    async fn stop(
        &self,
        machine: &str,
        run: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), EngineError>;

    async fn send_task_success(&self, token: &str, output: &Value) -> Result<(), EngineError>;

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), EngineError>;

    /// One cheap call that shows the engine answers (a deep health check).
    async fn probe(&self) -> Result<(), EngineError>;
}

/// Hands a step message to the step-worker: an SQS send on AWS, a spawned task locally.
/// The worker also uses it to wake a step whose dependencies just finished.
#[async_trait]
pub trait StepDispatch: Send + Sync {
    async fn dispatch(&self, message: StepMessage) -> Result<(), EngineError>;
}

/// How an execution ended, as the engine reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionEnded {
    pub run: String,
    pub input: Value,
    pub status: ExecutionStatus,
    pub error: Option<String>,
    pub cause: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    /// The status Step Functions names `name`.
    pub fn parse(name: &str) -> Option<ExecutionStatus> {
        [
            ExecutionStatus::Succeeded,
            ExecutionStatus::Failed,
            ExecutionStatus::TimedOut,
            ExecutionStatus::Aborted,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// Step Functions' name for the status (`SUCCEEDED`, `TIMED_OUT`...).
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }
}
