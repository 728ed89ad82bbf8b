//! Embedded adapters for `skein dev` and for tests: one SQLite database file (WAL mode)
//! holds the item store and the durable queues.

mod db;
pub mod engine;
mod queue;
mod store;
mod system;

pub use db::{DbError, SqliteDb};
pub use engine::{EngineHooks, LocalEngine, PlatformLink};
pub use queue::{QueueSettings, SqliteQueue};
pub use store::SqliteStore;
pub use system::{OsEntropy, SystemClock};
