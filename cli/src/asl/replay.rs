//! `skein asl replay`: re-runs an execution recorded on AWS (the JSON of
//! `aws stepfunctions get-execution-history`) with skein-asl, answering every Task state
//! with what it answered there, and finds the first event where the two differ: a state
//! entered or left in another order, another output, another error. With a state to start
//! from, it forks the execution there instead, on an input of your choosing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;
use skein_asl::{
    Execution, ExecutionConfig, HistoryEvent, Outcome, Resources, SkippingClock, StateMachine,
    TaskError,
};

use super::tasks::{AnswersByState, ExecutionTasks, MockConfig};

/// One event of either history, reduced to what is compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The recording's event id, or the local history's.
    pub id: u64,
    /// `TaskStateExited`, `TaskFailed`, `ExecutionSucceeded`, ...
    pub kind: String,
    /// The state it belongs to; none for the execution's own events.
    pub state: Option<String>,
    /// A state's or the execution's output.
    pub output: Option<Value>,
    /// A task's or the execution's error name.
    pub error: Option<String>,
}

impl Event {
    /// The events whose order, output or error tell two executions apart. Scheduling
    /// details (TaskScheduled, TaskStarted, ...) differ with the integration, not the run.
    fn compared(kind: &str) -> bool {
        kind.ends_with("StateEntered")
            || kind.ends_with("StateExited")
            || matches!(
                kind,
                "TaskSucceeded"
                    | "TaskFailed"
                    | "TaskTimedOut"
                    | "ExecutionSucceeded"
                    | "ExecutionFailed"
                    | "ExecutionTimedOut"
                    | "ExecutionAborted"
            )
    }

    pub fn describe(&self) -> String {
        let mut text = match &self.state {
            Some(state) => format!("{} of state `{state}`", self.kind),
            None => self.kind.clone(),
        };
        if let Some(error) = &self.error {
            text.push_str(&format!(" with error {error}"));
        }
        if let Some(output) = &self.output {
            text.push_str(&format!(", output {output}"));
        }
        text
    }
}

/// An execution as AWS recorded it.
#[derive(Debug)]
pub struct Recording {
    pub input: Value,
    pub events: Vec<Event>,
    /// What each Task state answered, invocation by invocation.
    pub answers: AnswersByState,
}

/// A JSON string holding JSON (AWS's inputs and outputs), or the JSON itself.
fn embedded(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::String(text) => {
            Some(serde_json::from_str(text).unwrap_or(Value::String(text.clone())))
        }
        other => Some(other.clone()),
    }
}

impl Recording {
    /// Reads `get-execution-history`'s JSON: `{"events": [...]}`, or the events alone.
    pub fn read(history: &Value) -> Result<Recording, String> {
        let events =
            history.get("events").unwrap_or(history).as_array().ok_or(
                "the history is not get-execution-history's JSON: it has no `events` list",
            )?;
        let by_id: HashMap<u64, &Value> = events
            .iter()
            .filter_map(|e| Some((e["id"].as_u64()?, e)))
            .collect();
        // A task's events name no state: theirs is the TaskStateEntered they follow.
        let state_of = |event: &Value| -> Option<String> {
            let mut current = event;
            for _ in 0..by_id.len() {
                if let Some(name) = current["stateEnteredEventDetails"]["name"].as_str() {
                    return Some(name.to_string());
                }
                current = by_id.get(&current["previousEventId"].as_u64()?)?;
            }
            None
        };
        let mut recording = Recording {
            input: Value::Object(Default::default()),
            events: Vec::new(),
            answers: BTreeMap::new(),
        };
        for event in events {
            let kind = event["type"]
                .as_str()
                .ok_or_else(|| format!("event {} has no type", event["id"]))?
                .to_string();
            let details = event
                .as_object()
                .and_then(|fields| {
                    fields
                        .iter()
                        .find(|(key, _)| key.ends_with("EventDetails"))
                        .map(|(_, v)| v.clone())
                })
                .unwrap_or(Value::Null);
            if kind == "ExecutionStarted" {
                recording.input = embedded(&details["input"]).unwrap_or_default();
            }
            let state = details["name"]
                .as_str()
                .map(str::to_string)
                .filter(|_| !kind.starts_with("MapIteration"))
                .or_else(|| kind.starts_with("Task").then(|| state_of(event)).flatten());
            let error = details["error"].as_str().map(str::to_string);
            let output = embedded(&details["output"]);
            match kind.as_str() {
                "TaskSucceeded" | "TaskFailed" | "TaskTimedOut" => {
                    let state = state.clone().ok_or_else(|| {
                        format!(
                            "event {}: no TaskStateEntered leads to this {kind}",
                            event["id"]
                        )
                    })?;
                    let answer = match kind.as_str() {
                        "TaskSucceeded" => Ok(output.clone().unwrap_or_default()),
                        "TaskTimedOut" => Err(TaskError::new(
                            error.clone().unwrap_or_else(|| "States.Timeout".into()),
                            details["cause"].as_str().unwrap_or_default(),
                        )),
                        _ => Err(TaskError::new(
                            error.clone().unwrap_or_default(),
                            details["cause"].as_str().unwrap_or_default(),
                        )),
                    };
                    recording.answers.entry(state).or_default().push(answer);
                }
                _ => {}
            }
            if Event::compared(&kind) {
                recording.events.push(Event {
                    id: event["id"].as_u64().unwrap_or(0),
                    kind,
                    state,
                    output,
                    error,
                });
            }
        }
        Ok(recording)
    }
}

