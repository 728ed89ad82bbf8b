//! The states that route and reshape data without calling out: Pass, Fail, Choice, Wait.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Failure;
use super::conclude::{Seen, conclude_jsonata, conclude_jsonata_with};
use super::data_flow::{
    Tail, context, evaluate_assign, fill, fill_scope, finish, path_failure, select_owned,
    view_input_path,
};
use super::engine::{Frame, OutputChange, Step};
use super::execution::Shared;
use super::scope::RunScope;
use super::{clock, payload};
use crate::errors;
use crate::machine::{
    self, InputPath, QueryLanguage, ResultPath, State, Test, Text, Transition, WaitFor,
};

pub(crate) fn run_pass(
    shared: &Shared,
    state: &State,
    pass: &machine::Pass,
    data: &mut Value,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<Transition, Failure> {
    let result = match (&pass.result, &pass.parameters) {
        (Some(result), _) => result.value.clone(),
        (None, Some(parameters)) => {
            let effective =
                view_input_path(&state.input_path, data, shared, state, entered, frame)?;
            let ctx = context(shared, state, entered, 0);
            fill(parameters, &effective, &ctx, &frame.variables)?
        }
        // ResultPath `$` (the default) does not need the raw input afterwards, so a Pass
        // that forwards its input can move it instead of copying it.
        (None, None) if matches!(pass.result_path, ResultPath::Replace) => {
            let input = std::mem::take(data);
            select_owned(&state.input_path, input, shared, state, entered, frame)?
        }
        (None, None) => {
            view_input_path(&state.input_path, data, shared, state, entered, frame)?.into_owned()
        }
    };
    let tail = Tail {
        assign: pass.assign.as_ref(),
        result_path: &pass.result_path,
        result_bound: pass.result.as_ref().map(|result| result.size_bound),
    };
    finish(shared, state, data, result, tail, entered, frame)?;
    if pass.result.is_none()
        && pass.parameters.is_none()
        && matches!(pass.result_path, ResultPath::Replace)
    {
        passes_input_on(shared, state, frame);
    }
    Ok(pass.next)
}

/// A JSONPath state whose output is its input, when no path selects from either: the
/// history records it as unchanged instead of copying it.
fn passes_input_on(shared: &Shared, state: &State, frame: &mut Frame) {
    if shared.config.record_payloads
        && state.language == QueryLanguage::JsonPath
        && matches!(state.input_path, InputPath::Whole)
        && matches!(state.output_path, InputPath::Whole)
    {
        frame.output_change = Some(OutputChange::Unchanged);
    }
}

pub(crate) fn run_fail(
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
            Some(Text::Dynamic(template)) => match fill(template, input, &ctx, &frame.variables)? {
                Value::Object(mut map) => match map.remove("value") {
                    Some(Value::String(s)) => s,
                    Some(other) => other.to_string(),
                    None => String::new(),
                },
                _ => String::new(),
            },
            Some(Text::Query(template)) => match fill(template, input, &ctx, &frame.variables)? {
                Value::String(s) => s,
                other => other.to_string(),
            },
        })
    };
    match (text(&fail.error), text(&fail.cause)) {
        (Ok(error), Ok(cause)) => Failure::new(error, cause),
        (Err(failure), _) | (_, Err(failure)) => failure,
    }
}

pub(crate) fn run_choice(
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
            if passes(&branch.test, &scope)? {
                chosen = Some((branch.next, branch.assign.as_ref(), branch.output.as_ref()));
                break;
            }
        }
    }
    let (next, assign, rule_output) = match (chosen, choice.default) {
        (Some(found), _) => found,
        (None, Some(default)) => (default, choice.assign.as_ref(), None),
        (None, None) => {
            return Err(Failure::new(
                errors::NO_CHOICE_MATCHED,
                format!("No Matches in state '{}' and no Default", state.name),
            ));
        }
    };
    if state.language == QueryLanguage::Jsonata {
        let output = rule_output.or(state.output.as_ref());
        let seen = Seen::input(effective);
        let output = conclude_jsonata_with(shared, state, seen, assign, output, entered, frame)?;
        return Ok((Transition::Next(next), output));
    }
    let assigned = evaluate_assign(assign, &effective, &ctx, &frame.variables)?;
    let output = select_owned(&state.output_path, effective, shared, state, entered, frame)?;
    if let Some(values) = assigned {
        frame.variables.assign(values);
    }
    passes_input_on(shared, state, frame);
    Ok((Transition::Next(next), output))
}

fn passes(test: &Test, scope: &RunScope) -> Result<bool, Failure> {
    match test {
        Test::Rule(rule) => rule.matches(scope).map_err(Failure::runtime),
        Test::Condition(condition) => match fill_scope(condition, scope)? {
            Value::Bool(passed) => Ok(passed),
            other => Err(Failure::new(
                errors::QUERY_EVALUATION_ERROR,
                format!("A Condition must give true or false, not {other}"),
            )),
        },
    }
}

pub(crate) async fn run_wait(
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
    if state.language == QueryLanguage::Jsonata {
        let seen = Seen::input(effective);
        let output = conclude_jsonata(shared, state, seen, wait.assign.as_ref(), entered, frame)?;
        return Ok((wait.next, output));
    }
    let ctx = context(shared, state, entered, 0);
    let assigned = evaluate_assign(wait.assign.as_ref(), &effective, &ctx, &frame.variables)?;
    let output = select_owned(&state.output_path, effective, shared, state, entered, frame)?;
    if let Some(values) = assigned {
        frame.variables.assign(values);
    }
    passes_input_on(shared, state, frame);
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
        WaitFor::TimestampQuery(template) => {
            let value = fill(template, input, &ctx, &frame.variables)?;
            let at = value
                .as_str()
                .and_then(crate::choice::timestamp)
                .ok_or_else(|| {
                    Failure::new(
                        errors::QUERY_EVALUATION_ERROR,
                        format!("Timestamp gave {value}, which is not an RFC 3339 timestamp such as 2026-01-31T12:00:00Z"),
                    )
                })?;
            Ok(clock::until(clock, at.with_timezone(&Utc)))
        }
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
