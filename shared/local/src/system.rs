use chrono::{DateTime, Utc};
use rand::RngCore;
use skein_core::ports::{Clock, Entropy};

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
