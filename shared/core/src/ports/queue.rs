//! A message queue with SQS semantics: at-least-once delivery, a visibility timeout
//! while a consumer works, explicit delete, and a dead-letter queue after N receives.

use std::time::Duration;

use async_trait::async_trait;

/// The limits SQS imposes, kept everywhere so that code that runs locally runs on AWS.
pub const MAX_BATCH: usize = 10;
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub body: String,
    pub delay: Duration,
}

impl OutgoingMessage {
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub id: String,
    pub body: String,
    /// Hands the message back to the queue for delete or a visibility change.
    pub receipt: String,
    /// 1 on first delivery; a consumer can tell a redelivery.
    pub receive_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("a batch holds 1 to {max} messages; got {got}")]
    BadBatch { got: usize, max: usize },
    #[error("message body is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("the receipt is unknown or no longer valid")]
    StaleReceipt,
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

/// How many messages a queue holds (visible, delayed and in flight), and how long the
/// oldest has waited, where the queue can say (SQS publishes that as a metric instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueDepth {
    pub messages: u64,
    pub oldest: Option<Duration>,
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Returns the new messages' ids, in order.
    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError>;

    /// Up to `max` visible messages, hidden from other consumers for `visibility`.
    /// Waits up to `wait` for the first one (long poll).
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError>;

    async fn delete(&self, receipt: &str) -> Result<(), QueueError>;

    /// Zero makes the message visible again at once (a fast retry).
    async fn change_visibility(
        &self,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError>;

    /// The queue's depth: also how a deep health check sees that the queue answers.
    async fn depth(&self) -> Result<QueueDepth, QueueError>;
}
