//! The message router's consumer loop on `skein dev`: the same routing logic the
//! `message-router` Lambda runs, fed from the durable SQLite messages queue.

use std::sync::Arc;
use std::time::Duration;

use skein_core::message_router::{MessageRouter, RouteError};
use skein_core::ports::{MAX_BATCH, Queue, ReceivedMessage};
use tokio::task::JoinSet;

/// The messages queue's name in the SQLite database, and its dead-letter queue's.
pub const MESSAGES_QUEUE: &str = "messages";
pub const MESSAGES_DEAD_LETTER_QUEUE: &str = "messages-dlq";

/// How long a message being routed stays hidden from other receives.
const VISIBILITY: Duration = Duration::from_secs(30);
/// How long a receive waits for a message (a send wakes it at once).
const WAIT: Duration = Duration::from_secs(20);

/// Routes batches from `queue` until the task is dropped. A failed message comes back
/// after a short, growing delay (`retry_base` × receives); malformed ones wait out their
/// visibility and end in the queue's dead-letter queue.
pub async fn route_messages(router: MessageRouter, queue: Arc<dyn Queue>, retry_base: Duration) {
    loop {
        let batch = match queue.receive(MAX_BATCH, VISIBILITY, WAIT).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the messages queue; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        route_batch(&router, &queue, batch, retry_base).await;
    }
}

/// Routes one batch concurrently; what succeeded is deleted.
pub async fn route_batch(
    router: &MessageRouter,
    queue: &Arc<dyn Queue>,
    batch: Vec<ReceivedMessage>,
    retry_base: Duration,
) {
    let mut routing = JoinSet::new();
    for received in batch {
        let (router, queue) = (router.clone(), queue.clone());
        routing.spawn(async move {
            match router.route(&received.body, received.receive_count).await {
                Ok(routed) => {
                    tracing::debug!(?routed, "message routed");
                    if let Err(e) = queue.delete(&received.receipt).await {
                        tracing::warn!(error = %e, "routed message not deleted; its redelivery changes nothing");
                    }
                }
                Err(RouteError::Malformed(e)) => {
                    tracing::error!(error = %e, id = %received.id, "malformed message; it goes to the dead-letter queue");
                }
                Err(RouteError::Failed(e)) => {
                    tracing::warn!(error = %e, receives = received.receive_count, "message delivery failed; retrying");
                    let delay = retry_base * received.receive_count;
                    let _ = queue.change_visibility(&received.receipt, delay).await;
                }
            }
        });
    }
    while routing.join_next().await.is_some() {}
}
