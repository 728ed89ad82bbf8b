//! The state loop: enter a state, run it, exit it, follow the transition. Pass, Choice, Wait,
//! Succeed and Fail run here; Task in `task.rs`, Parallel and Map in `fanout.rs`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde_json::{Map, Value};

use super::execution::Shared;
use super::history::{EventType, HistoryEvent};
use super::scope::{RunScope, StateContext, Variables};
use super::{Failure, clock, fanout, payload, task};
use crate::StateMachine;
use crate::errors;
use crate::machine::{self, Graph, InputPath, Kind, ResultPath, State, Text, Transition, WaitFor};
use crate::path::PathError;
use crate::template::{Template, TemplateError};

/// Where a run of states is: its variables, its place in the execution (for task tokens),
/// and the last history event it recorded.
pub(crate) struct Frame {
    pub(crate) variables: Variables,
    pub(crate) location: Arc<str>,
    pub(crate) previous: u64,
    pub(crate) steps: u64,
}

/// What a state hands to the loop: where to go next, and its output.
pub(crate) type Step = (Transition, Value);

pub(crate) async fn run_machine(
    shared: &Arc<Shared>,
    machine: &StateMachine,
    input: Value,
    first: u64,
) -> Result<Value, Failure> {
    payload::check_size(shared, &input, "The execution input")?;
    let mut frame = Frame {
        variables: Variables::default(),
        location: "".into(),
        previous: first,
        steps: 0,
    };
    run_graph(shared, &machine.graph, input, &mut frame).await
}

pub(crate) fn run_graph<'a>(
    shared: &'a Arc<Shared>,
    graph: &'a Graph,
    mut input: Value,
    frame: &'a mut Frame,
) -> BoxFuture<'a, Result<Value, Failure>> {
    Box::pin(async move {
        let mut current = graph.start;
        // A state's recorded output is the next state's recorded input: record it once.
        let mut recorded_input = shared.payload(&input);
        let mut entered = shared.now();
        loop {
            let state = &graph.states[current];
            // Event ids count every event so far, so the last id this run recorded is enough.
            if frame.previous as usize >= shared.config.max_history_events {
                return Err(Failure::runtime(format!(
                    "The execution history reached its limit of {} events (a state loop that never ends?)",
                    shared.config.max_history_events
                )));
            }
            let type_name = state.kind.type_name();
            frame.steps += 1;
            let event = HistoryEvent::new(EventType::entered(type_name), entered)
                .state(&state.name)
                .input(recorded_input.take());
            frame.previous = shared.record(frame.previous, event);

            let (next, output) = run_state(shared, state, input, entered, frame).await?;

            let exited = shared.now();
            let recorded_output = shared.payload(&output);
            let event = HistoryEvent::new(EventType::exited(type_name), exited)
                .state(&state.name)
                .output(recorded_output.clone());
            frame.previous = shared.record(frame.previous, event);
            recorded_input = recorded_output;
            entered = exited;
            match next {
                Transition::End => return Ok(output),
                Transition::Next(index) => {
                    current = index;
                    input = output;
                }
            }
        }
    })
}

async fn run_state(
    shared: &Arc<Shared>,
    state: &State,
    input: Value,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    match &state.kind {
        Kind::Pass(pass) => run_pass(shared, state, pass, input, entered, frame),
        Kind::Succeed => {
            let effective = select_owned(&state.input_path, input, shared, state, entered, frame)?;
            let output =
                select_owned(&state.output_path, effective, shared, state, entered, frame)?;
            Ok((Transition::End, output))
        }
        Kind::Fail(fail) => Err(run_fail(shared, state, fail, &input, entered, frame)),
        Kind::Choice(choice) => run_choice(shared, state, choice, input, entered, frame),
        Kind::Wait(wait) => run_wait(shared, state, wait, input, entered, frame).await,
        Kind::Task(t) => task::run(shared, state, t, input, entered, frame).await,
        Kind::Parallel(p) => fanout::run_parallel(shared, state, p, input, entered, frame).await,
        Kind::Map(m) => fanout::run_map(shared, state, m, input, entered, frame).await,
    }
}

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

