//! `skein asl serve` as a separate process, driven by the AWS SDK for Rust as it would drive
//! Step Functions: state machines created and run, their history read, a task token
//! answered, Task states mocked from a MockConfigFile test case or sent to a local Lambda
//! Invoke endpoint, express machines run synchronously, executions stopped, and the
//! service's own errors.

use std::time::{Duration, Instant};

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType, StateMachineType};
use serde_json::{Value, json};

mod support;

/// A Pass that reads the context object, an hour's Wait, a task waiting for its token,
/// and a Lambda task that is retried once; its mocks come from the test case.
const ORDER: &str = r#"{
  "StartAt": "Greet",
  "States": {
    "Greet": { "Type": "Pass", "Parameters": { "order.$": "$.order", "execution.$": "$$.Execution.Id" }, "Next": "Sleep" },
    "Sleep": { "Type": "Wait", "Seconds": 3600, "Next": "Approve" },
    "Approve": {
      "Type": "Task",
      "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
      "Parameters": { "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/approvals", "MessageBody": { "token.$": "$$.Task.Token" } },
      "ResultPath": "$.approval",
      "Next": "Charge"
    },
    "Charge": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": { "FunctionName": "charge", "Payload.$": "$" },
      "ResultSelector": { "charged.$": "$.Payload.charged" },
      "ResultPath": "$.charge",
      "Retry": [{ "ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 30, "MaxAttempts": 2 }],
      "End": true
    }
  }
}"#;

const MOCKS: &str = r#"{
  "StateMachines": {
    "order": { "TestCases": { "Throttled": { "Charge": "ChargeAfterThrottle" } } }
  },
  "MockedResponses": {
    "ChargeAfterThrottle": {
      "0": { "Throw": { "Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded" } },
      "1": { "Return": { "StatusCode": 200, "Payload": { "charged": true } } }
    }
  }
}"#;

