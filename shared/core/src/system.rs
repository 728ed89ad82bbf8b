//! The system clock and the OS-seeded CSPRNG: what every native process uses for the
//! [`Clock`] and [`Entropy`] ports (the wasm32 edge brings its own).

use crate::ports::{Clock, Entropy};
use chrono::{DateTime, Utc};
use rand::RngCore;

pub struct SystemClock;

/// The system clock moved forward by however much a test advanced it, so that a test
/// can pass a 30-second timeout at once instead of sleeping through it.
#[derive(Default)]
pub struct OffsetClock {
    offset_ms: std::sync::atomic::AtomicI64,
}

impl OffsetClock {
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = self.offset_ms.load(std::sync::atomic::Ordering::SeqCst);
        Utc::now() + chrono::Duration::milliseconds(offset)
    }
}

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
