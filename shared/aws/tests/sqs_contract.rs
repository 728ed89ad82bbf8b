//! The queue contract suite, unchanged, against the SQS adapter on a real moto server.

mod support;

use std::sync::Arc;

use skein_aws::SqsQueue;
use skein_core::contract::queue::QueueFixture;

const MAX_RECEIVES: u32 = 3;

/// A fresh queue whose redrive policy moves a message to its own dead-letter queue
/// after `MAX_RECEIVES` receives.
async fn fresh() -> ((), QueueFixture) {
    let client = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let name = support::unique("work");
    let dlq = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap();
    let dlq_url = dlq.queue_url.unwrap();
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let redrive =
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{MAX_RECEIVES}"}}"#);
    let queue = client
        .create_queue()
        .queue_name(&name)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            redrive,
        )
        .send()
        .await
        .unwrap();
    let fixture = QueueFixture {
        queue: Arc::new(SqsQueue::new(client.clone(), queue.queue_url.unwrap())),
        dead_letters: Arc::new(SqsQueue::new(client, dlq_url)),
        max_receives: MAX_RECEIVES,
    };
    ((), fixture)
}

skein_core::queue_contract!(fresh().await);
