//! The queue contract suite, unchanged, against the SQS adapter on a real moto server.

use skein_aws::moto as support;

use std::sync::Arc;

use skein_aws::SqsQueue;
use skein_core::contract::queue::QueueFixture;

const MAX_RECEIVES: u32 = 3;

/// A fresh queue whose redrive policy moves a message to its own dead-letter queue
/// after `MAX_RECEIVES` receives.
async fn fresh() -> ((), QueueFixture) {
    let client = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let name = support::unique("work");
    let urls = skein_aws::provision::create_queue(&client, &name, MAX_RECEIVES, 30)
        .await
        .unwrap();
    let fixture = QueueFixture {
        queue: Arc::new(SqsQueue::new(client.clone(), urls.url)),
        dead_letters: Arc::new(SqsQueue::new(client, urls.dead_letters)),
        max_receives: MAX_RECEIVES,
    };
    ((), fixture)
}

skein_core::queue_contract!(fresh().await);
