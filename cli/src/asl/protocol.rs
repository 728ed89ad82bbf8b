//! Step Functions' JSON protocol (`awsJson1_0`, target prefix `AWSStepFunctions`): its
//! errors, its timestamps (epoch seconds) and its history events, whose details AWS keeps
//! in one object per event type (`taskScheduledEventDetails`, ...).
//! <https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html>

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use skein_asl::{EventType, HistoryEvent};

/// The errors Step Functions names, as its SDKs match them (`__type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArn,
    InvalidDefinition,
    InvalidName,
    InvalidExecutionInput,
    InvalidOutput,
    StateMachineDoesNotExist,
    StateMachineAlreadyExists,
    StateMachineTypeNotSupported,
    ExecutionDoesNotExist,
    ExecutionAlreadyExists,
    TaskDoesNotExist,
    Validation,
    UnknownOperation,
    SerializationException,
}

impl ErrorCode {
    fn name(self) -> &'static str {
        match self {
            Self::InvalidArn => "InvalidArn",
            Self::InvalidDefinition => "InvalidDefinition",
            Self::InvalidName => "InvalidName",
            Self::InvalidExecutionInput => "InvalidExecutionInput",
            Self::InvalidOutput => "InvalidOutput",
            Self::StateMachineDoesNotExist => "StateMachineDoesNotExist",
            Self::StateMachineAlreadyExists => "StateMachineAlreadyExists",
            Self::StateMachineTypeNotSupported => "StateMachineTypeNotSupported",
            Self::ExecutionDoesNotExist => "ExecutionDoesNotExist",
            Self::ExecutionAlreadyExists => "ExecutionAlreadyExists",
            Self::TaskDoesNotExist => "TaskDoesNotExist",
            Self::Validation => "ValidationException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::SerializationException => "SerializationException",
        }
    }
}

/// A refused call: a 400 with the error's name and what to fix.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "__type": self.code.name(), "message": self.message });
        let mut response = (StatusCode::BAD_REQUEST, json_body(&body)).into_response();
        response.headers_mut().insert(
            "x-amzn-errortype",
            HeaderValue::from_static(self.code.name()),
        );
        response
    }
}

/// A successful answer, typed as the protocol's.
pub fn ok(body: Value) -> Response {
    (StatusCode::OK, json_body(&body)).into_response()
}

