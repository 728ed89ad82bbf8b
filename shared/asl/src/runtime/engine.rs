//! The state loop: enter a state, run it, exit it, follow the transition. The states run in
//! `states.rs` (Pass, Choice, Wait, Fail), `task.rs` and `fanout.rs` (Parallel, Map); how
//! their data flows through the paths and templates is in `data_flow.rs`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde_json::Value;

use super::conclude::{Seen, conclude_jsonata};
use super::data_flow::select_owned;
use super::execution::Shared;
use super::history::{EventType, HistoryEvent};
use super::recorded::Payload;
use super::scope::Variables;
use super::{Failure, fanout, payload, states, task};
use crate::StateMachine;
use crate::machine::{Graph, Kind, QueryLanguage, State, Transition};
use crate::path::ReferencePath;

/// Where a run of states is: its variables, its place in the execution (for task tokens),
/// and the last history event it recorded.
pub(crate) struct Frame {
    pub(crate) variables: Variables,
    pub(crate) location: Arc<str>,
    pub(crate) previous: u64,
    pub(crate) steps: u64,
    /// An upper bound of the current state's input size, when known, and of its output once
    /// [`finish`] has checked it: the payload limit is then checked without a full walk.
    pub(crate) input_bound: Option<usize>,
    pub(crate) output_bound: Option<usize>,
    /// How the state's output differs from its input, when it is that simple: the history
    /// then records the change, not a copy (see [`Payload`]).
    pub(crate) output_change: Option<OutputChange>,
    /// How the run's input was recorded, when the caller has it already (else it is recorded
    /// here); how its output was recorded, once it ends.
    pub(crate) recorded: Option<Payload>,
}

pub(crate) enum OutputChange {
    Unchanged,
    Put(Arc<ReferencePath>, Value),
}

/// What a state hands to the loop: where to go next, and its output.
pub(crate) type Step = (Transition, Value);

/// Runs the machine from its start. `recorded` is the input as ExecutionStarted recorded it,
/// which the first state's entered event shares; the output comes back with its recording,
/// for ExecutionSucceeded to share.
pub(crate) async fn run_machine(
    shared: &Arc<Shared>,
    machine: &StateMachine,
    input: Value,
    recorded: Option<Payload>,
    first: u64,
) -> Result<(Value, Option<Payload>), Failure> {
    let input_bound = payload::check_size(shared, &input, "The execution input")?;
    let mut variables = Variables::default();
    variables.assign(shared.config.variables.clone());
    let mut frame = Frame {
        variables,
        location: "".into(),
        previous: first,
        steps: 0,
        input_bound: Some(input_bound),
        output_bound: None,
        output_change: None,
        recorded,
    };
    let start = machine.start.unwrap_or(machine.graph.start);
    let output = run_graph_from(shared, &machine.graph, start, input, &mut frame).await?;
    Ok((output, frame.recorded))
}

pub(crate) fn run_graph<'a>(
    shared: &'a Arc<Shared>,
    graph: &'a Graph,
    input: Value,
    frame: &'a mut Frame,
) -> BoxFuture<'a, Result<Value, Failure>> {
    run_graph_from(shared, graph, graph.start, input, frame)
}

