//! Ports: the narrow traits core's use cases are written against. Adapters live in
//! skein-local (SQLite) and skein-aws (DynamoDB, SQS); both pass the same contract suites.

mod agents;
mod engine;
mod queue;
mod store;
mod system;

pub use agents::{
    AgentFailure, BuiltinAgents, BuiltinCall, BuiltinOutput, DeltaSink, Deltas, ProviderUsage,
    UsageEstimate,
};

/// Wraps a port's adapter in another implementation of the port, when a host is put
/// together (tests count calls or inject faults this way).
pub type Layer<Port> = Box<dyn FnOnce(std::sync::Arc<Port>) -> std::sync::Arc<Port> + Send>;
pub use engine::{EngineError, ExecutionEnded, ExecutionStatus, StepDispatch, WorkflowEngine};
pub use queue::{
    MAX_BATCH, MAX_BODY_BYTES, OutgoingMessage, Queue, QueueDepth, QueueError, ReceivedMessage,
};
pub use store::{
    Change, Condition, Index, IndexKey, Item, ItemStore, Key, MAX_ITEM_BYTES, Page, Query, SkRange,
    StartAfter, StoreError, WriteOp, item_size,
};
pub use system::{Clock, Entropy, NoTraces, TaskEvents, TraceContexts};
