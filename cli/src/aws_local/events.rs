//! The event sources AWS runs around the functions, played against the local cloud:
//! Lambda's SQS event source mappings (receive a batch, invoke the function with an
//! `SqsEvent`, delete what it did not report failed), the EventBridge rule that puts
//! Step Functions' execution status changes on the step queue, and the scheduler's
//! one-minute tick. The functions are invoked through `cargo lambda watch`'s Lambda API.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::{Value, json};
use skein_lambda::deploy::{QueueKind, Trigger};
use skein_lambda::step_worker::{EXECUTION_STATUS_CHANGE, ExecutionChange};

use super::AwsLocalError;
use super::provision::{ACCOUNT, Provisioned, REGION};

/// How long a batch whose function could not be invoked stays hidden: Lambda would wait
/// out the queue's visibility timeout, which on a laptop is only a longer wait.
const RETRY_INVOKE_AFTER_SECONDS: i32 = 2;
/// How often the executions are looked at for ends to report.
const ENDS_EVERY: Duration = Duration::from_millis(250);

/// The functions each event source invokes, from the deployment's description.
#[derive(Debug, Clone)]
pub struct Targets {
    pub steps: String,
    pub messages: String,
    pub tick: String,
}

impl Targets {
    pub fn from_deployment() -> Result<Self, AwsLocalError> {
        let functions = skein_lambda::deploy::functions();
        let find = |trigger: Trigger, what: &str| {
            functions
                .iter()
                .find(|f| f.triggers.contains(&trigger))
                .map(|f| f.name.to_string())
                .ok_or_else(|| {
                    AwsLocalError::Settings(format!("the deployment has no function for {what}"))
                })
        };
        Ok(Self {
            steps: find(Trigger::Queue(QueueKind::Steps), "the step queue")?,
            messages: find(Trigger::Queue(QueueKind::Messages), "the messages queue")?,
            tick: find(Trigger::Tick, "the tick")?,
        })
    }
}

/// Plays every event source until the task is dropped.
pub struct EventSources {
    pub sdk: aws_config::SdkConfig,
    pub provisioned: Provisioned,
    /// `cargo lambda watch`'s address, e.g. `http://127.0.0.1:9000`.
    pub functions_url: String,
    pub targets: Targets,
    pub tick_every: Duration,
    pub http: reqwest::Client,
}

impl EventSources {
    pub async fn play(&self) {
        tokio::join!(
            self.consume(&self.provisioned.step_queue, &self.targets.steps),
            self.consume(&self.provisioned.message_queue, &self.targets.messages),
            self.report_ends(),
            self.tick(),
        );
    }

    /// Invokes `function` with `payload` through the local Lambda API; its answer.
    pub async fn invoke(&self, function: &str, payload: &Value) -> Result<Value, String> {
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.functions_url.trim_end_matches('/')
        );
        let response = self
            .http
            .post(&url)
            .json(payload)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() || body.get("errorType").is_some() {
            return Err(format!("{function} answered {status}: {body}"));
        }
        Ok(body)
    }

    /// An SQS event source mapping with `ReportBatchItemFailures`.
    async fn consume(&self, queue: &str, function: &str) {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        loop {
            let received = sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await;
            let messages = match received {
                Ok(output) => output.messages.unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(%queue, error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "cannot receive; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if messages.is_empty() {
                continue;
            }
            let records: Vec<SqsMessage> = messages.into_iter().map(sqs_record).collect();
            let mut event = SqsEvent::default();
            event.records = records.clone();
            let payload = serde_json::to_value(&event).unwrap_or(Value::Null);
            let failed: HashSet<String> = match self.invoke(function, &payload).await {
                Ok(answer) => match serde_json::from_value::<SqsBatchResponse>(answer) {
                    Ok(response) => response
                        .batch_item_failures
                        .into_iter()
                        .map(|f| f.item_identifier)
                        .collect(),
                    Err(e) => {
                        tracing::warn!(%function, error = %e, "not a batch response; the batch comes back");
                        all_ids(&records)
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "invoke failed (is `cargo lambda watch` running?); the batch comes back");
                    for record in &records {
                        let _ = sqs
                            .change_message_visibility()
                            .queue_url(queue)
                            .receipt_handle(record.receipt_handle.clone().unwrap_or_default())
                            .visibility_timeout(RETRY_INVOKE_AFTER_SECONDS)
                            .send()
                            .await;
                    }
                    continue;
                }
            };
            tracing::info!(%function, batch = records.len(), failed = failed.len(), "batch delivered");
            for record in records {
                if failed.contains(record.message_id.as_deref().unwrap_or_default()) {
                    continue;
                }
                let _ = sqs
                    .delete_message()
                    .queue_url(queue)
                    .receipt_handle(record.receipt_handle.unwrap_or_default())
                    .send()
                    .await;
            }
        }
    }

    /// The EventBridge rule: each execution of the deployment's state machines that
    /// ended, reported once onto the step queue as a status-change event.
    async fn report_ends(&self) {
        let sfn = aws_sdk_sfn::Client::new(&self.sdk);
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let mut reported: HashSet<String> = HashSet::new();
        let prefix = format!("{}-", self.provisioned.prefix);
        loop {
            tokio::time::sleep(ENDS_EVERY).await;
            let machines = match sfn.list_state_machines().send().await {
                Ok(list) => list.state_machines,
                Err(_) => continue,
            };
            for machine in machines.iter().filter(|m| m.name.starts_with(&prefix)) {
                let Ok(executions) = sfn
                    .list_executions()
                    .state_machine_arn(&machine.state_machine_arn)
                    .send()
                    .await
                else {
                    continue;
                };
                for execution in executions.executions {
                    if execution.status == ExecutionStatus::Running
                        || reported.contains(&execution.execution_arn)
                    {
                        continue;
                    }
                    let Ok(described) = sfn
                        .describe_execution()
                        .execution_arn(&execution.execution_arn)
                        .send()
                        .await
                    else {
                        continue;
                    };
                    let change = status_change(&described);
                    let sent = sqs
                        .send_message()
                        .queue_url(&self.provisioned.step_queue)
                        .message_body(change.to_string())
                        .send()
                        .await;
                    if sent.is_ok() {
                        tracing::info!(execution = %execution.name, status = %execution.status, "execution end reported");
                        reported.insert(execution.execution_arn);
                    }
                }
            }
        }
    }

    /// EventBridge Scheduler's one-minute `{"action":"tick"}`.
    async fn tick(&self) {
        let mut every = tokio::time::interval(self.tick_every);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await; // the first fires at once; AWS's first is a minute in
        loop {
            every.tick().await;
            match self
                .invoke(&self.targets.tick, &json!({"action": "tick"}))
                .await
            {
                Ok(_) => tracing::info!(function = %self.targets.tick, "tick"),
                Err(e) => tracing::warn!(error = %e, "tick not delivered"),
            }
        }
    }
}

