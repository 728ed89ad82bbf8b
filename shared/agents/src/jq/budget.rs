//! The budget a tenant's jq program runs under: fuel (evaluation steps), a stack depth,
//! and a deadline. jaq has no budget of its own, so the meter rides on the one call every
//! evaluation step makes: the interpreter asks its data for the lookup table (`lut()`)
//! each time it evaluates a term. When the budget is spent the meter unwinds out of the
//! interpreter with `resume_unwind` (which skips the panic hook, so nothing is printed),
//! and `Budget::run` turns that into a `Stop`.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::{Duration, Instant};

use jaq_core::data::HasLut;
use jaq_core::{DataT, Lut};
use jaq_json::Val;

/// Evaluation steps one program may take. A transform over a few thousand items takes
/// tens of thousands; ten million is about a second of CPU.
pub const DEFAULT_FUEL: u64 = 10_000_000;

/// How deep the interpreter may recurse, in bytes of stack. The thread it runs on has
/// `THREAD_STACK_BYTES`, so native code under the last metered step (printing or dropping
/// a deeply nested value) still has plenty of room.
const MAX_STACK_BYTES: usize = 32 * 1024 * 1024;
pub(crate) const THREAD_STACK_BYTES: usize = 512 * 1024 * 1024;

/// How often, in steps, the meter looks at the clock.
const CLOCK_EVERY: u64 = 1024;

/// Why a program was stopped before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// It took more evaluation steps than its fuel.
    OutOfFuel,
    /// It recursed deeper than the stack budget (e.g. `def f: 1 + f; f`).
    TooDeep,
    /// It ran past its deadline (the step's timeout).
    Deadline,
}

/// The data type jaq runs filters over: JSON values, with a meter in the global data.
pub struct Metered;

impl DataT for Metered {
    type V<'a> = Val;
    type Data<'a> = Gauge<'a>;
}

/// What every evaluation step sees: the compiled filter's table and the meter.
#[derive(Clone, Copy)]
pub struct Gauge<'a> {
    pub(crate) lut: &'a Lut<Metered>,
    pub(crate) meter: &'a Meter,
}

impl<'a> HasLut<'a, Metered> for Gauge<'a> {
    fn lut(&self) -> &'a Lut<Metered> {
        self.meter.tick();
        self.lut
    }
}

/// Counts steps on the thread running one program.
pub struct Meter {
    fuel: Cell<u64>,
    deadline: Instant,
    stack_base: usize,
}

impl Meter {
    /// A meter for a program that starts now, on this thread.
    pub fn new(fuel: u64, deadline: Instant) -> Meter {
        Meter {
            fuel: Cell::new(fuel),
            deadline,
            stack_base: stack_address(),
        }
    }

    /// One evaluation step; unwinds out of the interpreter when the budget is spent.
    pub fn tick(&self) {
        let left = self.fuel.get();
        if left == 0 {
            resume_unwind(Box::new(Stop::OutOfFuel));
        }
        self.fuel.set(left - 1);
        if self.stack_base.abs_diff(stack_address()) > MAX_STACK_BYTES {
            resume_unwind(Box::new(Stop::TooDeep));
        }
        if left.is_multiple_of(CLOCK_EVERY) && Instant::now() >= self.deadline {
            resume_unwind(Box::new(Stop::Deadline));
        }
    }

    /// Runs `work`, turning a spent budget into `Err(Stop)`. Any other panic goes on.
    pub fn run<T>(&self, work: impl FnOnce() -> T) -> Result<T, Stop> {
        match catch_unwind(AssertUnwindSafe(work)) {
            Ok(value) => Ok(value),
            Err(payload) => match payload.downcast::<Stop>() {
                Ok(stop) => Err(*stop),
                Err(other) => resume_unwind(other),
            },
        }
    }
}

/// Where this thread's stack is now; the distance between two calls is how deep it went.
#[inline(never)]
fn stack_address() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// A deadline `timeout` from now, saturating far in the future.
pub fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meter_stops_when_its_fuel_is_spent() {
        let meter = Meter::new(3, deadline_after(Duration::from_secs(60)));
        let outcome = meter.run(|| {
            for _ in 0..10 {
                meter.tick();
            }
        });
        assert_eq!(outcome, Err(Stop::OutOfFuel));
    }

    #[test]
    fn a_meter_stops_at_its_deadline() {
        let meter = Meter::new(u64::MAX, Instant::now());
        let outcome = meter.run(|| {
            loop {
                meter.tick();
            }
        });
        assert_eq!(outcome, Err(Stop::Deadline));
    }

    #[test]
    fn other_panics_are_not_swallowed() {
        let meter = Meter::new(10, deadline_after(Duration::from_secs(60)));
        let caught = catch_unwind(AssertUnwindSafe(|| meter.run(|| panic!("a bug"))));
        assert!(caught.is_err());
    }
}
