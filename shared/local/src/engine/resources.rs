//! The resources compiled workflows call: the step queue (task tokens, standard mode) and
//! the step-worker function (direct invoke, express mode). Locally both reach the
//! in-process step-worker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use async_trait::async_trait;
use serde_json::{Value, json};
use skein_asl::{Resources, TaskCall, TaskError, TaskHandler};
use skein_core::runs::StepMessage;
use skein_core::workflows::compile::{LAMBDA_INVOKE, SEND_WITH_TOKEN};

use super::journal;
use super::link::EngineHooks;
use super::{LocalEngine, deliver};
use crate::SqliteDb;

type Hooks = Arc<OnceLock<Arc<dyn EngineHooks>>>;

pub(super) fn build(
    engine: Weak<LocalEngine>,
    db: Arc<SqliteDb>,
    hooks: Hooks,
    tokens: Arc<Mutex<HashMap<String, String>>>,
) -> Resources {
    let mut resources = Resources::new();
    resources.register(
        SEND_WITH_TOKEN,
        StepQueue {
            engine,
            db,
            hooks: hooks.clone(),
            tokens,
        },
    );
    resources.register(LAMBDA_INVOKE, StepFunction { hooks });
    resources
}

/// `sqs:sendMessage.waitForTaskToken`: hands the message to the step-worker, unless the
/// journal already holds this token's result (a resumed execution), which is replayed.
struct StepQueue {
    engine: Weak<LocalEngine>,
    db: Arc<SqliteDb>,
    hooks: Hooks,
    tokens: Arc<Mutex<HashMap<String, String>>>,
}

fn message_from(value: Option<&Value>) -> Result<StepMessage, TaskError> {
    let value = value.cloned().unwrap_or(Value::Null);
    let value = match value {
        Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
        other => other,
    };
    serde_json::from_value(value)
        .map_err(|e| TaskError::new("Skein.Internal", format!("not a step message: {e}")))
}

#[async_trait]
impl TaskHandler for StepQueue {
    async fn call(&self, task: TaskCall) -> Result<Value, TaskError> {
        let token = task.task_token.clone().ok_or_else(|| {
            TaskError::new("Skein.Internal", "the step queue needs .waitForTaskToken")
        })?;
        let execution = task.execution_name.to_string();
        let recorded = journal::recorded_result(&self.db, &execution, &token)
            .map_err(|e| TaskError::new("Skein.Internal", e.to_string()))?;
        if let Some(outcome) = recorded {
            let handle = self.engine.upgrade().and_then(|e| e.handle(&execution));
            if let Some(handle) = handle {
                let _ = deliver(&handle, &token, outcome);
            }
            return Ok(json!({ "MessageId": "replayed" }));
        }
        let mut message = message_from(task.parameters.get("MessageBody"))?;
        message.token = Some(token.clone());
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token, execution);
        let hooks = self.hooks.get().ok_or_else(|| {
            TaskError::new(
                "Skein.Internal",
                "the engine is not connected to a step-worker",
            )
        })?;
        hooks.dispatch(message).await;
        Ok(json!({ "MessageId": ulid::Ulid::new().to_string() }))
    }
}

/// `lambda:invoke` of the step-worker: runs the step now and returns its result the way
/// Lambda's integration does, under `Payload`.
struct StepFunction {
    hooks: Hooks,
}

#[async_trait]
impl TaskHandler for StepFunction {
    async fn call(&self, task: TaskCall) -> Result<Value, TaskError> {
        let message = message_from(task.parameters.get("Payload"))?;
        let hooks = self.hooks.get().ok_or_else(|| {
            TaskError::new(
                "Skein.Internal",
                "the engine is not connected to a step-worker",
            )
        })?;
        match hooks.run_now(message).await {
            Ok(payload) => Ok(json!({ "Payload": payload, "StatusCode": 200 })),
            Err((error, cause)) => Err(TaskError::new(error, cause)),
        }
    }
}
