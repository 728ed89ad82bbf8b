//! Retry and Catch around the states that do work (Task, Parallel, Map).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::Value;

use super::conclude::{Seen, conclude_jsonata_with};
use super::data_flow::{
    Tail, apply_result_path, context, evaluate_assign, fill, finish, view_input_path,
};
use super::engine::{Frame, Step};
use super::execution::Shared;
use super::{Failure, fanout, task};
use crate::errors;
use crate::machine::{self, QueryLanguage, Recovery, ResultPath, State, Transition};
use crate::template::Template;

#[derive(Clone, Copy)]
pub(crate) enum Work<'a> {
    Task(&'a machine::Task),
    Parallel(&'a machine::Parallel),
    Map(&'a machine::Map),
}

struct Parts<'a> {
    recovery: &'a Recovery,
    result_selector: Option<&'a Template>,
    result_path: &'a ResultPath,
    assign: Option<&'a Template>,
    next: Transition,
}

impl<'a> Work<'a> {
    fn parts(self) -> Parts<'a> {
        match self {
            Work::Task(t) => Parts {
                recovery: &t.recovery,
                result_selector: t.result_selector.as_ref(),
                result_path: &t.result_path,
                assign: t.assign.as_ref(),
                next: t.next,
            },
            Work::Parallel(p) => Parts {
                recovery: &p.recovery,
                result_selector: p.result_selector.as_ref(),
                result_path: &p.result_path,
                assign: p.assign.as_ref(),
                next: p.next,
            },
            Work::Map(m) => Parts {
                recovery: &m.recovery,
                result_selector: m.result_selector.as_ref(),
                result_path: &m.result_path,
                assign: m.assign.as_ref(),
                next: m.next,
            },
        }
    }
}

pub(crate) async fn run(
    shared: &Arc<Shared>,
    state: &State,
    work: Work<'_>,
    mut input: Value,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    let parts = work.parts();
    let kept_for_catch = (!parts.recovery.catch.is_empty()).then(|| input.clone());
    let outcome = match attempts(shared, state, work, &parts, &input, entered, frame).await {
        Ok(result) => {
            let tail = Tail {
                assign: parts.assign,
                result_path: parts.result_path,
                result_bound: None,
            };
            finish(shared, state, &mut input, result, tail, entered, frame).map(|()| input)
        }
        Err(failure) => Err(failure),
    };
    match (outcome, kept_for_catch) {
        (Ok(output), _) => Ok((parts.next, output)),
        (Err(failure), Some(raw_input)) => catch(
            shared,
            state,
            parts.recovery,
            raw_input,
            failure,
            entered,
            frame,
        ),
        (Err(failure), None) => Err(failure),
    }
}

async fn attempts(
    shared: &Arc<Shared>,
    state: &State,
    work: Work<'_>,
    parts: &Parts<'_>,
    input: &Value,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    let effective = view_input_path(&state.input_path, input, shared, state, entered, frame)?;
    let mut retry_count = 0u32;
    let mut used = vec![0u64; parts.recovery.retry.len()];
    loop {
        let result = match work {
            Work::Task(t) => {
                task::attempt(shared, state, t, &effective, entered, retry_count, frame).await
            }
            Work::Parallel(p) => {
                fanout::parallel_attempt(shared, state, p, &effective, entered, retry_count, frame)
                    .await
            }
            Work::Map(m) => {
                fanout::map_attempt(shared, state, m, &effective, entered, retry_count, frame).await
            }
        };
        let result = result.and_then(|raw| match parts.result_selector {
            None => Ok(raw),
            Some(selector) => fill(
                selector,
                &raw,
                &context(shared, state, entered, retry_count),
                &frame.variables,
            ),
        });
        match result {
            Ok(value) => return Ok(value),
            Err(failure) => match next_delay(shared, &parts.recovery.retry, &mut used, &failure) {
                Some(delay) => {
                    shared.config.clock.sleep(delay).await;
                    retry_count += 1;
                }
                None => return Err(failure),
            },
        }
    }
}

/// The back-off before the next attempt, or `None` when no retrier has attempts left. Only
/// the first retrier that names the error counts, as on Step Functions.
fn next_delay(
    shared: &Shared,
    retriers: &[machine::Retry],
    used: &mut [u64],
    failure: &Failure,
) -> Option<Duration> {
    let index = retriers
        .iter()
        .position(|r| errors::handles(&r.errors, &failure.error))?;
    let retrier = &retriers[index];
    if used[index] >= retrier.max_attempts {
        return None;
    }
    let mut seconds = retrier.interval_seconds * retrier.backoff_rate.powi(used[index] as i32);
    if let Some(max) = retrier.max_delay_seconds {
        seconds = seconds.min(max);
    }
    if retrier.full_jitter {
        seconds = shared
            .rng
            .lock()
            .expect("rng lock")
            .random_range(0.0..=seconds);
    }
    used[index] += 1;
    Some(Duration::from_secs_f64(seconds))
}

fn catch(
    shared: &Shared,
    state: &State,
    recovery: &Recovery,
    raw_input: Value,
    failure: Failure,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    let Some(catcher) = recovery
        .catch
        .iter()
        .find(|c| errors::handles(&c.errors, &failure.error))
    else {
        return Err(failure);
    };
    let error_output = failure.to_error_output();
    if state.language == QueryLanguage::Jsonata {
        let seen = Seen {
            input: raw_input,
            result: None,
            error_output: Some(error_output),
        };
        let assign = catcher.assign.as_ref();
        let output = catcher.output.as_ref();
        let output = conclude_jsonata_with(shared, state, seen, assign, output, entered, frame)?;
        return Ok((Transition::Next(catcher.next), output));
    }
    let ctx = context(shared, state, entered, 0);
    let assigned = evaluate_assign(
        catcher.assign.as_ref(),
        &error_output,
        &ctx,
        &frame.variables,
    )?;
    let output = apply_result_path(&catcher.result_path, raw_input, error_output)?;
    if let Some(values) = assigned {
        frame.variables.assign(values);
    }
    Ok((Transition::Next(catcher.next), output))
}
