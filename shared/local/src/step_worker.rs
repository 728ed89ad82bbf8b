//! The step-worker of `skein dev`: takes the engine's work from its [`StepInbox`] and
//! runs it on the platform, each piece in its own task, as the step-worker Lambda does
//! with its SQS batches and invokes on AWS. A step that fails for a passing reason is
//! delivered again after a pause, as SQS would; one that fails the same way every time
//! fails its step.

use std::sync::Arc;
use std::time::Duration;

use skein_core::Platform;
use skein_core::ports::{EngineError, ExecutionEnded, WorkflowEngine};
use skein_core::runs::StepMessage;
use skein_core::workflows::compile::StepErrorName;

use crate::engine::{EngineWork, StepInbox};

/// Deliveries of one step message before its step is failed (SQS's maxReceiveCount).
pub const STEP_DELIVERIES: u32 = 6;
/// The pause before the first redelivery; it doubles with each one.
const FIRST_REDELIVERY: Duration = Duration::from_millis(50);

/// Runs until every sender is gone.
pub async fn run_step_worker(
    platform: Platform,
    engine: Arc<dyn WorkflowEngine>,
    mut inbox: StepInbox,
) {
    while let Some(work) = inbox.next().await {
        let platform = platform.clone();
        let engine = engine.clone();
        tokio::spawn(async move {
            match work {
                EngineWork::Step(message) => run_step(&platform, engine.as_ref(), message).await,
                EngineWork::Invoke { message, reply } => {
                    let _ = reply.send(invoke(&platform, message).await);
                }
                EngineWork::Ended(ended, receipt) => {
                    if record_end(&platform, ended).await {
                        receipt.recorded();
                    }
                }
            }
        });
    }
}

async fn run_step(platform: &Platform, engine: &dyn WorkflowEngine, message: StepMessage) {
    let mut pause = FIRST_REDELIVERY;
    for delivery in 1..=STEP_DELIVERIES {
        let error = match platform.runs.handle_step(message.clone()).await {
            Ok(()) => return,
            Err(error) => error,
        };
        if error.is_transient() && delivery < STEP_DELIVERIES {
            tracing::warn!(step = %message.step, delivery, %error, "step message delivered again shortly");
            tokio::time::sleep(pause).await;
            pause *= 2;
            continue;
        }
        tracing::error!(step = %message.step, delivery, %error, "the step-worker could not run a step; failing it");
        fail_step(
            engine,
            &message,
            error.step_error_name(),
            &error.step_cause(),
        )
        .await;
        return;
    }
}

/// Fails the step through its token, so the run goes on (or ends) instead of waiting.
async fn fail_step(
    engine: &dyn WorkflowEngine,
    message: &StepMessage,
    name: StepErrorName,
    cause: &str,
) {
    let Some(token) = &message.token else {
        return;
    };
    match engine.send_task_failure(token, name.as_str(), cause).await {
        Ok(()) | Err(EngineError::TaskDoesNotExist) => {}
        Err(e) => {
            tracing::error!(step = %message.step, error = %e, "could not fail the step either; it is resumed when skein dev restarts")
        }
    }
}

async fn invoke(
    platform: &Platform,
    message: StepMessage,
) -> Result<serde_json::Value, (String, String)> {
    match platform.runs.run_step_now(message).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(failure)) => Err((failure.error, failure.cause)),
        Err(e) => Err((e.step_error_name().into(), e.step_cause())),
    }
}

/// Records an execution's end on its run; true once there is nothing left to record.
async fn record_end(platform: &Platform, ended: ExecutionEnded) -> bool {
    let run = ended.run.clone();
    let mut pause = FIRST_REDELIVERY;
    for delivery in 1..=STEP_DELIVERIES {
        match platform.runs.execution_ended(ended.clone()).await {
            // A run that no longer exists has nothing to record.
            Ok(()) | Err(skein_core::Error::NotFound { .. }) => return true,
            Err(e) if e.is_transient() && delivery < STEP_DELIVERIES => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(e) => {
                tracing::error!(run = %run, error = %e, "could not record the end of a run; it is sent again when skein dev starts");
                return false;
            }
        }
    }
    false
}
