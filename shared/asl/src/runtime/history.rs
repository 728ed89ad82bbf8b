//! The execution history, with Step Functions' event types. Events carry a flat set of
//! optional details (state name, input/output, error/cause, resource, index) instead of
//! AWS's per-type detail objects, which makes them easy to filter and assert on.
//!
//! Most of a history is states handing over to each other: one exits and the next is entered
//! at the same moment, the first's output being the second's input. [`History`] keeps each
//! such pair as one small entry naming the states by id, and builds the two events when the
//! history is read, so a run that nobody reads the history of does not pay for its events.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use super::recorded::Payload;
use crate::machine::{Kind, StateId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    ExecutionStarted,
    ExecutionSucceeded,
    ExecutionFailed,
    ExecutionAborted,
    ExecutionTimedOut,
    PassStateEntered,
    PassStateExited,
    TaskStateEntered,
    TaskStateExited,
    ChoiceStateEntered,
    ChoiceStateExited,
    WaitStateEntered,
    WaitStateExited,
    SucceedStateEntered,
    SucceedStateExited,
    FailStateEntered,
    ParallelStateEntered,
    ParallelStateExited,
    MapStateEntered,
    MapStateExited,
    TaskScheduled,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    MapStateStarted,
    MapStateSucceeded,
    MapStateFailed,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
}

impl EventType {
    pub(crate) fn entered(kind: &Kind) -> EventType {
        match kind {
            Kind::Pass(_) => EventType::PassStateEntered,
            Kind::Task(_) => EventType::TaskStateEntered,
            Kind::Choice(_) => EventType::ChoiceStateEntered,
            Kind::Wait(_) => EventType::WaitStateEntered,
            Kind::Succeed => EventType::SucceedStateEntered,
            Kind::Fail(_) => EventType::FailStateEntered,
            Kind::Parallel(_) => EventType::ParallelStateEntered,
            Kind::Map(_) => EventType::MapStateEntered,
        }
    }

