//! Embedded adapters for `skein dev` and for tests: one SQLite database file (WAL mode)
//! holds the item store and the durable queues.

mod checkpoint;
mod db;
pub mod engine;
mod expiry;
mod group_commit;
mod queue;
mod router;
mod step_worker;
mod store;

pub use db::{DbError, SqliteDb, VFS};
pub use engine::{EndReceipt, EngineWork, LocalEngine, StepInbox, StepOutbox, step_channel};
pub use queue::{QueueSettings, SqliteQueue};
pub use router::{MESSAGES_DEAD_LETTER_QUEUE, MESSAGES_QUEUE, route_batch, route_messages};
pub use skein_core::system::{OsEntropy, SystemClock};
pub use step_worker::run_step_worker;
pub use store::SqliteStore;
