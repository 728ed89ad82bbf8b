//! How a JSONPath state's data flows: InputPath, Parameters and the payload templates,
//! ResultPath, OutputPath and Assign, and the tail every result-producing state shares.
//! JSONata states end in `conclude.rs`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::conclude::{Seen, conclude_jsonata};
use super::engine::{Frame, OutputChange};
use super::execution::Shared;
use super::scope::{RunScope, StateContext, Variables};
use super::{Failure, payload};
use crate::errors;
use crate::machine::{InputPath, Kind, QueryLanguage, ResultPath, State};
use crate::path::PathError;
use crate::template::{Template, TemplateError};

pub(crate) fn context<'a>(
    shared: &'a Shared,
    state: &'a State,
    entered: DateTime<Utc>,
    retry_count: u32,
) -> StateContext<'a> {
    StateContext {
        execution: &shared.info,
        state_name: &state.name,
        entered_time: entered,
        retry_count,
        task_token: None,
        map_item: None,
    }
}

pub(crate) fn apply_input_path(
    path: &InputPath,
    value: &Value,
    shared: &Shared,
    state: &State,
    entered: DateTime<Utc>,
    frame: &Frame,
) -> Result<Value, Failure> {
    match path {
        InputPath::Whole => Ok(value.clone()),
        InputPath::Empty => Ok(Value::Object(Map::new())),
        InputPath::Select(path) => {
            let ctx = context(shared, state, entered, 0);
            let scope = RunScope::new(value, &ctx, &frame.variables);
            path.eval(&scope)
                .map(|v| v.into_owned())
                .map_err(|e| path_failure(errors::RUNTIME, e))
        }
    }
}

/// Applies an OutputPath (or InputPath) to a value we own: `$` moves it instead of copying.
pub(crate) fn select_owned(
    path: &InputPath,
    value: Value,
    shared: &Shared,
    state: &State,
    entered: DateTime<Utc>,
    frame: &Frame,
) -> Result<Value, Failure> {
    match path {
        InputPath::Whole => Ok(value),
        other => apply_input_path(other, &value, shared, state, entered, frame),
    }
}

/// Like [`apply_input_path`], without copying the input when the whole of it is selected.
pub(crate) fn view_input_path<'v>(
    path: &InputPath,
    value: &'v Value,
    shared: &Shared,
    state: &State,
    entered: DateTime<Utc>,
    frame: &Frame,
) -> Result<std::borrow::Cow<'v, Value>, Failure> {
    match path {
        InputPath::Whole => Ok(std::borrow::Cow::Borrowed(value)),
        other => apply_input_path(other, value, shared, state, entered, frame)
            .map(std::borrow::Cow::Owned),
    }
}

pub(crate) fn path_failure(error: &str, e: PathError) -> Failure {
    Failure::new(error, e.message)
}

/// Fills a template. A path that finds nothing is `States.Runtime`, which no Retry or
/// Catch handles: Step Functions fails the execution there (not with the spec's
/// `States.ParameterPathFailure`; see the conformance case "A Parameters path that finds
/// nothing is States.Runtime"). Intrinsic functions that fail are `States.IntrinsicFailure`.
pub(crate) fn fill(
    template: &Template,
    input: &Value,
    ctx: &StateContext,
    variables: &Variables,
) -> Result<Value, Failure> {
    fill_scope(template, &RunScope::new(input, ctx, variables))
}

/// [`fill`], for a scope that also holds JSONata's `$states.result` or `errorOutput`.
pub(crate) fn fill_scope(template: &Template, scope: &RunScope) -> Result<Value, Failure> {
    template.eval(scope).map_err(|e| match e {
        TemplateError::Path(p) => path_failure(errors::RUNTIME, p),
        TemplateError::Intrinsic(message) => Failure::new(errors::INTRINSIC_FAILURE, message),
        TemplateError::Query(message) => Failure::new(errors::QUERY_EVALUATION_ERROR, message),
    })
}

