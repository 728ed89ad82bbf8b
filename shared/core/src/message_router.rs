//! The message router: one queued message in, its inbox entries (or a run's reply) out.
//! It sits above both messages and runs (a reply goes to the run waiting for it), so
//! neither of them depends on the other through it.
//! The same logic runs in the `message-router` Lambda (SQS batches) and on `skein dev`
//! (the SQLite queue).

use crate::error::Error;
use crate::messages::deliver::Undeliverable;
use crate::messages::{Message, Messages, Recipient};
use crate::runs::Runs;

/// What became of a routed message. Every variant means "delete it from the queue".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// In this many inboxes now (a redelivery finds them there and adds none).
    Delivered { receivers: usize },
    /// A reply handed to the run it was for.
    Replied,
    /// Past its TTL: dropped.
    Expired,
    /// Given up on: kept in the tenant's dead letters.
    DeadLettered,
}

/// Why a message goes back to the queue (a batch item failure).
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// Not a message envelope: no retry helps; the queue's own DLQ takes it.
    #[error("not a message envelope: {0}")]
    Malformed(String),
    /// Delivery failed this time; the queue redelivers it.
    #[error("delivery failed: {0}")]
    Failed(Error),
}

/// Routes messages; built once per process from the platform.
#[derive(Clone)]
pub struct MessageRouter {
    messages: Messages,
    runs: Runs,
}

impl MessageRouter {
    pub fn new(messages: Messages, runs: Runs) -> Self {
        Self { messages, runs }
    }

    /// `receives` is how often the queue has handed this message out (1 the first time):
    /// from the configured maximum on, a failing message becomes a dead letter.
    pub async fn route(&self, body: &str, receives: u32) -> Result<Routed, RouteError> {
        let message: Message =
            serde_json::from_str(body).map_err(|e| RouteError::Malformed(e.to_string()))?;
        let span = tracing::info_span!("route", message = %message.id, tenant = %message.tenant);
        tracing::Instrument::instrument(self.route_message(message, receives), span).await
    }

    async fn route_message(&self, message: Message, receives: u32) -> Result<Routed, RouteError> {
        if message.is_expired(self.messages.ctx.now()) {
            return Ok(Routed::Expired);
        }
        let outcome = match &message.to {
            Recipient::Run { run } => self
                .runs
                .reply_arrived(run, &message)
                .await
                .map(|()| Ok(Routed::Replied)),
            _ => self
                .messages
                .deliver(&message)
                .await
                .map(|delivered| delivered.map(|receivers| Routed::Delivered { receivers })),
        };
        match outcome {
            Ok(Ok(routed)) => Ok(routed),
            Ok(Err(Undeliverable::ReceiverGone(agent))) => {
                let error = format!("agent {agent} no longer exists");
                self.give_up(&message, error, receives).await
            }
            Err(e) if receives >= self.messages.ports.max_receives => {
                self.give_up(&message, e.to_string(), receives).await
            }
            Err(e) => Err(RouteError::Failed(e)),
        }
    }

    async fn give_up(
        &self,
        message: &Message,
        error: String,
        receives: u32,
    ) -> Result<Routed, RouteError> {
        self.messages
            .dead_letter(message, error, receives)
            .await
            .map_err(RouteError::Failed)?;
        crate::metrics::message_dead_lettered();
        Ok(Routed::DeadLettered)
    }
}
