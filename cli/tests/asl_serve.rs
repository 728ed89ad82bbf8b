//! `skein asl serve` as a separate process, driven by the AWS SDK for Rust as it would drive
//! Step Functions: state machines created and run, their history read, a task token
//! answered, Task states mocked from a MockConfigFile test case or sent to a local Lambda
//! Invoke endpoint, express machines run synchronously, executions stopped, and the
//! service's own errors. TestState has its own file, `asl_test_state.rs`.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType, StateMachineType};
use serde_json::{Value, json};
use support::sfn::{ORDER, ROLE, create, finished, history, serve, token_of};

mod support;

#[tokio::test]
async fn the_sdk_runs_a_state_machine_with_a_token_a_mocked_retry_and_an_instant_wait() {
    let served = serve().await;
    let client = &served.client;
    let machine = create(client, "order", ORDER, StateMachineType::Standard).await;
    assert_eq!(
        machine,
        "arn:aws:states:us-east-1:123456789012:stateMachine:order"
    );
    let described = client
        .describe_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(described.definition, ORDER);
    assert_eq!(described.role_arn, ROLE);

    let started = Instant::now();
    let execution = client
        .start_execution()
        .state_machine_arn(format!("{machine}#Throttled"))
        .name("order-1")
        .input(json!({"order": 42}).to_string())
        .send()
        .await
        .unwrap()
        .execution_arn;
    assert_eq!(
        execution,
        "arn:aws:states:us-east-1:123456789012:execution:order:order-1"
    );
    let token = token_of(client, &execution).await;
    client
        .send_task_success()
        .task_token(&token)
        .output(json!({"approved": true}).to_string())
        .send()
        .await
        .unwrap();

    let done = finished(client, &execution).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let output: Value = serde_json::from_str(done.output.as_deref().unwrap()).unwrap();
    assert_eq!(
        output,
        json!({"order": 42, "execution": execution, "approval": {"approved": true}, "charge": {"charged": true}})
    );

    let events = history(client, &execution).await;
    let types: Vec<HistoryEventType> = events.iter().map(|e| e.r#type.clone()).collect();
    let charge_failures = types
        .iter()
        .filter(|t| **t == HistoryEventType::TaskFailed)
        .count();
    assert_eq!(
        charge_failures, 1,
        "the mocked throttle, then retried: {types:?}"
    );
    // Every task event names its resource, as Step Functions' do.
    let task_started = events
        .iter()
        .find_map(|e| e.task_started_event_details.as_ref())
        .unwrap();
    assert_eq!(task_started.resource_type, "sqs", "{task_started:?}");
    assert!(!task_started.resource.is_empty(), "{task_started:?}");
    let failed = events
        .iter()
        .find_map(|e| e.task_failed_event_details.as_ref())
        .unwrap();
    assert_eq!(
        failed.error.as_deref(),
        Some("Lambda.TooManyRequestsException")
    );
    assert_eq!(types.first(), Some(&HistoryEventType::ExecutionStarted));
    assert_eq!(types.last(), Some(&HistoryEventType::ExecutionSucceeded));
    // An hour's wait and a 30 s back-off on virtual time: the history says they passed.
    let at = |kind: HistoryEventType| {
        events
            .iter()
            .find(|e| e.r#type == kind)
            .map(|e| e.timestamp.secs())
            .unwrap()
    };
    assert!(at(HistoryEventType::WaitStateExited) - at(HistoryEventType::WaitStateEntered) >= 3600);
    assert!(started.elapsed() < Duration::from_secs(20));

    let listed = client
        .list_executions()
        .state_machine_arn(&machine)
        .status_filter(ExecutionStatus::Succeeded)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.executions.len(), 1);
    assert_eq!(listed.executions[0].name, "order-1");
}

#[tokio::test]
async fn lambda_tasks_reach_the_local_invoke_endpoint_and_executions_stop() {
    let served = serve().await;
    let client = &served.client;
    let double = r#"{"StartAt": "Double", "States": {"Double": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double", "End": true}}}"#;
    let machine = create(client, "double", double, StateMachineType::Express).await;
    let answer = client
        .start_sync_execution()
        .state_machine_arn(&machine)
        .input(r#"{"n": 21}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status,
        aws_sdk_sfn::types::SyncExecutionStatus::Succeeded
    );
    assert_eq!(answer.output.as_deref(), Some(r#"{"doubled":42}"#));

    // The function's own error is the task's, by its errorType.
    let answer = client
        .start_sync_execution()
        .state_machine_arn(&machine)
        .input(r#"{"n": -1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status,
        aws_sdk_sfn::types::SyncExecutionStatus::Failed
    );
    assert_eq!(answer.error.as_deref(), Some("NegativeError"));

    // A standard execution waiting for a token, stopped.
    let machine = create(client, "order", ORDER, StateMachineType::Standard).await;
    let execution = client
        .start_execution()
        .state_machine_arn(&machine)
        .input(r#"{"order": 1}"#)
        .send()
        .await
        .unwrap()
        .execution_arn;
    let token = token_of(client, &execution).await;
    client
        .stop_execution()
        .execution_arn(&execution)
        .error("Cancelled")
        .cause("the customer changed their mind")
        .send()
        .await
        .unwrap();
    let done = finished(client, &execution).await;
    assert_eq!(done.status, ExecutionStatus::Aborted);
    assert_eq!(done.error.as_deref(), Some("Cancelled"));
    let late = client
        .send_task_success()
        .task_token(token)
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert!(late.into_service_error().is_task_does_not_exist());
}

#[tokio::test]
async fn the_services_errors_are_the_ones_sdks_match() {
    let served = serve().await;
    let client = &served.client;
    let missing = client
        .describe_state_machine()
        .state_machine_arn("arn:aws:states:us-east-1:123456789012:stateMachine:nope")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(missing.is_state_machine_does_not_exist(), "{missing:?}");

    let invalid = client
        .create_state_machine()
        .name("broken")
        .definition(r#"{"StartAt": "Nowhere", "States": {"A": {"Type": "Pass", "End": true}}}"#)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(invalid.is_invalid_definition(), "{invalid:?}");
    assert!(invalid.to_string().contains("Nowhere"), "{invalid}");

    let pass = r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#;
    let machine = create(client, "pass", pass, StateMachineType::Standard).await;
    let not_express = client
        .start_sync_execution()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        not_express.is_state_machine_type_not_supported(),
        "{not_express:?}"
    );
    let bad_input = client
        .start_execution()
        .state_machine_arn(&machine)
        .input("{not json")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(bad_input.is_invalid_execution_input(), "{bad_input:?}");
    let no_case = client
        .start_execution()
        .state_machine_arn(format!("{machine}#Throttled"))
        .send()
        .await
        .unwrap_err();
    assert!(
        format!("{:?}", no_case.into_service_error())
            .contains("no test case `Throttled` for state machine `pass`")
    );
    client
        .start_execution()
        .state_machine_arn(&machine)
        .name("once")
        .send()
        .await
        .unwrap();
    let again = client
        .start_execution()
        .state_machine_arn(&machine)
        .name("once")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(again.is_execution_already_exists(), "{again:?}");
    let unknown = client
        .send_task_failure()
        .task_token("no-such-token")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(unknown.is_task_does_not_exist(), "{unknown:?}");
}