/// Evaluates an Assign block (against `input`, seeing the variables as they were).
pub(crate) fn evaluate_assign(
    assign: Option<&Template>,
    input: &Value,
    ctx: &StateContext,
    variables: &Variables,
) -> Result<Option<Map<String, Value>>, Failure> {
    let Some(template) = assign else {
        return Ok(None);
    };
    match fill(template, input, ctx, variables)? {
        Value::Object(values) => Ok(Some(values)),
        _ => Ok(None),
    }
}

/// ResultPath: puts `result` into the state's raw input.
pub(crate) fn apply_result_path(
    result_path: &ResultPath,
    mut raw_input: Value,
    result: Value,
) -> Result<Value, Failure> {
    put_result(result_path, &mut raw_input, result)?;
    Ok(raw_input)
}

/// ResultPath, in place: turns the state's raw input in `data` into its result combined.
pub(crate) fn put_result(
    result_path: &ResultPath,
    data: &mut Value,
    result: Value,
) -> Result<(), Failure> {
    match result_path {
        ResultPath::Replace => *data = result,
        ResultPath::Discard => {}
        ResultPath::At(path) => path
            .set(data, result)
            .map_err(|cause| Failure::new(errors::RESULT_PATH_MATCH_FAILURE, cause))?,
    }
    Ok(())
}

/// What a result-producing state does with its result.
pub(crate) struct Tail<'a> {
    pub(crate) assign: Option<&'a Template>,
    pub(crate) result_path: &'a ResultPath,
    /// An upper bound of the result's size, when it is known before the state runs.
    pub(crate) result_bound: Option<usize>,
}

/// The tail every result-producing state shares: Assign, ResultPath, OutputPath, size check.
/// `data` holds the state's raw input, and its output once this succeeds.
pub(crate) fn finish(
    shared: &Shared,
    state: &State,
    data: &mut Value,
    result: Value,
    tail: Tail,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<(), Failure> {
    if state.language == QueryLanguage::Jsonata {
        let raw_input = std::mem::take(data);
        let seen = match state.kind {
            Kind::Task(_) | Kind::Parallel(_) | Kind::Map(_) => Seen {
                input: raw_input,
                result: Some(result),
                error_output: None,
            },
            // A JSONata Pass has no `$states.result`: what it hands on is its input (which
            // `run_pass` moved into `result`), unless Output says otherwise.
            _ => Seen::input(result),
        };
        *data = conclude_jsonata(shared, state, seen, tail.assign, entered, frame)?;
        return Ok(());
    }
    let ctx = context(shared, state, entered, 0);
    let assigned = evaluate_assign(tail.assign, &result, &ctx, &frame.variables)?;
    let limit = shared.config.max_payload_bytes;
    let known = match (tail.result_path, frame.input_bound, &state.output_path) {
        (ResultPath::At(path), Some(bound), InputPath::Whole) => {
            let result_bound = tail
                .result_bound
                .unwrap_or_else(|| payload::size_bound(&result, limit));
            Some(payload::grown_bound(bound, result_bound, path.text()))
        }
        (ResultPath::Discard, Some(bound), InputPath::Whole) => Some(bound),
        _ => None,
    };
    let change = match (tail.result_path, &state.output_path) {
        _ if !shared.config.record_payloads => None,
        (ResultPath::At(path), InputPath::Whole) => {
            Some(OutputChange::Put(path.clone(), result.clone()))
        }
        (ResultPath::Discard, InputPath::Whole) => Some(OutputChange::Unchanged),
        _ => None,
    };
    put_result(tail.result_path, data, result)?;
    if !matches!(state.output_path, InputPath::Whole) {
        *data = apply_input_path(&state.output_path, data, shared, state, entered, frame)?;
    }
    let bound = match known {
        Some(bound) if bound <= limit => bound,
        _ => payload::check_size(
            shared,
            data,
            format_args!("The output of state '{}'", state.name),
        )?,
    };
    frame.output_bound = Some(bound);
    frame.output_change = change;
    if let Some(values) = assigned {
        frame.variables.assign(values);
    }
    Ok(())
}
