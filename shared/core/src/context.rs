//! What every use case is given: the ports, wired once at start-up.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use ulid::Ulid;

use crate::ports::{Clock, Entropy, ItemStore, NoTraces, TaskEvents, TraceContexts};

#[derive(Clone)]
pub struct Context {
    pub store: Arc<dyn ItemStore>,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    pub events: Arc<dyn TaskEvents>,
    /// How runs and tasks carry the trace that started them ([`NoTraces`] by default).
    pub traces: Arc<dyn TraceContexts>,
    last_ulid: Arc<Mutex<Ulid>>,
}

impl Context {
    pub fn new(
        store: Arc<dyn ItemStore>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        events: Arc<dyn TaskEvents>,
    ) -> Self {
        Self {
            store,
            clock,
            entropy,
            events,
            traces: Arc::new(NoTraces),
            last_ulid: Arc::new(Mutex::new(Ulid::nil())),
        }
    }

    /// The same context, carrying trace context through `traces` (set at composition,
    /// before any use case runs).
    pub fn with_traces(mut self, traces: Arc<dyn TraceContexts>) -> Self {
        self.traces = traces;
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A new ULID from the clock and the entropy port (core has no ambient randomness,
    /// so it builds the same way on wasm32). Monotonic within the process, as the ULID
    /// spec allows: ids made in the same millisecond still sort in creation order.
    pub fn ulid(&self) -> Ulid {
        let mut random = [0u8; 16];
        self.entropy.fill(&mut random);
        let ms = self.now().timestamp_millis().max(0) as u64;
        let fresh = Ulid::from_parts(ms, u128::from_le_bytes(random));
        let mut last = self
            .last_ulid
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let next = if fresh > *last {
            fresh
        } else {
            last.increment().unwrap_or(fresh)
        };
        *last = next;
        next
    }
}

/// Does nothing: claimers simply find new tasks on their next poll.
pub struct NoTaskEvents;

impl TaskEvents for NoTaskEvents {
    fn task_ready(&self) {}
}
