//! The system clock and the OS-seeded CSPRNG: what every native process uses for the
//! [`Clock`] and [`Entropy`] ports (the wasm32 edge brings its own).

use crate::ports::{Clock, Entropy};
use chrono::{DateTime, Utc};
use rand::RngCore;

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The thread-local CSPRNG (ChaCha, seeded and reseeded from the OS).
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) {
        rand::rng().fill_bytes(buf);
    }
}
