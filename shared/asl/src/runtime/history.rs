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
            error: None,
            cause: None,
            resource: None,
            parameters: None,
            index: None,
        }
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

    pub(crate) fn failure(mut self, error: &str, cause: &str) -> Self {
        self.error = Some(error.to_owned());
        self.cause = Some(cause.to_owned());
        self
    }

    pub(crate) fn index(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }
}
