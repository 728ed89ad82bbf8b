//! `skein asl serve`: skein-asl behind Step Functions' own API, so the AWS CLI
//! (`aws stepfunctions --endpoint-url`) and every AWS SDK can create state machines, run
//! them and answer their task tokens on a laptop. Executions run on the same interpreter as
//! `skein asl run`; Task states are answered by a mock configuration, a local Lambda
//! endpoint, or (`.waitForTaskToken`) the client.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::executions::Run;
use super::machines::Machine;
use super::protocol::{ApiError, ErrorCode, epoch, ok};
use super::tasks::MockConfig;

/// How the endpoint answers.
pub struct ServeSettings {
    /// `SFN_MOCK_CONFIG`: mocked Task responses, chosen per execution by
    /// `stateMachineArn#TestCase`.
    pub mocks: Option<Arc<MockConfig>>,
    /// Lambda tasks go to this Invoke endpoint when no mock answers them.
    pub lambda_endpoint: Option<String>,
    /// Wait states and retry back-off take no time.
    pub virtual_time: bool,
    pub region: String,
    pub account: String,
}

pub struct Service {
    pub(super) settings: ServeSettings,
    pub(super) client: reqwest::Client,
    pub(super) machines: RwLock<BTreeMap<String, Arc<Machine>>>,
    /// In the order they started.
    pub(super) runs: RwLock<Vec<Arc<Run>>>,
}

pub fn router(settings: ServeSettings) -> Router {
    let service = Arc::new(Service {
        settings,
        client: reqwest::Client::new(),
        machines: RwLock::default(),
        runs: RwLock::default(),
    });
    Router::new().route("/", post(dispatch)).with_state(service)
}

/// Serves until interrupted.
pub async fn serve(addr: SocketAddr, settings: ServeSettings) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    println!(
        "skein asl serve: the Step Functions API on http://{bound} (e.g. aws stepfunctions --endpoint-url http://{bound} list-state-machines)"
    );
    axum::serve(listener, router(settings))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

async fn dispatch(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(operation) = target.strip_prefix("AWSStepFunctions.") else {
        return ApiError::new(
            ErrorCode::UnknownOperation,
            format!("`X-Amz-Target: {target}` is not a Step Functions operation (AWSStepFunctions.<Operation>)"),
        )
        .into_response();
    };
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(e) => {
                return ApiError::new(
                    ErrorCode::SerializationException,
                    format!("the request body is not JSON: {e}"),
                )
                .into_response();
            }
        }
    };
    let answered = match operation {
        "CreateStateMachine" => service.create_state_machine(&request),
        "DescribeStateMachine" => service.describe_state_machine(&request),
        "UpdateStateMachine" => service.update_state_machine(&request),
        "DeleteStateMachine" => service.delete_state_machine(&request),
        "ListStateMachines" => Ok(service.list_state_machines()),
        "StartExecution" => service
            .start_execution(&request)
            .map(|(run, _)| json!({ "executionArn": run.arn, "startDate": epoch(run.started) })),
        "StartSyncExecution" => service.start_sync_execution(&request).await,
        "DescribeExecution" => service.describe_execution(&request),
        "GetExecutionHistory" => service.execution_history(&request),
        "ListExecutions" => service.list_executions(&request),
        "StopExecution" => service.stop_execution(&request),
        "SendTaskSuccess" | "SendTaskFailure" | "SendTaskHeartbeat" => {
            service.answer_token(operation, &request)
        }
        "TestState" => super::test_state::test_state(&request).await,
        other => Err(ApiError::new(
            ErrorCode::UnknownOperation,
            format!("skein asl serve does not implement {other}"),
        )),
    };
    match answered {
        Ok(body) => ok(body),
        Err(error) => error.into_response(),
    }
}

pub(super) fn string<'a>(request: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    request[field].as_str().ok_or_else(|| {
        ApiError::new(
            ErrorCode::Validation,
            format!("1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must not be null"),
        )
    })
}

/// Step Functions' names: 1 to 80 characters, none of them whitespace, brackets,
/// wildcards or control characters.
pub(super) fn check_name(name: &str) -> Result<(), ApiError> {
    let bad =
        |c: char| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c);
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(bad) {
        return Err(ApiError::new(
            ErrorCode::InvalidName,
            format!(
                "Invalid Name: '{name}' (1 to 80 characters, no whitespace or <>{{}}[]?*\"#%\\^|~`$&,;:/)"
            ),
        ));
    }
    Ok(())
}