/// Fills a template; failures become `on_path_error` or `States.IntrinsicFailure`.
pub(crate) fn fill(
    template: &Template,
    input: &Value,
    ctx: &StateContext,
    variables: &Variables,
    on_path_error: &str,
) -> Result<Value, Failure> {
    let scope = RunScope::new(input, ctx, variables);
    template.eval(&scope).map_err(|e| match e {
        TemplateError::Path(p) => path_failure(on_path_error, p),
        TemplateError::Intrinsic(message) => Failure::new(errors::INTRINSIC_FAILURE, message),
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
    match fill(template, input, ctx, variables, errors::RUNTIME)? {
        Value::Object(values) => Ok(Some(values)),
        _ => Ok(None),
    }
}

/// ResultPath: puts `result` into the state's raw input.
pub(crate) fn apply_result_path(
    result_path: &ResultPath,
    raw_input: Value,
    result: Value,
) -> Result<Value, Failure> {
    match result_path {
        ResultPath::Replace => Ok(result),
        ResultPath::Discard => Ok(raw_input),
        ResultPath::At(path) => {
            let mut target = raw_input;
            path.set(&mut target, result)
                .map_err(|cause| Failure::new(errors::RESULT_PATH_MATCH_FAILURE, cause))?;
            Ok(target)
        }
    }
}

/// What a result-producing state does with its result.
pub(crate) struct Tail<'a> {
    pub(crate) assign: Option<&'a Template>,
    pub(crate) result_path: &'a ResultPath,
}

/// The tail every result-producing state shares: Assign, ResultPath, OutputPath, size check.
pub(crate) fn finish(
    shared: &Shared,
    state: &State,
    raw_input: Value,
    result: Value,
    tail: Tail,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    let ctx = context(shared, state, entered, 0);
    let assigned = evaluate_assign(tail.assign, &result, &ctx, &frame.variables)?;
    let combined = apply_result_path(tail.result_path, raw_input, result)?;
    let output = select_owned(&state.output_path, combined, shared, state, entered, frame)?;
    payload::check_size(
        shared,
        &output,
        &format!("The output of state '{}'", state.name),
    )?;
    if let Some(values) = assigned {
        frame.variables.assign(values);
    }
    Ok(output)
}

fn run_pass(
    shared: &Shared,
    state: &State,
    pass: &machine::Pass,
    input: Value,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    // ResultPath `$` (the default) does not need the raw input afterwards, so a Pass that
    // forwards its input can move it instead of copying it.
    let keeps_raw_input = !matches!(pass.result_path, ResultPath::Replace);
    let (result, input) = match (&pass.result, &pass.parameters) {
        (Some(result), _) => (result.clone(), input),
        (None, Some(parameters)) => {
            let effective =
                view_input_path(&state.input_path, &input, shared, state, entered, frame)?;
            let ctx = context(shared, state, entered, 0);
            let result = fill(
                parameters,
                &effective,
                &ctx,
                &frame.variables,
                errors::PARAMETER_PATH_FAILURE,
            )?;
            drop(effective);
            (result, input)
        }
        (None, None) if !keeps_raw_input => (
            select_owned(&state.input_path, input, shared, state, entered, frame)?,
            Value::Null,
        ),
        (None, None) => {
            let effective =
                view_input_path(&state.input_path, &input, shared, state, entered, frame)?
                    .into_owned();
            (effective, input)
        }
    };
    let tail = Tail {
        assign: pass.assign.as_ref(),
        result_path: &pass.result_path,
    };
    let output = finish(shared, state, input, result, tail, entered, frame)?;
    Ok((pass.next, output))
}

fn run_fail(
    shared: &Shared,
    state: &State,
    fail: &machine::Fail,
    input: &Value,
    entered: DateTime<Utc>,
    frame: &Frame,
) -> Failure {
    let ctx = context(shared, state, entered, 0);
    let text = |text: &Option<Text>| -> Result<String, Failure> {
        Ok(match text {
            None => String::new(),
            Some(Text::Fixed(s)) => s.clone(),
            Some(Text::Dynamic(template)) => {
                match fill(template, input, &ctx, &frame.variables, errors::RUNTIME)? {
                    Value::Object(mut map) => match map.remove("value") {
                        Some(Value::String(s)) => s,
                        Some(other) => other.to_string(),
                        None => String::new(),
                    },
                    _ => String::new(),
                }
            }
        })
    };
    match (text(&fail.error), text(&fail.cause)) {
        (Ok(error), Ok(cause)) => Failure::new(error, cause),
        (Err(failure), _) | (_, Err(failure)) => failure,
    }
}

fn run_choice(
    shared: &Shared,
    state: &State,
    choice: &machine::Choice,
    input: Value,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    let effective = select_owned(&state.input_path, input, shared, state, entered, frame)?;
    let ctx = context(shared, state, entered, 0);
    let mut chosen = None;
    {
        let scope = RunScope::new(&effective, &ctx, &frame.variables);
        for branch in &choice.rules {
            if branch.rule.matches(&scope).map_err(Failure::runtime)? {
                chosen = Some((branch.next, branch.assign.as_ref()));
                break;
            }
        }
    }
    let (next, assign) = match (chosen, choice.default) {
        (Some(found), _) => found,
        (None, Some(default)) => (default, choice.assign.as_ref()),
        (None, None) => {
            return Err(Failure::new(
                errors::NO_CHOICE_MATCHED,
                format!("No Matches in state '{}' and no Default", state.name),
            ));
        }
    };
    let assigned = evaluate_assign(assign, &effective, &ctx, &frame.variables)?;
    let output = select_owned(&state.output_path, effective, shared, state, entered, frame)?;
    if let Some(values) = assigned {
        frame.variables.assign(values);
    }
    Ok((Transition::Next(next), output))
}

async fn run_wait(
    shared: &Arc<Shared>,
    state: &State,
    wait: &machine::Wait,
    input: Value,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    let effective = select_owned(&state.input_path, input, shared, state, entered, frame)?;
    let delay = wait_duration(shared, state, &wait.until, &effective, entered, frame)?;
    shared.config.clock.sleep(delay).await;
    let ctx = context(shared, state, entered, 0);
    let assigned = evaluate_assign(wait.assign.as_ref(), &effective, &ctx, &frame.variables)?;
    let output = select_owned(&state.output_path, effective, shared, state, entered, frame)?;
    if let Some(values) = assigned {
        frame.variables.assign(values);
    }
    Ok((wait.next, output))
}

fn wait_duration(
    shared: &Shared,
    state: &State,
    until: &WaitFor,
    input: &Value,
    entered: DateTime<Utc>,
    frame: &Frame,
) -> Result<Duration, Failure> {
    let ctx = context(shared, state, entered, 0);
    let clock = shared.config.clock.as_ref();
    match until {
        WaitFor::Seconds(number) => {
            let seconds = payload::number(number, input, &ctx, &frame.variables, "SecondsPath")?;
            Ok(Duration::from_secs_f64(seconds))
        }
        WaitFor::Timestamp(at) => Ok(clock::until(clock, at.with_timezone(&Utc))),
        WaitFor::TimestampPath(path) => {
            let scope = RunScope::new(input, &ctx, &frame.variables);
            let value = path
                .eval(&scope)
                .map_err(|e| path_failure(errors::RUNTIME, e))?;
            let at = value
                .as_str()
                .and_then(crate::choice::timestamp)
                .ok_or_else(|| {
                    Failure::runtime(format!(
                        "TimestampPath '{}' gave {}, which is not an RFC 3339 timestamp",
                        path.text(),
                        value
                    ))
                })?;
            Ok(clock::until(clock, at.with_timezone(&Utc)))
        }
    }
}
