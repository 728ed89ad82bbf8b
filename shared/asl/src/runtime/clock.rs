//! Time, abstracted so that Wait states and retry back-off can run on virtual time.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

const SECONDS_PER_DAY: u64 = 86_400;

pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// A pause the machine asks for: a Wait state, or Retry's back-off.
    fn sleep(&self, duration: Duration) -> Sleep;
    /// A limit raced against other work: a Task's `TimeoutSeconds` or heartbeat, the
    /// machine's `TimeoutSeconds`. The same as `sleep` unless a clock treats them apart.
    fn deadline(&self, duration: Duration) -> Sleep {
        self.sleep(duration)
    }
}

/// Seconds and nanoseconds since the Unix epoch; `None` before it. Read straight from
/// `clock_gettime` where there is one: going through `SystemTime::duration_since` costs
/// almost half as much again as reading the clock (41 ns against 28 ns on the build machine).
#[cfg(unix)]
fn since_epoch() -> Option<(u64, u32)> {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
    let seconds = u64::try_from(now.tv_sec).ok()?;
    Some((seconds, u32::try_from(now.tv_nsec).ok()?))
}

#[cfg(not(unix))]
fn since_epoch() -> Option<(u64, u32)> {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some((since.as_secs(), since.subsec_nanos()))
}

/// Wall-clock time and real sleeps.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// `Utc::now()`, without working out the calendar date at every call: the engine reads
    /// the clock at every state, and turning a day number into a date costs as much as
    /// reading the clock. The date is kept per thread and worked out again when the day
    /// changes.
    fn now(&self) -> DateTime<Utc> {
        thread_local! {
            static TODAY: Cell<Option<(u64, NaiveDate)>> = const { Cell::new(None) };
        }
        let Some((seconds, nanos)) = since_epoch() else {
            return Utc::now();
        };
        let day = seconds / SECONDS_PER_DAY;
        let date = match TODAY.get() {
            Some((cached, date)) if cached == day => date,
            _ => {
                let Some(date) = DateTime::from_timestamp((day * SECONDS_PER_DAY) as i64, 0)
                    .map(|midnight| midnight.date_naive())
                else {
                    return Utc::now();
                };
                TODAY.set(Some((day, date)));
                date
            }
        };
        let seconds_of_day = (seconds % SECONDS_PER_DAY) as u32;
        NaiveTime::from_num_seconds_from_midnight_opt(seconds_of_day, nanos)
            .map(|time| date.and_time(time).and_utc())
            .unwrap_or_else(Utc::now)
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

/// Time that jumps: Wait states and retry back-off end at once and move the clock to their
/// end, on any runtime (a server's too, where tokio's paused time cannot be used: it would
/// also fire every timeout of a task waiting for its callback). Pauses that overlap
/// (Parallel branches, Map items) move it to the latest end, not their sum. Timeouts still
/// run in real time.
#[derive(Debug)]
pub struct SkippingClock {
    origin: DateTime<Utc>,
    /// Nanoseconds the clock has jumped since `origin`, besides real time passing.
    skipped_ns: std::sync::atomic::AtomicI64,
    started: std::time::Instant,
}

impl SkippingClock {
    pub fn starting_at(origin: DateTime<Utc>) -> SkippingClock {
        SkippingClock {
            origin,
            skipped_ns: std::sync::atomic::AtomicI64::new(0),
            started: std::time::Instant::now(),
        }
    }
}

impl Clock for SkippingClock {
    fn now(&self) -> DateTime<Utc> {
        let real = chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default();
        let skipped = self.skipped_ns.load(std::sync::atomic::Ordering::SeqCst);
        self.origin + real + chrono::Duration::nanoseconds(skipped)
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        let deadline = self.now() + chrono::Duration::from_std(duration).unwrap_or_default();
        let real = chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default();
        let wanted = (deadline - self.origin - real)
            .num_nanoseconds()
            .unwrap_or(i64::MAX);
        self.skipped_ns
            .fetch_max(wanted, std::sync::atomic::Ordering::SeqCst);
        Box::pin(std::future::ready(()))
    }

    fn deadline(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Seconds from `now` until `at`, zero when `at` has passed.
pub(crate) fn until(clock: &dyn Clock, at: DateTime<Utc>) -> Duration {
    (at - clock.now()).to_std().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_tells_the_time_chrono_does() {
        for _ in 0..3 {
            let before = Utc::now();
            let now = SystemClock.now();
            let after = Utc::now();
            assert!(
                before <= now && now <= after,
                "{before} <= {now} <= {after}"
            );
        }
    }

    #[tokio::test]
    async fn a_skipping_clock_jumps_over_pauses_but_not_over_deadlines() {
        let origin = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let clock = SkippingClock::starting_at(origin);
        clock.sleep(Duration::from_secs(3600)).await;
        let after_wait = clock.now() - origin;
        assert!(
            after_wait >= chrono::Duration::hours(1) && after_wait < chrono::Duration::minutes(61),
            "{after_wait}"
        );
        // Two pauses at once (Parallel branches) end at the later one, not their sum.
        let (a, b) = (
            clock.sleep(Duration::from_secs(60)),
            clock.sleep(Duration::from_secs(30)),
        );
        futures_util::future::join(a, b).await;
        let after_both = clock.now() - origin;
        assert!(
            after_both >= chrono::Duration::minutes(61)
                && after_both < chrono::Duration::minutes(62)
        );
        // A timeout is not skipped: it has not passed a moment later.
        let deadline = clock.deadline(Duration::from_secs(60));
        assert!(
            tokio::time::timeout(Duration::from_millis(20), deadline)
                .await
                .is_err()
        );
    }
}
