//! TestState: one state run on its own, its Task answered by the request's mock, and what
//! it would do next. The state runs inside a small machine where every state it can go
//! to (`Next`, a Choice's targets, a catcher's `Next`) is a Succeed stub, so the stub the
//! run enters names the next state; retriers are taken out and only consulted, as
//! TestState reports `RETRIABLE` instead of retrying.
//! <https://docs.aws.amazon.com/step-functions/latest/apireference/API_TestState.html>

use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value, json};
use skein_asl::{
    EventType, Execution, ExecutionConfig, ExecutionHandle, Resources, SkippingClock, StateMachine,
    TaskCall, TaskError, TaskHandler,
};

use super::protocol::{ApiError, ErrorCode};

/// The request's `mock`: the Task's result, or the error it throws.
struct MockedTask {
    answer: Result<Value, TaskError>,
    handle: Arc<OnceLock<ExecutionHandle>>,
}

#[async_trait::async_trait]
impl TaskHandler for MockedTask {
    async fn call(&self, call: TaskCall) -> Result<Value, TaskError> {
        let output = self.answer.clone()?;
        if let (Some(token), Some(handle)) = (&call.task_token, self.handle.get()) {
            handle
                .send_task_success(token, output.clone())
                .map_err(|e| TaskError::new("States.Runtime", e.to_string()))?;
        }
        Ok(output)
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidDefinition, message)
}

fn json_field(request: &Value, field: &str) -> Result<Option<Value>, ApiError> {
    request[field]
        .as_str()
        .map(|text| {
            serde_json::from_str(text).map_err(|e| {
                ApiError::new(ErrorCode::Validation, format!("{field} is not JSON: {e}"))
            })
        })
        .transpose()
}

/// A request field holding a JSON object, as a string (`variables`, `context`).
fn json_object(
    request: &Value,
    field: &str,
    of_what: &str,
) -> Result<Option<Map<String, Value>>, ApiError> {
    match json_field(request, field)? {
        None => Ok(None),
        Some(Value::Object(object)) => Ok(Some(object)),
        Some(_) => Err(ApiError::new(
            ErrorCode::Validation,
            format!("{field} must be a JSON object of {of_what}"),
        )),
    }
}

/// The state to test, and its name: `definition` is one state, or a whole machine with
/// `stateName` choosing the state.
fn state_of(request: &Value) -> Result<(String, Map<String, Value>), ApiError> {
    let definition = json_field(request, "definition")?
        .ok_or_else(|| ApiError::new(ErrorCode::Validation, "definition is required"))?;
    let state_name = request["stateName"].as_str();
    let (name, state) = match definition.get("States") {
        Some(states) => {
            let name = state_name
                .or_else(|| definition["StartAt"].as_str())
                .ok_or_else(|| invalid("a whole state machine needs stateName (or StartAt)"))?;
            let mut state = states
                .get(name)
                .ok_or_else(|| invalid(format!("the state machine has no state `{name}`")))?
                .clone();
            // Taken out of its machine, the state keeps the machine's query language.
            if let (Some(language), Value::Object(fields)) =
                (definition.get("QueryLanguage"), &mut state)
            {
                fields
                    .entry("QueryLanguage")
                    .or_insert_with(|| language.clone());
            }
            (name.to_string(), state)
        }
        None => (state_name.unwrap_or("TestState").to_string(), definition),
    };
    let Value::Object(state) = state else {
        return Err(invalid("the state is not a JSON object"));
    };
    Ok((name, state))
}

/// Every state `state` may hand over to.
fn targets(state: &Map<String, Value>) -> Vec<String> {
    let mut names = Vec::new();
    let mut add = |value: &Value| {
        if let Some(name) = value.as_str() {
            names.push(name.to_string());
        }
    };
    let field = |name: &str| state.get(name).unwrap_or(&Value::Null);
    add(field("Next"));
    add(field("Default"));
    for choice in field("Choices").as_array().into_iter().flatten() {
        add(&choice["Next"]);
    }
    for catcher in field("Catch").as_array().into_iter().flatten() {
        add(&catcher["Next"]);
    }
    names.sort();
    names.dedup();
    names
}

