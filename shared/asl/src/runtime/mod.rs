//! The interpreter: runs a [`crate::StateMachine`] on an input with pluggable Task resources,
//! a pluggable clock, an event history, task tokens, timeouts and stop.

mod clock;
mod conclude;
mod data_flow;
mod engine;
mod execution;
mod failure;
mod fanout;
mod history;
mod payload;
mod recorded;
mod recovery;
mod resources;
mod scope;
mod states;
mod task;

pub use clock::{Clock, SkippingClock, Sleep, SystemClock, VirtualClock};
pub use execution::{
    DEFAULT_MAX_HISTORY_EVENTS, DEFAULT_MAX_PAYLOAD_BYTES, Execution, ExecutionConfig,
    ExecutionHandle, Outcome, Status, TokenError,
};
pub use failure::Failure;
pub use history::{EventDetails, EventType, History, HistoryEvent};
pub use recorded::Payload;
pub use resources::{Resources, TaskCall, TaskError, TaskHandler};
