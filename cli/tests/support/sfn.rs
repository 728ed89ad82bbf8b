//! `skein asl serve` as its own process with a Step Functions client for it, and the
//! machine and mocks its tests run.

use std::time::{Duration, Instant};

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::{ExecutionStatus, StateMachineType};
use serde_json::{Value, json};

/// A Pass that reads the context object, an hour's Wait, a task waiting for its token,
/// and a Lambda task that is retried once; its mocks come from the test case.
pub const ORDER: &str = r#"{
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

pub const MOCKS: &str = r#"{
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

pub struct Served {
    pub client: Client,
    pub port: u16,
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

pub async fn serve() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let mocks = dir.path().join("mocks.json");
    std::fs::write(&mocks, MOCKS).unwrap();
    let port = super::free_port();
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

pub const ROLE: &str = "arn:aws:iam::123456789012:role/states";

pub async fn create(
    client: &Client,
    name: &str,
    definition: &str,
    kind: StateMachineType,
) -> String {
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

pub async fn finished(
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

pub async fn history(client: &Client, execution: &str) -> Vec<aws_sdk_sfn::types::HistoryEvent> {
    client
        .get_execution_history()
        .execution_arn(execution)
        .send()
        .await
        .unwrap()
        .events
}

/// The token the named task state waits on, once it is scheduled.
pub async fn token_of(client: &Client, execution: &str) -> String {
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