struct Served {
    client: Client,
    port: u16,
    _dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

/// A Lambda Invoke endpoint whose `double` function doubles `n`, and fails on a negative.
async fn lambda_endpoint() -> String {
    use axum::extract::Path;
    use axum::response::IntoResponse;
    let app = axum::Router::new().route(
        "/2015-03-31/functions/{name}/invocations",
        axum::routing::post(
            |Path(name): Path<String>, axum::Json(payload): axum::Json<Value>| async move {
                let n = payload["n"].as_i64().unwrap_or(0);
                if name != "double" || n < 0 {
                    return (
                        [("x-amz-function-error", "Unhandled")],
                        axum::Json(json!({"errorType": "NegativeError", "errorMessage": format!("{name} cannot take {n}")})),
                    )
                        .into_response();
                }
                axum::Json(json!({ "doubled": n * 2 })).into_response()
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[derive(Debug, Clone)]
struct Loopback;

impl aws_smithy_runtime_api::client::dns::ResolveDns for Loopback {
    fn resolve_dns<'a>(
        &'a self,
        _name: &'a str,
    ) -> aws_smithy_runtime_api::client::dns::DnsFuture<'a> {
        aws_smithy_runtime_api::client::dns::DnsFuture::ready(Ok(vec![
            std::net::Ipv4Addr::LOCALHOST.into(),
        ]))
    }
}

async fn serve() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let mocks = dir.path().join("mocks.json");
    std::fs::write(&mocks, MOCKS).unwrap();
    let port = support::free_port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"))
        .args(["asl", "serve", "--virtual-time", "--addr"])
        .arg(format!("127.0.0.1:{port}"))
        .env("SFN_MOCK_CONFIG", &mocks)
        .arg("--lambda-endpoint")
        .arg(lambda_endpoint().await)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("skein asl serve starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "skein asl serve did not start");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // StartSyncExecution goes to `sync-<host>`, as the SDKs send it: every name is
    // 127.0.0.1 here.
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_with_resolver(Loopback);
    let sdk = aws_config::from_env()
        .http_client(http)
        .region(aws_sdk_sfn::config::Region::new("us-east-1"))
        .endpoint_url(format!("http://states.local:{port}"))
        .credentials_provider(aws_sdk_sfn::config::Credentials::new(
            "AKIDLOCAL",
            "local-secret",
            None,
            None,
            "test",
        ))
        .load()
        .await;
    Served {
        client: Client::new(&sdk),
        port,
        _dir: dir,
        _child: child,
    }
}

const ROLE: &str = "arn:aws:iam::123456789012:role/states";

async fn create(client: &Client, name: &str, definition: &str, kind: StateMachineType) -> String {
    client
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(ROLE)
        .r#type(kind)
        .send()
        .await
        .unwrap()
        .state_machine_arn
}

async fn finished(
    client: &Client,
    execution: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let described = client
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await
            .unwrap();
        if described.status != ExecutionStatus::Running {
            return described;
        }
        assert!(Instant::now() < deadline, "{execution} did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn history(client: &Client, execution: &str) -> Vec<aws_sdk_sfn::types::HistoryEvent> {
    client
        .get_execution_history()
        .execution_arn(execution)
        .send()
        .await
        .unwrap()
        .events
}

/// The token the named task state waits on, once it is scheduled.
async fn token_of(client: &Client, execution: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for event in history(client, execution).await {
            if let Some(scheduled) = event.task_scheduled_event_details {
                let parameters: Value = serde_json::from_str(&scheduled.parameters).unwrap();
                if let Some(token) = parameters["MessageBody"]["token"].as_str() {
                    return token.to_string();
                }
            }
        }
        assert!(Instant::now() < deadline, "no task token in {execution}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

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

/// The AWS CLI from PyPI (scripts/setup.sh installs it into `${SKEIN_VENV:-.venv}-awscli`).
fn aws_cli() -> std::path::PathBuf {
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = std::env::var_os("SKEIN_VENV")
        .map(std::path::PathBuf::from)
        .map(|v| if v.is_absolute() { v } else { repo.join(v) })
        .unwrap_or_else(|| repo.join(".venv"));
    let mut name = venv.into_os_string();
    name.push("-awscli/bin/aws");
    std::path::PathBuf::from(name)
}

fn aws(port: u16, args: &[&str]) -> Value {
    let output = std::process::Command::new(aws_cli())
        .args(["stepfunctions", "--endpoint-url"])
        .arg(format!("http://127.0.0.1:{port}"))
        .args(args)
        .args(["--output", "json"])
        .env("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
        .env("AWS_SECRET_ACCESS_KEY", "local-secret")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{} runs (scripts/setup.sh installs it): {e}",
                aws_cli().display()
            )
        });
    assert!(
        output.status.success(),
        "aws stepfunctions {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_aws_cli_creates_runs_and_answers_a_token() {
    let served = serve().await;
    let port = served.port;
    let dir = tempfile::tempdir().unwrap();
    let definition = dir.path().join("order.asl.json");
    std::fs::write(&definition, ORDER).unwrap();
    let created = aws(
        port,
        &[
            "create-state-machine",
            "--name",
            "order",
            "--role-arn",
            ROLE,
            "--definition",
            &format!("file://{}", definition.display()),
        ],
    );
    let machine = created["stateMachineArn"].as_str().unwrap().to_string();
    let listed = aws(port, &["list-state-machines"]);
    assert_eq!(listed["stateMachines"][0]["name"], "order");

    let started = aws(
        port,
        &[
            "start-execution",
            "--state-machine-arn",
            &format!("{machine}#Throttled"),
            "--input",
            r#"{"order": 7}"#,
        ],
    );
    let execution = started["executionArn"].as_str().unwrap().to_string();
    let token = token_of(&served.client, &execution).await;
    aws(
        port,
        &[
            "send-task-success",
            "--task-token",
            &token,
            "--task-output",
            r#"{"approved": true}"#,
        ],
    );
    finished(&served.client, &execution).await;
    let described = aws(port, &["describe-execution", "--execution-arn", &execution]);
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["charge"], json!({"charged": true}));
    let history = aws(
        port,
        &["get-execution-history", "--execution-arn", &execution],
    );
    let events = history["events"].as_array().unwrap();
    assert_eq!(events[0]["type"], "ExecutionStarted");
    assert_eq!(events.last().unwrap()["type"], "ExecutionSucceeded");
}

/// TestState runs one state with a mocked Task and says what it would do next.
#[tokio::test]
async fn test_state_runs_one_state_on_its_mock_and_names_the_next_state() {
    use aws_sdk_sfn::types::{InspectionLevel, MockErrorOutput, MockInput, TestExecutionStatus};
    let served = serve().await;
    let client = &served.client;
    let charge = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": { "FunctionName": "charge", "Payload": { "order.$": "$.order" } },
        "ResultSelector": { "id.$": "$.Payload.id" },
        "ResultPath": "$.charge",
        "Retry": [{ "ErrorEquals": ["Lambda.TooManyRequestsException"], "MaxAttempts": 2 }],
        "Catch": [{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Refund" }],
        "Next": "Ship"
    })
    .to_string();
    let test = |mock: MockInput| {
        client
            .test_state()
            .definition(&charge)
            .role_arn(ROLE)
            .input(r#"{"order": 42}"#)
            .inspection_level(InspectionLevel::Debug)
            .mock(mock)
            .send()
    };

    let ok = test(
        MockInput::builder()
            .result(r#"{"Payload": {"id": "ch_1"}}"#)
            .build(),
    )
    .await
    .unwrap();
    assert_eq!(ok.status, Some(TestExecutionStatus::Succeeded), "{ok:?}");
    assert_eq!(ok.next_state.as_deref(), Some("Ship"));
    let output: Value = serde_json::from_str(ok.output.as_deref().unwrap()).unwrap();
    assert_eq!(output, json!({"order": 42, "charge": {"id": "ch_1"}}));
    let inspection = ok.inspection_data.unwrap();
    assert_eq!(
        inspection.after_parameters.as_deref(),
        Some(r#"{"FunctionName":"charge","Payload":{"order":42}}"#)
    );

    let throttled = MockErrorOutput::builder()
        .error("Lambda.TooManyRequestsException")
        .cause("Rate exceeded")
        .build();
    let retried = test(MockInput::builder().error_output(throttled).build())
        .await
        .unwrap();
    assert_eq!(
        retried.status,
        Some(TestExecutionStatus::Retriable),
        "{retried:?}"
    );
    assert_eq!(
        retried.error.as_deref(),
        Some("Lambda.TooManyRequestsException")
    );

    let declined = MockErrorOutput::builder()
        .error("Card.Declined")
        .cause("insufficient funds")
        .build();
    let caught = test(MockInput::builder().error_output(declined).build())
        .await
        .unwrap();
    assert_eq!(
        caught.status,
        Some(TestExecutionStatus::CaughtError),
        "{caught:?}"
    );
    assert_eq!(caught.next_state.as_deref(), Some("Refund"));
    let output: Value = serde_json::from_str(caught.output.as_deref().unwrap()).unwrap();
    assert_eq!(
        output,
        json!({"order": 42, "failure": {"Error": "Card.Declined", "Cause": "insufficient funds"}})
    );

    // A Choice names the branch it takes; a path that finds nothing fails for good.
    let choice = json!({
        "Type": "Choice",
        "Choices": [{ "Variable": "$.order", "NumericGreaterThan": 40, "Next": "Big" }],
        "Default": "Small"
    });
    let chose = client
        .test_state()
        .definition(choice.to_string())
        .role_arn(ROLE)
        .input(r#"{"order": 42}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(chose.next_state.as_deref(), Some("Big"));
    let missing = json!({"Type": "Pass", "Parameters": {"x.$": "$.nope"}, "End": true});
    let failed = client
        .test_state()
        .definition(missing.to_string())
        .role_arn(ROLE)
        .input("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status, Some(TestExecutionStatus::Failed));
    assert_eq!(failed.error.as_deref(), Some("States.Runtime"));
}
