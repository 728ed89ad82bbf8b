//! The step-worker function. Its SQS event source brings step messages (standard
//! workflows) and Step Functions "Execution Status Change" events (EventBridge routes them
//! to the same queue), and it reports per-message failures so that only those come back.
//! Express workflows invoke it directly with one step message and get the step's output,
//! or an error whose name ASL Retry and Catch match (`Skein.AgentFailed`, ...).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use skein_core::Platform;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use skein_core::ports::{EngineError, ExecutionEnded, ExecutionStatus, WorkflowEngine};
use skein_core::runs::{StepMessage, running_elsewhere};
use skein_core::workflows::compile::StepErrorName;

use crate::AwsPlatform;

/// EventBridge's name for Step Functions' execution events.
pub const EXECUTION_STATUS_CHANGE: &str = "Step Functions Execution Status Change";

/// The `detail` of an execution status change.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionChange {
    pub name: String,
    pub status: String,
    /// The execution's input, as a JSON string.
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
}

/// An express step that failed: its name is what the state's Retry and Catch see.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {cause}")]
pub struct StepFailed {
    pub name: String,
    pub cause: String,
}

impl From<StepFailed> for Diagnostic {
    fn from(failed: StepFailed) -> Diagnostic {
        Diagnostic {
            error_type: failed.name,
            error_message: failed.cause,
        }
    }
}

#[derive(Clone)]
pub struct StepWorker {
    platform: Platform,
    engine: Arc<dyn WorkflowEngine>,
    /// On this receive, a step the worker still cannot handle is failed instead of left.
    max_receives: u32,
}

/// Time kept back from the invocation's deadline to report the batch: a message still
/// running then is reported failed (SQS brings it back) instead of failing the batch.
const REPORT_MARGIN: Duration = Duration::from_secs(2);

/// What became of one SQS message.
enum Outcome {
    Done,
    /// Leave it on the queue: it comes back after its visibility timeout, and goes to
    /// the dead-letter queue after the queue's maximum receives.
    Again(String),
}

impl StepWorker {
    pub fn new(aws: &AwsPlatform) -> Self {
        Self {
            platform: aws.platform.clone(),
            engine: aws.workflow_engine.clone(),
            max_receives: aws.step_max_receives,
        }
    }