pub async fn test_state(request: &Value) -> Result<Value, ApiError> {
    let (name, mut state) = state_of(request)?;
    let input = json_field(request, "input")?.unwrap_or_else(|| json!({}));
    let variables = json_object(request, "variables", "variable names to values")?;
    let context = json_object(
        request,
        "context",
        "context object fields (Execution, State, Task, Map, ...)",
    )?;
    let retriers = state.remove("Retry").unwrap_or(Value::Null);
    let mut states = Map::new();
    for target in targets(&state) {
        if target != name {
            states.insert(target, json!({ "Type": "Succeed" }));
        }
    }
    states.insert(name.clone(), Value::Object(state));
    let machine = StateMachine::from_value(&json!({ "StartAt": name, "States": states }))
        .map_err(|problems| invalid(format!("Invalid State Machine Definition: '{problems}'")))?;

    let mock = &request["mock"];
    let answer = if let Some(error) = mock.get("errorOutput").filter(|e| !e.is_null()) {
        Err(TaskError::new(
            error["error"].as_str().unwrap_or_default(),
            error["cause"].as_str().unwrap_or_default(),
        ))
    } else if let Some(result) = mock["result"].as_str() {
        Ok(serde_json::from_str(result).map_err(|e| {
            ApiError::new(
                ErrorCode::Validation,
                format!("mock.result is not JSON: {e}"),
            )
        })?)
    } else {
        Err(TaskError::new(
            "States.Runtime",
            "skein asl serve calls no services from TestState: give the Task a mock (result or errorOutput)",
        ))
    };
    let handle = Arc::new(OnceLock::new());
    let mut resources = Resources::new();
    resources.register_prefix(
        "",
        MockedTask {
            answer,
            handle: handle.clone(),
        },
    );
    let mut config = ExecutionConfig::new(Arc::new(resources));
    config.name = "test-state".into();
    config.variables = variables.unwrap_or_default();
    config.context = context;
    config.clock = Arc::new(SkippingClock::starting_at(chrono::Utc::now()));
    let execution = Execution::new(&machine, input.clone(), config);
    handle.set(execution.handle()).ok();
    let outcome = execution.run().await;
    let history = outcome.history.events();

    // The stub entered after the state is where it would go.
    let next_state = history
        .iter()
        .filter(|e| e.event_type == EventType::SucceedStateEntered)
        .filter_map(|e| e.state_name.as_deref())
        .find(|entered| *entered != name)
        .map(str::to_string);
    let failure = history
        .iter()
        .rev()
        .find(|e| e.error().is_some() && e.event_type != EventType::ExecutionFailed)
        .and_then(|e| {
            Some((
                e.error()?.to_string(),
                e.cause().unwrap_or_default().to_string(),
            ))
        })
        .or_else(|| {
            outcome
                .error
                .as_ref()
                .map(|f| (f.error.clone(), f.cause.clone()))
        });
    let retriable = failure.as_ref().is_some_and(|(error, _)| {
        retriers.as_array().into_iter().flatten().any(|retrier| {
            let names: Vec<String> = retrier["ErrorEquals"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect();
            retrier["MaxAttempts"].as_u64().unwrap_or(3) > 0
                && skein_asl::errors::handles(&names, error)
        })
    });

    let mut inspection = json!({ "input": input.to_string() });
    if let Some(scheduled) = history
        .iter()
        .find(|e| e.event_type == EventType::TaskScheduled)
        && let Some(parameters) = scheduled.parameters()
    {
        inspection["afterParameters"] = json!(parameters.to_string());
    }
    if let Some(result) = history
        .iter()
        .find(|e| e.event_type == EventType::TaskSucceeded)
        .and_then(|e| e.output.as_ref())
    {
        inspection["result"] = json!(result.to_string());
    }

    let mut answer = Map::new();
    let status = match (&failure, retriable, &outcome.output) {
        (Some(_), true, _) => "RETRIABLE",
        (Some(_), false, Some(_)) => "CAUGHT_ERROR",
        (Some(_), false, None) => "FAILED",
        (None, _, _) => "SUCCEEDED",
    };
    answer.insert("status".into(), json!(status));
    if let Some((error, cause)) = &failure {
        answer.insert("error".into(), json!(error));
        answer.insert("cause".into(), json!(cause));
    }
    if status == "SUCCEEDED" || status == "CAUGHT_ERROR" {
        if let Some(output) = &outcome.output {
            answer.insert("output".into(), json!(output.to_string()));
        }
        if let Some(next) = next_state {
            answer.insert("nextState".into(), json!(next));
        }
    }
    if status == "RETRIABLE" {
        answer.insert("nextState".into(), json!(name));
    }
    if request["inspectionLevel"]
        .as_str()
        .is_some_and(|l| l != "INFO")
    {
        answer.insert("inspectionData".into(), inspection);
    }
    Ok(Value::Object(answer))
}
