//! The test as the AWS services around the functions: Lambda's SQS event source (receive,
//! hand a batch to the step-worker, delete what it did not report failed) and EventBridge
//! (an execution's status change, onto the step queue).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::{Value, json};
use skein_lambda::message_router::MessageRouterFunction;
use skein_lambda::step_worker::StepWorker;

use super::{Cloud, sample};

impl Cloud {
    /// Receives what the step queue holds now, as Lambda's event source would.
    pub async fn receive(&self) -> Vec<SqsMessage> {
        self.receive_up_to(10).await
    }

    pub async fn receive_up_to(&self, max: i32) -> Vec<SqsMessage> {
        self.receive_from(&self.step_queue, max, 2).await
    }

    /// Up to `max` messages of `queue`, hidden for `visibility` seconds, as Lambda's SQS
    /// event source hands them over.
    pub async fn receive_from(&self, queue: &str, max: i32, visibility: i32) -> Vec<SqsMessage> {
        self.receive_waiting(queue, max, visibility, 1).await
    }

    /// As `receive_from`, waiting up to `wait` seconds for a message (0: answer at once).
    pub async fn receive_waiting(
        &self,
        queue: &str,
        max: i32,
        visibility: i32,
        wait: i32,
    ) -> Vec<SqsMessage> {
        let received = aws_sdk_sqs::Client::new(&self.sdk)
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(max)
            .wait_time_seconds(wait)
            .visibility_timeout(visibility)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        received
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let mut message = SqsMessage::default();
                message.message_id = m.message_id;
                message.receipt_handle = m.receipt_handle;
                message.body = m.body;
                message.attributes = m
                    .attributes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_string(), v))
                    .collect::<HashMap<_, _>>();
                message.event_source = Some("aws:sqs".into());
                message
            })
            .collect()
    }

    /// Hands messages to a step-worker and deletes the ones it did not report failed.
    /// Returns the ids of the failed ones.
    pub async fn deliver(&self, worker: &StepWorker, messages: Vec<SqsMessage>) -> Vec<String> {
        self.invocations.fetch_add(1, Ordering::SeqCst);
        self.messages.fetch_add(messages.len(), Ordering::SeqCst);
        let mut event = SqsEvent::default();
        event.records = messages.clone();
        let response = worker.handle_batch(event).await;
        let failed: Vec<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        for message in messages {
            if !failed.contains(message.message_id.as_ref().unwrap()) {
                sqs.delete_message()
                    .queue_url(&self.step_queue)
                    .receipt_handle(message.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        failed
    }

    /// Hands messages-queue records to the message-router and deletes the ones it did not
    /// report failed, as Lambda's event source does. Returns the ids of the failed ones.
    pub async fn route(
        &self,
        router: &MessageRouterFunction,
        records: Vec<SqsMessage>,
    ) -> Vec<String> {
        let mut event = SqsEvent::default();
        event.records = records.clone();
        let failed: Vec<String> = router
            .handle_batch(event)
            .await
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        for record in records {
            if !failed.contains(record.message_id.as_ref().unwrap()) {
                sqs.delete_message()
                    .queue_url(&self.message_queue)
                    .receipt_handle(record.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        failed
    }

    /// Puts the execution's status change on the step queue, as the EventBridge rule does.
    pub async fn report_end(&self, machine: &str, run: &str) -> bool {
        let state = match self.aws.engine.describe(machine, run).await {
            Ok(state) => state,
            // No execution by that name (yet): nothing ended.
            Err(skein_core::ports::EngineError::NotFound(_)) => return false,
            Err(e) => panic!("describe {run}: {e}"),
        };
        let Some(ended) = state.ended else {
            return false;
        };
        let mut event = sample("step-worker/execution-ended.json");
        let mut change: Value =
            serde_json::from_str(event["Records"][0]["body"].as_str().unwrap()).unwrap();
        let status = format!("{:?}", ended.status).to_uppercase();
        change["detail"]["name"] = json!(run);
        change["detail"]["status"] = json!(status.replace("TIMEDOUT", "TIMED_OUT"));
        change["detail"]["input"] = json!(ended.input.to_string());
        change["detail"]["error"] = json!(ended.error);
        change["detail"]["cause"] = json!(ended.cause);
        event = change;
        aws_sdk_sqs::Client::new(&self.sdk)
            .send_message()
            .queue_url(&self.step_queue)
            .message_body(event.to_string())
            .send()
            .await
            .unwrap();
        true
    }

    /// Plays SQS and EventBridge until `done` holds for the run (or 60 s pass).
    pub async fn drive_until(&self, run: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let worker = StepWorker::new(&self.aws);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut reported = false;
        loop {
            let view = self.run(run).await;
            if done(&view) {
                return view;
            }
            assert!(
                Instant::now() < deadline,
                "{run} never got {what}: {view:#}"
            );
            let messages = self.receive().await;
            if !messages.is_empty() {
                self.deliver(&worker, messages).await;
            } else if !reported {
                let machine = self
                    .machine(view["workflow"].as_str().unwrap(), &view["version"])
                    .await;
                reported = self.report_end(&machine, run).await;
            }
        }
    }

    pub async fn drive_to_end(&self, run: &str) -> Value {
        self.drive_until(run, "to an end", |r| {
            !matches!(r["status"].as_str(), Some("running" | "queued" | "pending"))
        })
        .await
    }
}
