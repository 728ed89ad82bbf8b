//! Step messages onto the step queue: how the step-worker wakes a step whose
//! dependencies just finished, in the same shape the compiled ASL sends.

use std::time::Duration;

use async_trait::async_trait;
use skein_core::ports::{EngineError, OutgoingMessage, Queue, StepDispatch};
use skein_core::runs::StepMessage;

use crate::SqsQueue;

pub struct StepQueue {
    queue: SqsQueue,
}

impl StepQueue {
    pub fn new(queue: SqsQueue) -> Self {
        Self { queue }
    }
}

#[async_trait]
impl StepDispatch for StepQueue {
    async fn dispatch(&self, message: StepMessage) -> Result<(), EngineError> {
        let body = serde_json::to_string(&message)
            .map_err(|e| EngineError::Unavailable(format!("step message: {e}")))?;
        self.queue
            .send_batch(vec![OutgoingMessage {
                body,
                delay: Duration::ZERO,
            }])
            .await
            .map(drop)
            .map_err(|e| EngineError::Unavailable(e.to_string()))
    }
}
