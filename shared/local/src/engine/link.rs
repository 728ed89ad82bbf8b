//! How the engine reaches the platform, wired after both exist (the platform's ports
//! include the engine, and the engine calls back into the platform's step-worker).

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use serde_json::Value;
use skein_core::Platform;
use skein_core::ports::{EngineError, ExecutionEnded, StepDispatch, WorkflowEngine};
use skein_core::runs::StepMessage;
use skein_core::workflows::compile::errors;

#[async_trait]
pub trait EngineHooks: Send + Sync {
    /// A standard step's message: handled in the background.
    async fn dispatch(&self, message: StepMessage);
    /// An express step: run to its result. Errors are (error name, cause).
    async fn run_now(&self, message: StepMessage) -> Result<Value, (String, String)>;
    async fn execution_ended(&self, ended: ExecutionEnded);
}

/// The platform seen by the engine, set once the platform is built. It also serves as
/// the platform's [`StepDispatch`]: a step message becomes a spawned step-worker task.
#[derive(Default, Clone)]
pub struct PlatformLink {
    platform: Arc<OnceLock<Platform>>,
    engine: Arc<OnceLock<Arc<dyn WorkflowEngine>>>,
}

impl PlatformLink {
    pub fn connect(&self, platform: Platform, engine: Arc<dyn WorkflowEngine>) {
        let _ = self.platform.set(platform);
        let _ = self.engine.set(engine);
    }

    fn spawn_step(&self, message: StepMessage) {
        let Some(platform) = self.platform.get().cloned() else {
            tracing::error!("a step arrived before the platform was connected");
            return;
        };
        let engine = self.engine.get().cloned();
        tokio::spawn(async move {
            let token = message.token.clone();
            let step = message.step.clone();
            if let Err(e) = platform.runs.handle_step(message).await {
                tracing::error!(step = %step, error = %e, "the step-worker could not run a step; failing it");
                if let (Some(engine), Some(token)) = (engine, token) {
                    let _ = engine
                        .send_task_failure(
                            &token,
                            errors::INTERNAL,
                            "the platform could not run this step; see the server log",
                        )
                        .await;
                }
            }
        });
    }
}

#[async_trait]
impl EngineHooks for PlatformLink {
    async fn dispatch(&self, message: StepMessage) {
        self.spawn_step(message);
    }

    async fn run_now(&self, message: StepMessage) -> Result<Value, (String, String)> {
        let platform = self
            .platform
            .get()
            .ok_or_else(|| (errors::INTERNAL.to_string(), "not connected".to_string()))?;
        match platform.runs.run_step_now(message).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(failure)) => Err((failure.error, failure.cause)),
            Err(e) => Err((errors::INTERNAL.to_string(), e.to_string())),
        }
    }

    async fn execution_ended(&self, ended: ExecutionEnded) {
        let Some(platform) = self.platform.get() else {
            return;
        };
        let run = ended.run.clone();
        if let Err(e) = platform.runs.execution_ended(ended).await {
            tracing::error!(run = %run, error = %e, "could not record the end of a run");
        }
    }
}

#[async_trait]
impl StepDispatch for PlatformLink {
    async fn dispatch(&self, message: StepMessage) -> Result<(), EngineError> {
        self.spawn_step(message);
        Ok(())
    }
}
