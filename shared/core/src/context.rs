//! What every use case is given: the ports, wired once at start-up.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ulid::Ulid;

use crate::ports::{Clock, Entropy, ItemStore, TaskEvents};

#[derive(Clone)]
pub struct Context {
    pub store: Arc<dyn ItemStore>,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    pub events: Arc<dyn TaskEvents>,
}

impl Context {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A new ULID from the clock and the entropy port (core has no ambient randomness,
    /// so it builds the same way on wasm32).
    pub fn ulid(&self) -> Ulid {
        let mut random = [0u8; 16];
        self.entropy.fill(&mut random);
        let ms = self.now().timestamp_millis().max(0) as u64;
        Ulid::from_parts(ms, u128::from_le_bytes(random))
    }
}

/// Does nothing: claimers simply find new tasks on their next poll.
pub struct NoTaskEvents;

impl TaskEvents for NoTaskEvents {
    fn task_ready(&self) {}
}
