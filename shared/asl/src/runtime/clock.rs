//! Time, abstracted so that Wait states and retry back-off can run on virtual time.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// Wall-clock time and real sleeps.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Time that starts at a chosen instant and advances with tokio's clock. On a runtime whose
/// time is paused (`#[tokio::test(start_paused = true)]`, or `Builder::start_paused`), tokio
/// jumps straight to the next timer whenever everything is waiting, so an hour-long Wait or
/// a back-off schedule completes instantly, in order, with exact timestamps.
#[derive(Debug, Clone, Copy)]
pub struct VirtualClock {
    origin: DateTime<Utc>,
    started: tokio::time::Instant,
}

impl VirtualClock {
    pub fn starting_at(origin: DateTime<Utc>) -> VirtualClock {
        VirtualClock {
            origin,
            started: tokio::time::Instant::now(),
        }
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now() - self.started;
        self.origin + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Seconds from `now` until `at`, zero when `at` has passed.
pub(crate) fn until(clock: &dyn Clock, at: DateTime<Utc>) -> Duration {
    (at - clock.now()).to_std().unwrap_or_default()
}