fn local_events(history: &[HistoryEvent]) -> Vec<Event> {
    history
        .iter()
        .filter_map(|event| {
            let kind = serde_json::to_value(event.event_type)
                .ok()?
                .as_str()?
                .to_string();
            Event::compared(&kind).then(|| Event {
                id: event.id,
                output: event
                    .output
                    .as_ref()
                    .filter(|_| kind.ends_with("Exited") || kind == "ExecutionSucceeded")
                    .map(|payload| payload.value().as_ref().clone()),
                error: event
                    .error()
                    .map(str::to_string)
                    .filter(|_| kind.ends_with("Failed") || kind.ends_with("TimedOut")),
                state: event.state_name.as_deref().map(str::to_string),
                kind,
            })
        })
        .collect()
}

/// Where the local run first parts from the recording.
#[derive(Debug)]
pub struct Divergence {
    pub recorded: Option<Event>,
    pub local: Option<Event>,
}

/// Compares state by state: the n-th event of a state here against the n-th of the same
/// state there, so Parallel branches interleaving otherwise do not count as a difference.
/// Where they differ, the recording's earliest event left unmatched is the one named: the
/// point where the recorded execution went on and this one did not.
pub fn first_divergence(recorded: &[Event], local: &[Event]) -> Option<Divergence> {
    let mut recorded_by_state: HashMap<Option<&str>, Vec<&Event>> = HashMap::new();
    // Each recorded event's place among its state's events.
    let mut place: HashMap<u64, usize> = HashMap::new();
    for event in recorded {
        let events = recorded_by_state.entry(event.state.as_deref()).or_default();
        place.insert(event.id, events.len());
        events.push(event);
    }
    let same = |a: &Event, b: &Event| {
        a.kind == b.kind
            && a.error == b.error
            && (a.output.is_none() || b.output.is_none() || a.output == b.output)
    };
    let mut seen: HashMap<Option<&str>, usize> = HashMap::new();
    let earliest_unmatched = |seen: &HashMap<Option<&str>, usize>| {
        recorded
            .iter()
            .find(|e| place[&e.id] >= seen.get(&e.state.as_deref()).copied().unwrap_or(0))
    };
    for event in local {
        let key = event.state.as_deref();
        let index = seen.get(&key).copied().unwrap_or(0);
        let counterpart = recorded_by_state
            .get(&key)
            .and_then(|events| events.get(index))
            .copied();
        if let Some(there) = counterpart
            && same(there, event)
        {
            seen.insert(key, index + 1);
            continue;
        }
        let earlier =
            earliest_unmatched(&seen).filter(|e| counterpart.is_none_or(|there| e.id < there.id));
        return Some(Divergence {
            recorded: earlier.or(counterpart).cloned(),
            local: Some(event.clone()),
        });
    }
    // The local run ended where the recording went on.
    earliest_unmatched(&seen).map(|event| Divergence {
        recorded: Some(event.clone()),
        local: None,
    })
}

/// Runs the machine on the recording's input (or `input`), from `from` if given, every
/// Task state answered as it was recorded, on virtual time.
pub async fn run(
    machine: &StateMachine,
    recording: &Recording,
    from: Option<&str>,
    input: Option<Value>,
) -> Result<Outcome, String> {
    let machine = match from {
        Some(state) => machine.starting_at(state).ok_or_else(|| {
            format!(
                "--from {state}: the machine has no top-level state of that name; it has {}",
                machine.state_names().join(", ")
            )
        })?,
        None => machine.clone(),
    };
    let mocks = MockConfig::from_recorded("replay", "recorded", &recording.answers);
    let tasks = ExecutionTasks::new(
        Some((Arc::new(mocks), "replay".into(), "recorded".into())),
        None,
    );
    let handle_slot = tasks.handle.clone();
    let mut resources = Resources::new();
    resources.register_prefix("", tasks);
    let mut config = ExecutionConfig::new(Arc::new(resources));
    config.name = "replay".into();
    config.clock = Arc::new(SkippingClock::starting_at(chrono::Utc::now()));
    let execution = Execution::new(
        &machine,
        input.unwrap_or_else(|| recording.input.clone()),
        config,
    );
    handle_slot.set(execution.handle()).ok();
    Ok(execution.run().await)
}

/// The local run's events, as compared with the recording's.
pub fn events_of(outcome: &Outcome) -> Vec<Event> {
    local_events(&outcome.history.events())
}
