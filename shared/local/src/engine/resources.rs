//! The resources compiled workflows call: the step queue (task tokens, standard mode) and
//! the step-worker function (direct invoke, express mode). Both hand the step to the
//! engine's [`StepOutbox`].

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use skein_asl::{Resources, TaskCall, TaskError, TaskHandler};
use skein_core::runs::StepMessage;
use skein_core::workflows::compile::{LAMBDA_INVOKE, SEND_WITH_TOKEN, StepErrorName};

use super::outbox::{EngineWork, StepOutbox};
use super::{Running, Tokens, deliver, journal, lock};
use crate::SqliteDb;

pub(super) fn build(
    db: Arc<SqliteDb>,
    running: Running,
    tokens: Tokens,
    outbox: StepOutbox,
) -> Resources {
    let mut resources = Resources::new();
    resources.register(
        SEND_WITH_TOKEN,
        StepQueue {
            db,
            running,
            tokens,
            outbox: outbox.clone(),
        },
    );
    resources.register(LAMBDA_INVOKE, StepFunction { outbox });
    resources
}

fn internal(cause: impl Into<String>) -> TaskError {
    TaskError::new(StepErrorName::Internal.as_str(), cause)
}

/// `sqs:sendMessage.waitForTaskToken`: hands the message to the step-worker, unless the
/// journal already holds this token's result (a resumed execution), which is replayed.
struct StepQueue {
    db: Arc<SqliteDb>,
    running: Running,
    tokens: Tokens,
    outbox: StepOutbox,
}

fn message_from(value: Option<&Value>) -> Result<StepMessage, TaskError> {
    let value = value.cloned().unwrap_or(Value::Null);
    let value = match value {
        Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
        other => other,
    };
    serde_json::from_value(value).map_err(|e| internal(format!("not a step message: {e}")))
}

#[async_trait]
impl TaskHandler for StepQueue {
    async fn call(&self, task: TaskCall) -> Result<Value, TaskError> {
        let token = task
            .task_token
            .clone()
            .ok_or_else(|| internal("the step queue needs .waitForTaskToken"))?;
        let execution = task.execution_name.to_string();
        let live = lock(&self.running).get(&execution).cloned();
        let recorded = match &live {
            Some(live) if !live.resumed => None,
            _ => journal::recorded_result(&self.db, &execution, &token)
                .map_err(|e| internal(e.to_string()))?,
        };
        if let Some(outcome) = recorded {
            if let Some(live) = live {
                let _ = deliver(&live.handle, &token, outcome);
            }
            return Ok(json!({ "MessageId": "replayed" }));
        }
        let mut message = message_from(task.parameters.get("MessageBody"))?;
        message.token = Some(token.clone());
        lock(&self.tokens).insert(token, execution);
        if self.outbox.send(EngineWork::Step(message)).is_err() {
            return stopping().await;
        }
        Ok(json!({ "MessageId": ulid::Ulid::new().to_string() }))
    }
}

/// `lambda:invoke` of the step-worker: runs the step now and returns its result the way
/// Lambda's integration does, under `Payload`.
struct StepFunction {
    outbox: StepOutbox,
}

#[async_trait]
impl TaskHandler for StepFunction {
    async fn call(&self, task: TaskCall) -> Result<Value, TaskError> {
        let message = message_from(task.parameters.get("Payload"))?;
        match self.outbox.invoke(message).await {
            Some(Ok(payload)) => Ok(json!({ "Payload": payload, "StatusCode": 200 })),
            Some(Err((error, cause))) => Err(TaskError::new(error, cause)),
            None => stopping().await,
        }
    }
}

/// The step-worker stopped taking work, which happens only when the process stops: the
/// task records nothing and never returns (the engine is halted next), as if the process
/// had died here, so the execution resumes at the next start and sends the step again.
/// Failing the task instead would fail a run that a restart would have finished.
async fn stopping<T>() -> T {
    tracing::warn!("the step-worker is gone; this step is sent again when the engine next starts");
    std::future::pending().await
}
