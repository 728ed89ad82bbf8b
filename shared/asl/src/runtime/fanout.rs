//! Parallel and Map: run sub-machines concurrently (within the execution's task, without
//! spawning), with Map's MaxConcurrency and tolerated failures.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::future::try_join_all;
use serde_json::Value;

use super::data_flow::{context, fill, path_failure};
use super::engine::{Frame, Step, run_graph};
use super::execution::Shared;
use super::history::{EventType, HistoryEvent};
use super::recovery::{self, Work};
use super::scope::{RunScope, Variables};
use super::{Failure, payload};
use crate::errors;
use crate::machine::{self, QueryLanguage, State};
use crate::path::type_name;

pub(crate) async fn run_parallel(
    shared: &Arc<Shared>,
    state: &State,
    parallel: &machine::Parallel,
    input: Value,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    recovery::run(
        shared,
        state,
        Work::Parallel(parallel),
        input,
        entered,
        frame,
    )
    .await
}

pub(crate) async fn run_map(
    shared: &Arc<Shared>,
    state: &State,
    map: &machine::Map,
    input: Value,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    recovery::run(shared, state, Work::Map(map), input, entered, frame).await
}

fn child(
    frame: &Frame,
    variables: &Arc<Variables>,
    state: &State,
    index: usize,
    previous: u64,
) -> Frame {
    Frame {
        variables: Variables::child_of(variables),
        location: format!("{}/{}[{index}]", frame.location, state.name).into(),
        previous,
        steps: 0,
        input_bound: None,
        output_bound: None,
        output_change: None,
        recorded: None,
    }
}

pub(crate) async fn parallel_attempt(
    shared: &Arc<Shared>,
    state: &State,
    parallel: &machine::Parallel,
    effective: &Value,
    entered: DateTime<Utc>,
    retry_count: u32,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    let branch_input = match &parallel.parameters {
        Some(template) => fill(
            template,
            effective,
            &context(shared, state, entered, retry_count),
            &frame.variables,
        )?,
        None => effective.clone(),
    };
    let started = shared.record(
        frame.previous,
        HistoryEvent::new(EventType::ParallelStateStarted, shared.now()).state(&state.name),
    );
    frame.previous = started;
    let variables = Arc::new(frame.variables.clone());
    let branches = parallel.branches.iter().enumerate().map(|(index, branch)| {
        let mut branch_frame = child(frame, &variables, state, index, started);
        let input = branch_input.clone();
        async move { run_graph(shared, branch, input, &mut branch_frame).await }
    });
    let result = try_join_all(branches).await;
    let last = shared.event_count() as u64;
    match result {
        Ok(outputs) => {
            frame.previous = shared.record(
                last,
                HistoryEvent::new(EventType::ParallelStateSucceeded, shared.now())
                    .state(&state.name),
            );
            Ok(Value::Array(outputs))
        }
        Err(failure) => {
            let event = HistoryEvent::new(EventType::ParallelStateFailed, shared.now())
                .state(&state.name)
                .failure(&failure.error, &failure.cause);
            frame.previous = shared.record(last, event);
            Err(failure)
        }
    }
}

/// How many failed iterations a Map accepts before it fails.
struct Tolerance {
    configured: bool,
    count: f64,
    percentage: f64,
}

impl Tolerance {
    fn exceeded(&self, failures: usize, total: usize) -> bool {
        let failures = failures as f64;
        failures > self.count || failures * 100.0 / total as f64 > self.percentage
    }
}

