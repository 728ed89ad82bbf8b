//! The step-worker of `skein dev`: takes the engine's work from its [`StepInbox`] and
//! runs it on the platform, each piece in its own task, as the step-worker Lambda does
//! with its SQS batches and invokes on AWS.

use std::sync::Arc;

use skein_core::Platform;
use skein_core::ports::{ExecutionEnded, WorkflowEngine};
use skein_core::runs::StepMessage;
use skein_core::workflows::compile::StepErrorName;

use crate::engine::{EngineWork, StepInbox};

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
                EngineWork::Ended(ended) => record_end(&platform, ended).await,
            }
        });
    }
}

/// A step the platform could not run at all fails through its token, as the Lambda
/// reports a batch item failure, so the run goes on instead of waiting for an answer.
async fn run_step(platform: &Platform, engine: &dyn WorkflowEngine, message: StepMessage) {
    let token = message.token.clone();
    let step = message.step.clone();
    let Err(e) = platform.runs.handle_step(message).await else {
        return;
    };
    tracing::error!(step = %step, error = %e, "the step-worker could not run a step; failing it");
    let Some(token) = token else {
        return;
    };
    let cause = format!("the platform could not run this step: {e}");
    if let Err(e) = engine
        .send_task_failure(&token, StepErrorName::Internal.as_str(), &cause)
        .await
    {
        // The step's heartbeat will time it out; the run still ends.
        tracing::error!(step = %step, error = %e, "could not fail the step either");
    }
}

async fn invoke(
    platform: &Platform,
    message: StepMessage,
) -> Result<serde_json::Value, (String, String)> {
    match platform.runs.run_step_now(message).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(failure)) => Err((failure.error, failure.cause)),
        Err(e) => Err((StepErrorName::Internal.into(), e.to_string())),
    }
}

async fn record_end(platform: &Platform, ended: ExecutionEnded) {
    let run = ended.run.clone();
    if let Err(e) = platform.runs.execution_ended(ended).await {
        // The sweep's run reconciler finishes it from the engine's record.
        tracing::error!(run = %run, error = %e, "could not record the end of a run");
    }
}
