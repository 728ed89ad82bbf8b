//! The queue port on Amazon SQS. Limits are checked before sending, so a refused batch
//! sends nothing and says why, exactly as the SQLite queue does.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{DisplayErrorContext, SdkError};
use aws_sdk_sqs::types::{
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use skein_core::ports::{
    MAX_BATCH, MAX_BODY_BYTES, OutgoingMessage, Queue, QueueDepth, QueueError, ReceivedMessage,
};

/// What sending calls (`SendMessageBatch` is authorized as `sqs:SendMessage`).
pub const SEND_ACTIONS: [&str; 1] = ["sqs:SendMessage"];
/// What receiving, deleting and re-leasing call. On Lambda the event source mapping does
/// this with the function's role (see skein-lambda's deploy needs); `skein dev` and the
/// tests call them directly.
pub const CONSUME_ACTIONS: [&str; 3] = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
];

/// What reading a queue's depth calls (a deep health check).
pub const DEPTH_ACTIONS: [&str; 1] = ["sqs:GetQueueAttributes"];

/// SQS waits at most this long in one receive (long polling).
const MAX_WAIT: Duration = Duration::from_secs(20);
/// SQS's longest delay and visibility timeout.
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }
}

fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> QueueError {
    QueueError::Unavailable(DisplayErrorContext(e).to_string())
}

/// Whole seconds, rounded up, as SQS takes them.
fn seconds(duration: Duration, max: Duration) -> i32 {
    duration.min(max).as_millis().div_ceil(1000) as i32
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError> {
        if messages.is_empty() || messages.len() > MAX_BATCH {
            return Err(QueueError::BadBatch {
                got: messages.len(),
                max: MAX_BATCH,
            });
        }
        let total: usize = messages.iter().map(|m| m.body.len()).sum();
        if total > MAX_BODY_BYTES {
            return Err(QueueError::TooLarge {
                size: total,
                limit: MAX_BODY_BYTES,
            });
        }
        let entries = messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(m.body)
                    .delay_seconds(seconds(m.delay, MAX_DELAY))
                    .build()
                    .map_err(|e| QueueError::Unavailable(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let count = entries.len();
        let sent = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(unavailable)?;
        if let Some(failed) = sent.failed.first() {
            return Err(QueueError::Unavailable(format!(
                "SQS refused message {}: {} {}",
                failed.id,
                failed.code,
                failed.message.clone().unwrap_or_default()
            )));
        }
        let mut ids = vec![String::new(); count];
        for ok in sent.successful {
            if let Ok(i) = ok.id.parse::<usize>()
                && i < count
            {
                ids[i] = ok.message_id;
            }
        }
        Ok(ids)
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let received = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, MAX_BATCH) as i32)
            .visibility_timeout(seconds(visibility, MAX_VISIBILITY))
            .wait_time_seconds(seconds(wait, MAX_WAIT))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(received
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let receive_count = m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                ReceivedMessage {
                    id: m.message_id.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    receipt: m.receipt_handle.unwrap_or_default(),
                    receive_count,
                }
            })
            .collect())
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map(drop)
            .map_err(|e| stale_or_unavailable(e.into_service_error().meta().code(), receipt))
    }

    async fn change_visibility(
        &self,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds(visibility, MAX_VISIBILITY))
            .send()
            .await
            .map(drop)
            .map_err(|e| stale_or_unavailable(e.into_service_error().meta().code(), receipt))
    }

    /// Visible, delayed and in-flight messages, as SQS approximates them. SQS reports
    /// the oldest message's age only as a CloudWatch metric, which the alarms read.
    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        let names = [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ];
        let answer = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(unavailable)?;
        let attributes = answer.attributes();
        let messages = names
            .iter()
            .filter_map(|name| attributes?.get(name)?.parse::<u64>().ok())
            .sum();
        Ok(QueueDepth {
            messages,
            oldest: None,
        })
    }
}

/// SQS names an unusable receipt `ReceiptHandleIsInvalid` (or, for an expired one,
/// `InvalidParameterValue`); anything else is the service being unavailable.
fn stale_or_unavailable(code: Option<&str>, receipt: &str) -> QueueError {
    match code {
        Some("ReceiptHandleIsInvalid" | "InvalidParameterValue" | "MessageNotInflight") => {
            QueueError::StaleReceipt
        }
        other => QueueError::Unavailable(format!(
            "SQS error {} for receipt {}...",
            other.unwrap_or("unknown"),
            receipt.chars().take(12).collect::<String>()
        )),
    }
}
