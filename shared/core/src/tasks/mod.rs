//! Tasks: work addressed to an agent or to a capability, claimed under a lease.

mod claims;
mod lifecycle;
pub(crate) mod model;
mod orphans;
mod service;
mod timers;

pub use model::{
    Lease, NewTask, Task, TaskCompletion, TaskError, TaskFailure, TaskFilter, TaskOrigin,
    TaskStatus, TaskTarget,
};
pub(crate) use service::check_idempotency_key;
pub use service::{CreatedTask, LeaseRef, MAX_IDEMPOTENCY_KEY_LEN, Tasks};
pub use timers::DueTimers;