fn all_ids(records: &[SqsMessage]) -> HashSet<String> {
    records
        .iter()
        .filter_map(|r| r.message_id.clone())
        .collect()
}

/// A received message as Lambda's SQS event source hands it over.
fn sqs_record(message: aws_sdk_sqs::types::Message) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id;
    record.receipt_handle = message.receipt_handle;
    record.md5_of_body = message.md5_of_body;
    record.body = message.body;
    record.attributes = message
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.as_str().to_string(), v))
        .collect::<HashMap<_, _>>();
    record.event_source = Some("aws:sqs".into());
    record.aws_region = Some(REGION.into());
    record
}

/// Step Functions' "Execution Status Change" event, as the EventBridge rule delivers it.
fn status_change(
    execution: &aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
) -> Value {
    let mut event = EventBridgeEvent::<ExecutionChange>::default();
    event.version = Some("0".into());
    event.id = Some(ulid::Ulid::new().to_string());
    event.detail_type = EXECUTION_STATUS_CHANGE.into();
    event.source = "aws.states".into();
    event.account = Some(ACCOUNT.into());
    event.time = Some(chrono::Utc::now());
    event.region = Some(REGION.into());
    event.resources = Some(vec![execution.execution_arn.clone()]);
    event.detail = ExecutionChange {
        name: execution.name.clone().unwrap_or_default(),
        status: execution.status.as_str().to_string(),
        input: execution.input.clone(),
        error: execution.error.clone(),
        cause: execution.cause.clone(),
    };
    serde_json::to_value(event).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_source_goes_to_the_function_the_deployment_names() {
        let targets = Targets::from_deployment().unwrap();
        assert_eq!(targets.steps, "step-worker");
        assert_eq!(targets.messages, "message-router");
        assert_eq!(targets.tick, "scheduler");
    }

    #[test]
    fn an_execution_end_is_the_event_the_step_worker_reads() {
        let described =
            aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput::builder()
                .execution_arn("arn:aws:states:us-east-1:123456789012:execution:m:run_1")
                .state_machine_arn("arn:aws:states:us-east-1:123456789012:stateMachine:m")
                .name("run_1")
                .status(ExecutionStatus::TimedOut)
                .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
                .input(r#"{"run":"run_1"}"#)
                .build()
                .unwrap();
        let event: EventBridgeEvent<ExecutionChange> =
            serde_json::from_value(status_change(&described)).unwrap();
        assert_eq!(event.detail_type, EXECUTION_STATUS_CHANGE);
        assert_eq!(event.detail.name, "run_1");
        assert_eq!(event.detail.status, "TIMED_OUT");
        assert_eq!(event.detail.input.as_deref(), Some(r#"{"run":"run_1"}"#));
    }
}