fn run_graph_from<'a>(
    shared: &'a Arc<Shared>,
    graph: &'a Graph,
    start: usize,
    input: Value,
    frame: &'a mut Frame,
) -> BoxFuture<'a, Result<Value, Failure>> {
    Box::pin(async move {
        // The current state's input, which it turns into its output in place.
        let mut data = input;
        let mut current = start;
        let mut state = &graph.states[current];
        // A state's recorded output is the next state's recorded input: record it once.
        let mut recorded_input = frame.recorded.take().or_else(|| shared.payload(&data));
        let mut entered = shared.now();
        let mut input_bound = frame.input_bound.take();
        within_history_limit(shared, frame.previous)?;
        frame.previous = shared.record(
            frame.previous,
            entered_event(state, entered, recorded_input.clone()),
        );
        loop {
            frame.input_bound = input_bound;
            frame.output_bound = None;
            frame.output_change = None;
            frame.steps += 1;

            let next = match run_at_once(shared, state, &mut data, entered, frame) {
                Some(done) => done?,
                // Boxed: the futures of Task, Map and Parallel are large, and a chain of
                // Pass states should not set one up for every state.
                None => {
                    let input = std::mem::take(&mut data);
                    let (next, output) =
                        Box::pin(run_state(shared, state, input, entered, frame)).await?;
                    data = output;
                    next
                }
            };

            let exited = shared.now();
            let recorded_output = match (frame.output_change.take(), recorded_input) {
                (Some(OutputChange::Unchanged), Some(input)) => Some(input),
                (Some(OutputChange::Put(path, value)), Some(input)) => {
                    Payload::changed(input, path, value).or_else(|| shared.payload(&data))
                }
                _ => shared.payload(&data),
            };
            let exited_event = || {
                HistoryEvent::new(EventType::exited(&state.kind), exited)
                    .state(&state.name)
                    .output(recorded_output.clone())
            };
            let Transition::Next(index) = next else {
                frame.previous = shared.record(frame.previous, exited_event());
                frame.recorded = recorded_output;
                return Ok(data);
            };
            // Counting the exited event, as if it were recorded already.
            if let Err(failure) = within_history_limit(shared, frame.previous + 1) {
                shared.record(frame.previous, exited_event());
                return Err(failure);
            }
            let exiting = (EventType::exited(&state.kind), state.id);
            current = index;
            state = &graph.states[current];
            // The next state is entered as this one exits: both events are recorded at once.
            frame.previous = shared.record_handover(
                frame.previous,
                exited,
                exiting,
                (EventType::entered(&state.kind), state.id),
                recorded_output.clone(),
            );
            recorded_input = recorded_output;
            entered = exited;
            input_bound = frame.output_bound.take();
        }
    })
}

fn entered_event(state: &State, entered: DateTime<Utc>, input: Option<Payload>) -> HistoryEvent {
    HistoryEvent::new(EventType::entered(&state.kind), entered)
        .state(&state.name)
        .input(input)
}

/// Whether another state may be entered after event `last`. Event ids count every event so
/// far, so the last id this run recorded is enough.
fn within_history_limit(shared: &Shared, last: u64) -> Result<(), Failure> {
    if last as usize >= shared.config.max_history_events {
        return Err(Failure::runtime(format!(
            "The execution history reached its limit of {} events (a state loop that never ends?)",
            shared.config.max_history_events
        )));
    }
    Ok(())
}

/// Runs a state that never waits (Pass, Choice, Succeed, Fail), turning `data` from its
/// input into its output; `None` for a state that waits.
fn run_at_once(
    shared: &Arc<Shared>,
    state: &State,
    data: &mut Value,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Option<Result<Transition, Failure>> {
    Some(match &state.kind {
        Kind::Pass(pass) => states::run_pass(shared, state, pass, data, entered, frame),
        Kind::Choice(choice) => by_value(data, |input| {
            states::run_choice(shared, state, choice, input, entered, frame)
        }),
        Kind::Succeed if state.language == QueryLanguage::Jsonata => by_value(data, |input| {
            conclude_jsonata(shared, state, Seen::input(input), None, entered, frame)
                .map(|output| (Transition::End, output))
        }),
        Kind::Succeed => by_value(data, |input| {
            select_owned(&state.input_path, input, shared, state, entered, frame)
                .and_then(|effective| {
                    select_owned(&state.output_path, effective, shared, state, entered, frame)
                })
                .map(|output| (Transition::End, output))
        }),
        Kind::Fail(fail) => Err(states::run_fail(shared, state, fail, data, entered, frame)),
        Kind::Wait(_) | Kind::Task(_) | Kind::Parallel(_) | Kind::Map(_) => return None,
    })
}

/// Runs a state that takes its input by value, and leaves its output in `data`.
fn by_value(
    data: &mut Value,
    run: impl FnOnce(Value) -> Result<Step, Failure>,
) -> Result<Transition, Failure> {
    let (next, output) = run(std::mem::take(data))?;
    *data = output;
    Ok(next)
}

/// The states that wait: for time, a task, or their branches and iterations.
async fn run_state(
    shared: &Arc<Shared>,
    state: &State,
    input: Value,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    match &state.kind {
        Kind::Wait(wait) => states::run_wait(shared, state, wait, input, entered, frame).await,
        Kind::Task(t) => task::run(shared, state, t, input, entered, frame).await,
        Kind::Parallel(p) => fanout::run_parallel(shared, state, p, input, entered, frame).await,
        Kind::Map(m) => fanout::run_map(shared, state, m, input, entered, frame).await,
        Kind::Pass(_) | Kind::Choice(_) | Kind::Succeed | Kind::Fail(_) => {
            unreachable!("run_at_once runs every state that does not wait")
        }
    }
}
