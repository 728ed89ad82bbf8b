//! The Step Functions engine against moto executing state machines for real: task-token
//! steps sent over SQS, completed and failed through the adapter, idempotent starts, stops.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use skein_aws::moto as support;
use skein_aws::{ExecutionState, SqsQueue, StateMachines, StepFunctionsEngine};
use skein_core::ports::{EngineError, ExecutionStatus, Queue, WorkflowEngine};
use skein_core::workflows::Mode;

struct Fixture {
    engine: StepFunctionsEngine,
    queue: SqsQueue,
    queue_url: String,
}

async fn fixture() -> Fixture {
    let config = support::aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let urls = skein_aws::provision::create_queue(&sqs, &support::unique("steps"), 3, 30)
        .await
        .unwrap();
    let role = format!("arn:aws:iam::{}:role/skein-states", support::ACCOUNT);
    let machines = StateMachines::new(&role, "us-east-1").unwrap();
    Fixture {
        engine: StepFunctionsEngine::new(aws_sdk_sfn::Client::new(&config), machines),
        queue: SqsQueue::new(sqs, urls.url.clone()),
        queue_url: urls.url,
    }
}

/// One task-token step, retried once on `Skein.AgentFailed`.
fn one_step(queue_url: &str) -> Value {
    json!({
        "StartAt": "work",
        "States": {
            "work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": queue_url,
                    "MessageBody": { "run.$": "$$.Execution.Name", "token.$": "$$.Task.Token" }
                },
                "End": true
            }
        }
    })
}

async fn next_token(f: &Fixture) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let received = f
            .queue
            .receive(1, Duration::from_secs(30), Duration::from_secs(1))
            .await
            .unwrap();
        if let Some(message) = received.into_iter().next() {
            f.queue.delete(&message.receipt).await.unwrap();
            let body: Value = serde_json::from_str(&message.body).unwrap();
            return body["token"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no step message arrived");
    }
}

async fn ended(f: &Fixture, machine: &str, run: &str) -> ExecutionState {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = f.engine.describe(machine, run).await.unwrap();
        if !state.running {
            return state;
        }
        assert!(Instant::now() < deadline, "{run} is still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_task_token_step_completes_through_the_engine_and_starting_twice_starts_once() {
    let f = fixture().await;
    let machine = support::unique("skein-t-wf-v1");
    let asl = one_step(&f.queue_url);
    f.engine
        .register(&machine, Mode::Standard, &asl)
        .await
        .unwrap();
    // Registering again (a retried registration) is not an error.
    f.engine
        .register(&machine, Mode::Standard, &asl)
        .await
        .unwrap();
    let input = json!({ "run": "run_1", "tenant": "acme" });
    f.engine.start(&machine, "run_1", &input).await.unwrap();
    f.engine.start(&machine, "run_1", &input).await.unwrap();

    let token = next_token(&f).await;
    f.engine
        .send_task_success(&token, &json!({ "ok": true }))
        .await
        .unwrap();
    let state = ended(&f, &machine, "run_1").await;
    let ended = state.ended.unwrap();
    assert_eq!(ended.status, ExecutionStatus::Succeeded);
    assert_eq!(ended.input, input);
    assert_eq!(
        f.engine.states_entered(&machine, "run_1").await.unwrap(),
        ["work"]
    );
    // The token's task is over: completing it again says so.
    assert_eq!(
        f.engine.send_task_success(&token, &json!({})).await,
        Err(EngineError::TaskDoesNotExist)
    );
}

#[tokio::test]
async fn a_failed_task_ends_the_execution_failed_with_its_error_name() {
    let f = fixture().await;
    let machine = support::unique("skein-t-fail-v1");
    f.engine
        .register(&machine, Mode::Standard, &one_step(&f.queue_url))
        .await
        .unwrap();
    f.engine
        .start(&machine, "run_2", &json!({ "run": "run_2" }))
        .await
        .unwrap();
    let token = next_token(&f).await;
    f.engine
        .send_task_failure(&token, "Skein.NonRetryable", "the agent said no")
        .await
        .unwrap();
    let ended = ended(&f, &machine, "run_2").await.ended.unwrap();
    assert_eq!(ended.status, ExecutionStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("Skein.NonRetryable"));
    // moto drops a task failure's cause; Step Functions keeps it.
    assert!(matches!(
        ended.cause.as_deref(),
        Some("the agent said no") | None
    ));
}

#[tokio::test]
async fn stopping_a_run_aborts_its_execution() {
    let f = fixture().await;
    let machine = support::unique("skein-t-stop-v1");
    f.engine
        .register(&machine, Mode::Standard, &one_step(&f.queue_url))
        .await
        .unwrap();
    f.engine
        .start(&machine, "run_3", &json!({ "run": "run_3" }))
        .await
        .unwrap();
    let token = next_token(&f).await;
    f.engine
        .stop(&machine, "run_3", "Skein.Cancelled", "cancelled by a test")
        .await
        .unwrap();
    // moto notices a stop only when the waiting task ends (Step Functions at once): end
    // it, as the step-worker would; the answer may be that the task is gone.
    let _ = f.engine.send_task_success(&token, &json!({})).await;
    let ended = ended(&f, &machine, "run_3").await.ended.unwrap();
    assert_eq!(ended.status, ExecutionStatus::Aborted);
    assert!(matches!(
        f.engine.stop(&machine, "run_missing", "x", "y").await,
        Err(EngineError::NotFound(_))
    ));
}

#[tokio::test]
async fn an_existing_state_machine_is_never_given_another_definition() {
    let f = fixture().await;
    let machine = support::unique("skein-t_w-v1");
    let first = one_step(&f.queue_url);
    f.engine
        .register(&machine, Mode::Standard, &first)
        .await
        .unwrap();
    f.engine
        .register(&machine, Mode::Standard, &first)
        .await
        .expect("registering the same definition again is a no-op");
    let other = one_step("https://sqs.us-east-1.amazonaws.com/123456789012/elsewhere");
    assert_eq!(
        f.engine.register(&machine, Mode::Standard, &other).await,
        Err(EngineError::Conflict(machine.clone()))
    );
}
