//! Embedded adapters for `skein dev` and for tests: one SQLite database file (WAL mode)
//! holds the item store and the durable queues.

mod db;
pub mod engine;
mod queue;
mod store;

pub use db::{DbError, SqliteDb};
pub use engine::{EngineHooks, LocalEngine, PlatformLink};
pub use queue::{QueueSettings, SqliteQueue};
pub use skein_core::system::{OsEntropy, SystemClock};
pub use store::SqliteStore;
