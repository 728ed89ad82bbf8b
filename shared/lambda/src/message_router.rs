//! The message-router function: SQS batches from the messages queue, each message routed
//! into inboxes (or to the run waiting for it) by the same logic `skein dev` runs. Failed
//! messages are reported one by one (ReportBatchItemFailures), so only they come back.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use lambda_runtime::{LambdaEvent, service_fn};
use skein_core::message_router::{MessageRouter, RouteError, Routed};

use crate::AwsPlatform;

pub struct MessageRouterFunction {
    router: MessageRouter,
}

impl MessageRouterFunction {
    pub fn new(aws: &AwsPlatform) -> Self {
        Self {
            router: aws.platform.message_router(),
        }
    }

    /// Routes the whole batch at once and names the messages that must come back.
    pub async fn handle_batch(&self, batch: SqsEvent) -> SqsBatchResponse {
        let outcomes = join_all(batch.records.iter().map(|m| self.route(m))).await;
        let mut response = SqsBatchResponse::default();
        for (message, outcome) in batch.records.iter().zip(outcomes) {
            if let Err(e) = outcome {
                tracing::warn!(message = ?message.message_id, error = %e, "message left for redelivery");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message.message_id.clone().unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    async fn route(&self, message: &SqsMessage) -> Result<Routed, RouteError> {
        let receives = message
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let body = message.body.as_deref().unwrap_or_default();
        self.router.route(body, receives).await
    }
}

pub async fn run() -> Result<(), lambda_runtime::Error> {
    crate::init_tracing();
    let aws = AwsPlatform::from_env(crate::no_builtins, crate::no_tokens)?;
    let function = MessageRouterFunction::new(&aws);
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let routed = crate::metrics::flushed(function.handle_batch(event.payload)).await;
        Ok::<_, std::convert::Infallible>(routed)
    }))
    .await
}