fn json_body(body: &Value) -> ([(header::HeaderName, &'static str); 1], String) {
    (
        [(header::CONTENT_TYPE, "application/x-amz-json-1.0")],
        body.to_string(),
    )
}

/// A timestamp as the protocol writes them: epoch seconds, with milliseconds.
pub fn epoch(at: DateTime<Utc>) -> Value {
    json!(at.timestamp_millis() as f64 / 1000.0)
}

/// `arn:aws:states:::lambda:invoke` is resource type `lambda`, resource `invoke`; a
/// Lambda function's ARN is `lambda`/`invoke` too; anything else its last two segments.
fn resource_parts(resource: &str) -> (String, String) {
    if let Some(rest) = resource.strip_prefix("arn:aws:states:::")
        && let Some((kind, name)) = rest.split_once(':')
    {
        return (kind.to_string(), name.to_string());
    }
    if resource.contains(":lambda:") && resource.contains(":function:") {
        return ("lambda".into(), "invoke".into());
    }
    let mut parts = resource.rsplitn(2, ':');
    let name = parts.next().unwrap_or_default().to_string();
    let kind = parts
        .next()
        .and_then(|p| p.rsplit(':').next())
        .unwrap_or_default();
    (kind.to_string(), name)
}

fn text(value: &Option<skein_asl::Payload>) -> Value {
    value
        .as_ref()
        .map(|v| Value::String(v.to_string()))
        .unwrap_or_else(|| Value::String("{}".into()))
}

/// One event of `GetExecutionHistory`.
pub fn history_event(event: &HistoryEvent, role_arn: &str, region: &str) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(event.id));
    out.insert("previousEventId".into(), json!(event.previous_event_id));
    out.insert("timestamp".into(), epoch(event.timestamp));
    let type_name = serde_json::to_value(event.event_type)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    out.insert("type".into(), json!(type_name));
    let untruncated = json!({ "truncated": false });
    let state = || event.state_name.as_deref().unwrap_or_default().to_string();
    let failure = || {
        let mut details = Map::new();
        if let Some(error) = event.error() {
            details.insert("error".into(), json!(error));
        }
        if let Some(cause) = event.cause() {
            details.insert("cause".into(), json!(cause));
        }
        details
    };
    let resource = || resource_parts(event.resource().unwrap_or_default());
    use EventType::*;
    let (key, details) = match event.event_type {
        ExecutionStarted => (
            "executionStartedEventDetails",
            json!({ "input": text(&event.input), "inputDetails": untruncated, "roleArn": role_arn }),
        ),
        ExecutionSucceeded => (
            "executionSucceededEventDetails",
            json!({ "output": text(&event.output), "outputDetails": untruncated }),
        ),
        ExecutionFailed => ("executionFailedEventDetails", Value::Object(failure())),
        ExecutionAborted => ("executionAbortedEventDetails", Value::Object(failure())),
        ExecutionTimedOut => ("executionTimedOutEventDetails", Value::Object(failure())),
        PassStateEntered | TaskStateEntered | ChoiceStateEntered | WaitStateEntered
        | SucceedStateEntered | FailStateEntered | ParallelStateEntered | MapStateEntered => (
            "stateEnteredEventDetails",
            json!({ "name": state(), "input": text(&event.input), "inputDetails": untruncated }),
        ),
        PassStateExited | TaskStateExited | ChoiceStateExited | WaitStateExited
        | SucceedStateExited | ParallelStateExited | MapStateExited => (
            "stateExitedEventDetails",
            json!({ "name": state(), "output": text(&event.output), "outputDetails": untruncated }),
        ),
        TaskScheduled => {
            let (kind, name) = resource();
            let parameters = event
                .parameters()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "{}".into());
            (
                "taskScheduledEventDetails",
                json!({ "resourceType": kind, "resource": name, "region": region, "parameters": parameters }),
            )
        }
        TaskStarted => {
            let (kind, name) = resource();
            (
                "taskStartedEventDetails",
                json!({ "resourceType": kind, "resource": name }),
            )
        }
        TaskSubmitted | TaskSucceeded => {
            let (kind, name) = resource();
            let key = if event.event_type == TaskSubmitted {
                "taskSubmittedEventDetails"
            } else {
                "taskSucceededEventDetails"
            };
            (
                key,
                json!({ "resourceType": kind, "resource": name, "output": text(&event.output), "outputDetails": untruncated }),
            )
        }
        TaskFailed | TaskTimedOut => {
            let (kind, name) = resource();
            let mut details = failure();
            details.insert("resourceType".into(), json!(kind));
            details.insert("resource".into(), json!(name));
            let key = if event.event_type == TaskFailed {
                "taskFailedEventDetails"
            } else {
                "taskTimedOutEventDetails"
            };
            (key, Value::Object(details))
        }
        MapStateStarted => (
            "mapStateStartedEventDetails",
            json!({ "length": event.index().unwrap_or(0) }),
        ),
        MapIterationStarted | MapIterationSucceeded | MapIterationFailed => {
            let key = match event.event_type {
                MapIterationStarted => "mapIterationStartedEventDetails",
                MapIterationSucceeded => "mapIterationSucceededEventDetails",
                _ => "mapIterationFailedEventDetails",
            };
            (
                key,
                json!({ "name": state(), "index": event.index().unwrap_or(0) }),
            )
        }
        ParallelStateStarted
        | ParallelStateSucceeded
        | ParallelStateFailed
        | MapStateSucceeded
        | MapStateFailed => return Value::Object(out),
    };
    out.insert(key.into(), details);
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_split_as_step_functions_reports_them() {
        assert_eq!(
            resource_parts("arn:aws:states:::lambda:invoke"),
            ("lambda".into(), "invoke".into())
        );
        assert_eq!(
            resource_parts("arn:aws:states:::sqs:sendMessage.waitForTaskToken"),
            ("sqs".into(), "sendMessage.waitForTaskToken".into())
        );
        assert_eq!(
            resource_parts("arn:aws:lambda:us-east-1:123456789012:function:charge"),
            ("lambda".into(), "invoke".into())
        );
    }
}