    /// One invocation: an SQS batch, or an express step. `deadline` is when the
    /// invocation times out.
    pub async fn handle(
        &self,
        event: Value,
        deadline: Option<Instant>,
    ) -> Result<Value, StepFailed> {
        if event.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(event).map_err(|e| StepFailed {
                name: StepErrorName::Internal.into(),
                cause: format!("not an SQS event: {e}"),
            })?;
            let report_by = deadline.map(|d| d.checked_sub(REPORT_MARGIN).unwrap_or(d));
            let response = self.handle_batch_until(batch, report_by).await;
            return Ok(serde_json::to_value(response).unwrap_or_default());
        }
        let message: StepMessage = serde_json::from_value(event).map_err(|e| StepFailed {
            name: StepErrorName::Internal.into(),
            cause: format!("not a step message: {e}"),
        })?;
        match self.platform.runs.run_step_now(message).await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(failure)) => Err(StepFailed {
                name: failure.error,
                cause: failure.cause,
            }),
            Err(e) => {
                tracing::error!(error = %e, "an express step could not run");
                Err(StepFailed {
                    name: StepErrorName::Internal.into(),
                    cause: "the platform could not run this step".into(),
                })
            }
        }
    }

    /// Every message of the batch at once; the failed ones are reported by id.
    pub async fn handle_batch(&self, batch: SqsEvent) -> SqsBatchResponse {
        self.handle_batch_until(batch, None).await
    }

    /// Every message of the batch at once, each in a task of its own, so that one that
    /// panics fails only itself; one still running at `report_by` is reported failed (and
    /// stopped) so that the others' success is reported in time.
    pub async fn handle_batch_until(
        &self,
        batch: SqsEvent,
        report_by: Option<Instant>,
    ) -> SqsBatchResponse {
        let tasks: Vec<_> = batch
            .records
            .iter()
            .map(|message| {
                let (worker, message) = (self.clone(), message.clone());
                tokio::spawn(async move { worker.handle_message(&message).await })
            })
            .collect();
        let mut response = SqsBatchResponse::default();
        for (message, mut task) in batch.records.iter().zip(tasks) {
            let finished = match report_by {
                Some(at) => tokio::time::timeout_at(at.into(), &mut task).await.ok(),
                None => Some((&mut task).await),
            };
            let outcome = match finished {
                Some(Ok(outcome)) => outcome,
                Some(Err(crashed)) => Outcome::Again(format!("its handling crashed: {crashed}")),
                None => {
                    task.abort();
                    Outcome::Again("still running when the invocation had to report".into())
                }
            };
            if let Outcome::Again(reason) = outcome {
                tracing::warn!(message = ?message.message_id, reason, "message left for redelivery");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message.message_id.clone().unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    async fn handle_message(&self, message: &SqsMessage) -> Outcome {
        let body = message.body.as_deref().unwrap_or_default();
        let value: Value = match serde_json::from_str(body) {
            Ok(value) => value,
            Err(e) => return Outcome::Again(format!("the body is not JSON: {e}")),
        };
        if value.get("detail-type").is_some() {
            return self.execution_changed(value).await;
        }
        let receives = message
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        match serde_json::from_value::<StepMessage>(value) {
            Ok(step) => self.step(step, receives).await,
            Err(e) => Outcome::Again(format!("not a step message: {e}")),
        }
    }

    async fn step(&self, message: StepMessage, receives: u32) -> Outcome {
        let token = message.token.clone();
        let (name, cause) = match self.platform.runs.handle_step(message).await {
            Ok(()) => return Outcome::Done,
            // SQS brings it back after its visibility timeout; the step's idempotency
            // key keeps the redelivery from doing its work twice.
            // A step running on another worker is waited for, however often it comes
            // back: the queue's visibility timeout outlasts the step's lease.
            Err(e)
                if e.is_transient() && (receives < self.max_receives || running_elsewhere(&e)) =>
            {
                return Outcome::Again(e.to_string());
            }
            // Tried as often as the deployment allows: fail the step rather than leave
            // the run waiting on a message in the DLQ.
            Err(e) if e.is_transient() => {
                tracing::error!(error = %e, receives, "a step the worker could not run in time");
                let cause = format!(
                    "the platform could not run this step in {receives} tries: {}",
                    e.step_cause()
                );
                (StepErrorName::Internal.as_str(), cause)
            }
            // Fails the same way every time: fail the step so the run moves on.
            Err(e) => {
                tracing::error!(error = %e, "a step the worker cannot run");
                (e.step_error_name().as_str(), e.step_cause())
            }
        };
        let Some(token) = token else {
            return Outcome::Done;
        };
        // Until the engine hears of it the run waits: keep the message if not.
        match self.engine.send_task_failure(&token, name, &cause).await {
            Ok(()) | Err(EngineError::TaskDoesNotExist) => Outcome::Done,
            Err(e) => Outcome::Again(format!("could not fail the step's task: {e}")),
        }
    }

    async fn execution_changed(&self, value: Value) -> Outcome {
        let event: EventBridgeEvent<ExecutionChange> = match serde_json::from_value(value) {
            Ok(event) => event,
            Err(e) => return Outcome::Again(format!("not an execution status change: {e}")),
        };
        if event.detail_type != EXECUTION_STATUS_CHANGE {
            return Outcome::Again(format!("unexpected event `{}`", event.detail_type));
        }
        let Some(ended) = execution_ended(event.detail) else {
            return Outcome::Done; // RUNNING: nothing to record
        };
        match self.platform.runs.execution_ended(ended).await {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Again(e.to_string()),
        }
    }
}

/// How the execution ended, or `None` while it runs.
pub fn execution_ended(change: ExecutionChange) -> Option<ExecutionEnded> {
    let status = match change.status.as_str() {
        "SUCCEEDED" => ExecutionStatus::Succeeded,
        "FAILED" => ExecutionStatus::Failed,
        "TIMED_OUT" => ExecutionStatus::TimedOut,
        "ABORTED" => ExecutionStatus::Aborted,
        _ => return None,
    };
    Some(ExecutionEnded {
        run: change.name,
        input: change
            .input
            .as_deref()
            .and_then(|i| serde_json::from_str(i).ok())
            .unwrap_or(Value::Null),
        status,
        error: change.error,
        cause: change.cause,
    })
}

/// Runs the step-worker function.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    crate::init_tracing();
    let aws = AwsPlatform::from_env(crate::builtins, crate::no_tokens)?;
    let worker = StepWorker::new(&aws);
    let worker = &worker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        crate::metrics::flushed(worker.handle(event.payload, deadline_of(&event.context))).await
    }))
    .await
}

/// The invocation's deadline (Unix ms in the context) as an instant on this clock.
fn deadline_of(context: &lambda_runtime::Context) -> Option<Instant> {
    let deadline = UNIX_EPOCH + Duration::from_millis(context.deadline);
    let left = deadline.duration_since(SystemTime::now()).ok()?;
    Some(Instant::now() + left)
}