    pub(crate) fn exited(kind: &Kind) -> EventType {
        match kind {
            Kind::Pass(_) => EventType::PassStateExited,
            Kind::Task(_) => EventType::TaskStateExited,
            Kind::Choice(_) => EventType::ChoiceStateExited,
            Kind::Wait(_) => EventType::WaitStateExited,
            Kind::Succeed => EventType::SucceedStateExited,
            Kind::Fail(_) => unreachable!("a Fail state ends the run; it never exits"),
            Kind::Parallel(_) => EventType::ParallelStateExited,
            Kind::Map(_) => EventType::MapStateExited,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    pub timestamp: DateTime<Utc>,
    #[serde(rename = "type")]
    pub event_type: EventType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_name: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Payload>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Payload>,
    /// What only task, failure and Map iteration events carry. Kept apart so that the events
    /// every state records (entered, exited) stay small: a long run pushes and moves
    /// hundreds of thousands of them.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub details: Option<Box<EventDetails>>,
}

/// The details of an event beyond its state and payloads.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Payload>,
    /// Map iteration index, or a Map's item count on MapStateStarted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

impl HistoryEvent {
    pub(crate) fn new(event_type: EventType, timestamp: DateTime<Utc>) -> HistoryEvent {
        HistoryEvent {
            id: 0,
            previous_event_id: 0,
            timestamp,
            event_type,
            state_name: None,
            input: None,
            output: None,
            details: None,
        }
    }

    pub fn error(&self) -> Option<&str> {
        self.details.as_ref()?.error.as_deref()
    }

    pub fn cause(&self) -> Option<&str> {
        self.details.as_ref()?.cause.as_deref()
    }

    pub fn resource(&self) -> Option<&str> {
        self.details.as_ref()?.resource.as_deref()
    }

    pub fn parameters(&self) -> Option<&Payload> {
        self.details.as_ref()?.parameters.as_ref()
    }

    pub fn index(&self) -> Option<usize> {
        self.details.as_ref()?.index
    }

    pub(crate) fn state(mut self, name: &Arc<str>) -> Self {
        self.state_name = Some(name.clone());
        self
    }

    pub(crate) fn input(mut self, input: Option<Payload>) -> Self {
        self.input = input;
        self
    }

    pub(crate) fn output(mut self, output: Option<Payload>) -> Self {
        self.output = output;
        self
    }

    fn details_mut(&mut self) -> &mut EventDetails {
        self.details.get_or_insert_default()
    }

    pub(crate) fn failure(mut self, error: &str, cause: &str) -> Self {
        let details = self.details_mut();
        details.error = Some(error.to_owned());
        details.cause = Some(cause.to_owned());
        self
    }

    pub(crate) fn task(mut self, resource: &Arc<str>, parameters: Option<Payload>) -> Self {
        let details = self.details_mut();
        details.resource = Some(resource.clone());
        details.parameters = parameters;
        self
    }

    pub(crate) fn at_index(mut self, index: usize) -> Self {
        self.details_mut().index = Some(index);
        self
    }
}

/// An execution's history, read as [`HistoryEvent`]s.
#[derive(Clone)]
pub struct History {
    entries: Vec<Entry>,
    len: usize,
    /// State names by [`StateId`], for the events the entries stand for.
    state_names: Arc<[Arc<str>]>,
}

#[derive(Clone)]
enum Entry {
    Event(HistoryEvent),
    Handover(Handover),
}

/// A state exits and the next is entered, at once: two events, ids `id` and `id + 1`.
#[derive(Clone)]
struct Handover {
    id: u64,
    previous: u64,
    at: DateTime<Utc>,
    exited: (EventType, StateId),
    entered: (EventType, StateId),
    /// The exited state's output, the entered state's input.
    payload: Option<Payload>,
}

impl History {
    pub(crate) fn new(state_names: Arc<[Arc<str>]>, capacity: usize) -> History {
        History {
            entries: Vec::with_capacity(capacity),
            len: 0,
            state_names,
        }
    }

    /// Appends an event after `previous` and returns its id.
    pub(crate) fn push(&mut self, previous: u64, mut event: HistoryEvent) -> u64 {
        let id = self.len as u64 + 1;
        event.id = id;
        event.previous_event_id = previous;
        self.entries.push(Entry::Event(event));
        self.len += 1;
        id
    }

    /// Appends the events of state `exited` handing over to state `entered` at `at`, the
    /// first after `previous`, and returns the second's id.
    pub(crate) fn push_handover(
        &mut self,
        previous: u64,
        at: DateTime<Utc>,
        exited: (EventType, StateId),
        entered: (EventType, StateId),
        payload: Option<Payload>,
    ) -> u64 {
        let id = self.len as u64 + 1;
        self.entries.push(Entry::Handover(Handover {
            id,
            previous,
            at,
            exited,
            entered,
            payload,
        }));
        self.len += 2;
        id + 1
    }

    /// The number of events.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The events, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = HistoryEvent> + '_ {
        self.entries.iter().flat_map(|entry| {
            let (first, second) = match entry {
                Entry::Event(event) => (event.clone(), None),
                Entry::Handover(handover) => {
                    let (exited, entered) = self.events_of(handover);
                    (exited, Some(entered))
                }
            };
            std::iter::once(first).chain(second)
        })
    }

    pub fn events(&self) -> Vec<HistoryEvent> {
        self.iter().collect()
    }

    pub fn last(&self) -> Option<HistoryEvent> {
        match self.entries.last()? {
            Entry::Event(event) => Some(event.clone()),
            Entry::Handover(handover) => Some(self.events_of(handover).1),
        }
    }

    fn events_of(&self, handover: &Handover) -> (HistoryEvent, HistoryEvent) {
        let event = |(event_type, state): (EventType, StateId), id, previous| HistoryEvent {
            id,
            previous_event_id: previous,
            state_name: Some(self.state_names[state.0 as usize].clone()),
            ..HistoryEvent::new(event_type, handover.at)
        };
        (
            event(handover.exited, handover.id, handover.previous).output(handover.payload.clone()),
            event(handover.entered, handover.id + 1, handover.id).input(handover.payload.clone()),
        )
    }
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// As the list of events.
impl Serialize for History {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn details_serialize_beside_the_common_fields() {
        let name: Arc<str> = "Charge".into();
        let timestamp = DateTime::from_timestamp(0, 0).unwrap();
        let event = HistoryEvent::new(EventType::TaskFailed, timestamp)
            .state(&name)
            .failure("States.Timeout", "too slow")
            .task(&"arn:aws:states:::lambda:invoke".into(), None);
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({
                "id": 0, "previousEventId": 0, "timestamp": "1970-01-01T00:00:00Z",
                "type": "TaskFailed", "stateName": "Charge", "error": "States.Timeout",
                "cause": "too slow", "resource": "arn:aws:states:::lambda:invoke"
            })
        );
        assert_eq!(event.error(), Some("States.Timeout"));
        assert_eq!(event.index(), None);
        let plain = HistoryEvent::new(EventType::PassStateEntered, timestamp).state(&name);
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            json!({"id": 0, "previousEventId": 0, "timestamp": "1970-01-01T00:00:00Z", "type": "PassStateEntered", "stateName": "Charge"})
        );
    }

    #[test]
    fn a_handover_reads_as_the_exited_and_entered_events() {
        let at = DateTime::from_timestamp(60, 0).unwrap();
        let names: Arc<[Arc<str>]> = vec!["A".into(), "B".into()].into();
        let mut history = History::new(names, 0);
        let started = history.push(0, HistoryEvent::new(EventType::ExecutionStarted, at));
        let payload = Payload::copy_of(&json!({"n": 1}));
        let entered = history.push_handover(
            started,
            at,
            (EventType::PassStateExited, StateId(0)),
            (EventType::ChoiceStateEntered, StateId(1)),
            Some(payload),
        );
        assert_eq!((entered, history.len()), (3, 3));
        let events = history.events();
        assert_eq!(
            serde_json::to_value(&history).unwrap(),
            json!([
                {"id": 1, "previousEventId": 0, "timestamp": "1970-01-01T00:01:00Z", "type": "ExecutionStarted"},
                {"id": 2, "previousEventId": 1, "timestamp": "1970-01-01T00:01:00Z", "type": "PassStateExited", "stateName": "A", "output": {"n": 1}},
                {"id": 3, "previousEventId": 2, "timestamp": "1970-01-01T00:01:00Z", "type": "ChoiceStateEntered", "stateName": "B", "input": {"n": 1}}
            ])
        );
        assert_eq!(history.last().as_ref(), events.last());
        assert_eq!(history.iter().next_back().as_ref(), events.last());
    }
}