pub(crate) async fn map_attempt(
    shared: &Arc<Shared>,
    state: &State,
    map: &machine::Map,
    effective: &Value,
    entered: DateTime<Utc>,
    retry_count: u32,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    let ctx = context(shared, state, entered, retry_count);
    let items = match (&map.items, &map.items_path) {
        (Some(items), _) => fill(items, effective, &ctx, &frame.variables)?,
        (None, None) => effective.clone(),
        (None, Some(path)) => path
            .eval(&RunScope::new(effective, &ctx, &frame.variables))
            .map_err(|e| path_failure(errors::RUNTIME, e))?
            .into_owned(),
    };
    let Value::Array(items) = items else {
        let (error, field) = match state.language {
            QueryLanguage::JsonPath => (errors::RUNTIME, "ItemsPath selected"),
            QueryLanguage::Jsonata => (errors::QUERY_EVALUATION_ERROR, "Items (or its input) is"),
        };
        return Err(Failure::new(
            error,
            format!(
                "The Map state '{}' needs an array to iterate over; its {field} a {}",
                state.name,
                type_name(&items)
            ),
        ));
    };
    let number = |n: &Option<machine::Number>, field| {
        n.as_ref()
            .map(|n| payload::number(n, effective, &ctx, &frame.variables, field))
            .transpose()
    };
    let max_concurrency =
        number(&map.max_concurrency, "MaxConcurrencyPath")?.unwrap_or(0.0) as usize;
    let tolerated_count = number(&map.tolerated_count, "ToleratedFailureCountPath")?;
    let tolerated_percentage = number(&map.tolerated_percentage, "ToleratedFailurePercentagePath")?;
    let tolerance = Tolerance {
        configured: tolerated_count.is_some() || tolerated_percentage.is_some(),
        count: tolerated_count.unwrap_or(f64::INFINITY),
        percentage: tolerated_percentage.unwrap_or(100.0),
    };

    let total = items.len();
    let mut inputs = Vec::with_capacity(total);
    for (index, item) in items.into_iter().enumerate() {
        inputs.push(match &map.item_selector {
            None => item,
            Some(selector) => {
                let mut item_ctx = context(shared, state, entered, retry_count);
                item_ctx.map_item = Some((index, &item));
                fill(selector, effective, &item_ctx, &frame.variables)?
            }
        });
    }

    let started = HistoryEvent::new(EventType::MapStateStarted, shared.now())
        .state(&state.name)
        .at_index(total);
    let started = shared.record(frame.previous, started);
    frame.previous = started;

    let variables = Arc::new(frame.variables.clone());
    let processor = &map.processor;
    let iterations = inputs.into_iter().enumerate().map(|(index, input)| {
        let mut iteration = child(frame, &variables, state, index, started);
        async move {
            let begin = HistoryEvent::new(EventType::MapIterationStarted, shared.now())
                .state(&state.name)
                .at_index(index);
            iteration.previous = shared.record(iteration.previous, begin);
            let result = run_graph(shared, processor, input, &mut iteration).await;
            let end = match &result {
                Ok(_) => HistoryEvent::new(EventType::MapIterationSucceeded, shared.now()),
                Err(f) => HistoryEvent::new(EventType::MapIterationFailed, shared.now())
                    .failure(&f.error, &f.cause),
            };
            shared.record(iteration.previous, end.state(&state.name).at_index(index));
            (index, result)
        }
    });
    let limit = if max_concurrency == 0 {
        total.max(1)
    } else {
        max_concurrency
    };
    let mut running = futures_util::stream::iter(iterations).buffer_unordered(limit);

    let mut outputs = vec![Value::Null; total];
    let mut failures = 0usize;
    let mut outcome = Ok(());
    while let Some((index, result)) = running.next().await {
        match result {
            Ok(output) => outputs[index] = output,
            Err(failure) if !tolerance.configured => {
                outcome = Err(failure);
                break;
            }
            Err(failure) => {
                failures += 1;
                outputs[index] = failure.to_error_output();
                if tolerance.exceeded(failures, total) {
                    outcome = Err(Failure::new(
                        errors::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                        format!(
                            "The Map state '{}' failed because {failures} of {total} iterations failed, more than it tolerates",
                            state.name
                        ),
                    ));
                    break;
                }
            }
        }
    }
    drop(running);
    let last = shared.event_count() as u64;
    match outcome {
        Ok(()) => {
            frame.previous = shared.record(
                last,
                HistoryEvent::new(EventType::MapStateSucceeded, shared.now()).state(&state.name),
            );
            Ok(Value::Array(outputs))
        }
        Err(failure) => {
            let event = HistoryEvent::new(EventType::MapStateFailed, shared.now())
                .state(&state.name)
                .failure(&failure.error, &failure.cause);
            frame.previous = shared.record(last, event);
            Err(failure)
        }
    }
}
