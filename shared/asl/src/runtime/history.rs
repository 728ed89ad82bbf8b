//! The execution history, with Step Functions' event types. Events carry a flat set of
//! optional details (state name, input/output, error/cause, resource, index) instead of
//! AWS's per-type detail objects, which makes them easy to filter and assert on.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::recorded::Payload;
use crate::machine::Kind;

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
}
