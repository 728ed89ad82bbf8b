//! The world outside: time, randomness, and wake-ups for waiting claimers.

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// Cryptographically secure random bytes (ids, secrets, salts).
pub trait Entropy: Send + Sync {
    fn fill(&self, buf: &mut [u8]);
}

/// Told when a task becomes claimable, so that long-polling claimers wake at once
/// instead of at their next poll. Doing nothing is a correct implementation.
pub trait TaskEvents: Send + Sync {
    fn task_ready(&self);

    /// A run changed (a step moved, the run ended): live watchers should look again.
    fn run_changed(&self, _run: &str) {}

    /// A message landed in this agent's inbox: its long-polling reads should look again.
    fn inbox_changed(&self, _agent: &str) {}
}
