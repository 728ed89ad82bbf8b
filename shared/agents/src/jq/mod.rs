//! jq programs through the jaq crates: compiled once per call site, run over JSON.
//!
//! A program is tenant code, so it is contained: it runs on a thread of its own (never on
//! the async runtime), under a fuel and stack budget and the step's deadline (see
//! `budget`), and its output is capped. A program that loops, recurses or runs past its
//! step's timeout fails that step; it cannot stall the server or take the process down.

mod budget;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jaq_core::box_iter::BoxIter;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::native::{Fun, v};
use jaq_core::{Compiler, Ctx, Exn, Native, ValX, Vars, unwrap_valr};
use jaq_json::Val;
use serde_json::Value;

pub use budget::{DEFAULT_FUEL, Stop};
use budget::{Gauge, Meter, Metered, THREAD_STACK_BYTES, deadline_after};

/// The most JSON one program may output, all outputs together.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// Why a program produced no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JqError {
    #[error("{0}")]
    Failed(String),
    #[error(
        "the jq program took more than {fuel} evaluation steps and was stopped; make it do less work (a loop that never ends, or `range` over a huge number?)"
    )]
    OutOfFuel { fuel: u64 },
    #[error(
        "the jq program recursed too deeply and was stopped; check that every recursive definition has a base case"
    )]
    TooDeep,
    #[error("the jq program ran longer than its {} ms timeout and was stopped", .0.as_millis())]
    Timeout(Duration),
    #[error("the jq program's output is over the {MAX_OUTPUT_BYTES} byte limit")]
    OutputTooLarge,
}

/// How much one run of a program may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub fuel: u64,
    pub timeout: Duration,
}

impl Limits {
    pub fn with_timeout(timeout: Duration) -> Limits {
        Limits {
            fuel: DEFAULT_FUEL,
            timeout,
        }
    }
}

/// Compiled programs by source: compiling loads jaq's standard library, which costs far
/// more than running a typical step's program, and a workflow runs the same few programs
/// over and over (a map step once per item).
#[derive(Default)]
pub struct ProgramCache {
    programs: Mutex<HashMap<String, Arc<Program>>>,
}

const MAX_CACHED_PROGRAMS: usize = 512;

impl ProgramCache {
    pub fn get(&self, code: &str) -> Result<Arc<Program>, String> {
        let lock = || self.programs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = lock().get(code) {
            return Ok(found.clone());
        }
        let program = Arc::new(Program::compile(code)?);
        let mut programs = lock();
        if programs.len() >= MAX_CACHED_PROGRAMS {
            programs.clear();
        }
        programs.insert(code.to_string(), program.clone());
        Ok(program)
    }
}

pub struct Program {
    filter: jaq_core::Filter<Metered>,
}

impl Program {
    pub fn compile(code: &str) -> Result<Program, String> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        // Natives resolve to the first of a name and arity: the metered ones come first.
        let funs = metered_funs()
            .chain(jaq_core::funs())
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(&arena, File { code, path: () })
            .map_err(|errors| {
                let details: Vec<String> = errors.iter().map(|(_, e)| format!("{e:?}")).collect();
                format!(
                    "the jq program does not compile (check brackets, quotes and pipes): {}",
                    details.join("; ")
                )
            })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errors| {
                let names: Vec<String> = errors
                    .iter()
                    .flat_map(|(_, errs)| errs.iter().map(|(name, _)| name.to_string()))
                    .collect();
                format!(
                    "the jq program does not compile: unknown {}",
                    names.join(", ")
                )
            })?;
        Ok(Program { filter })
    }

    /// Every output of the program on `input`, on a thread of its own, within `limits`.
    pub async fn run(self: Arc<Self>, input: Value, limits: Limits) -> Result<Vec<Value>, JqError> {
        let (send, receive) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("skein-jq".into())
            .stack_size(THREAD_STACK_BYTES)
            .spawn(move || {
                let _ = send.send(self.run_here(&input, limits));
            });
        if let Err(e) = spawned {
            return Err(JqError::Failed(format!(
                "could not start the jq program: {e}"
            )));
        }
        // The thread stops itself at the deadline; this bound is for a native call that
        // does not come back to the meter in time. The thread is then abandoned.
        let grace = limits.timeout + Duration::from_secs(1);
        match tokio::time::timeout(grace, receive).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(JqError::Failed("the jq program crashed".into())),
            Err(_) => Err(JqError::Timeout(limits.timeout)),
        }
    }

    /// Runs the program on the calling thread. Only for threads with a large stack.
    fn run_here(&self, input: &Value, limits: Limits) -> Result<Vec<Value>, JqError> {
        let text = input.to_string();
        let val = jaq_json::read::parse_single(text.as_bytes())
            .map_err(|e| JqError::Failed(format!("input is not JSON jq can read: {e}")))?;
        let meter = Meter::new(limits.fuel, deadline_after(limits.timeout));
        let gauge = Gauge {
            lut: &self.filter.lut,
            meter: &meter,
        };
        let outputs = meter.run(|| {
            let ctx = Ctx::<Metered>::new(gauge, Vars::new([]));
            let mut size = 0;
            let mut outputs = Vec::new();
            for result in self.filter.id.run((ctx, val)).map(unwrap_valr) {
                let val =
                    result.map_err(|e| JqError::Failed(format!("the jq program failed: {e}")))?;
                let text = val.to_string();
                size += text.len();
                if size > MAX_OUTPUT_BYTES {
                    return Err(JqError::OutputTooLarge);
                }
                let value = serde_json::from_str(&text).map_err(|e| {
                    JqError::Failed(format!(
                        "the jq program produced a value that is not JSON ({e})"
                    ))
                })?;
                outputs.push(value);
            }
            Ok(outputs)
        });
        match outputs {
            Ok(outcome) => outcome,
            Err(Stop::OutOfFuel) => Err(JqError::OutOfFuel { fuel: limits.fuel }),
            Err(Stop::TooDeep) => Err(JqError::TooDeep),
            Err(Stop::Deadline) => Err(JqError::Timeout(limits.timeout)),
        }
    }
}

/// Natives that loop without evaluating a term per item, metered per item instead.
fn metered_funs() -> impl Iterator<Item = Fun<Metered>> {
    let range: jaq_core::RunPtr<Metered> = |mut cv| {
        let by = cv.0.pop_var();
        let to = cv.0.pop_var();
        let from = cv.0.pop_var();
        let meter = cv.0.data().meter;
        metered_range(meter, from, to, by)
    };
    [("range", v(3), Native::<Metered>::new(range))].into_iter()
}

/// jaq's own `range($from; $to; $by)`, with one step of fuel per value.
fn metered_range<'a>(meter: &'a Meter, from: Val, to: Val, by: Val) -> BoxIter<'a, ValX<'a, Val>> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let direction = by.partial_cmp(&Val::from(0isize)).unwrap_or(Equal);
    let mut next: Option<ValX<'a, Val>> = Some(Ok(from));
    Box::new(std::iter::from_fn(move || {
        meter.tick();
        match next.take()? {
            Ok(x) => {
                let more = match direction {
                    Greater => x < to,
                    Less => x > to,
                    Equal => x != to,
                };
                if !more {
                    return None;
                }
                next = Some((x.clone() + by.clone()).map_err(Exn::from));
                Some(Ok(x))
            }
            Err(e) => Some(Err(e)),
        }
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(code: &str, input: Value) -> Result<Vec<Value>, JqError> {
        run_within(code, input, Duration::from_secs(10))
    }

    fn run_within(code: &str, input: Value, timeout: Duration) -> Result<Vec<Value>, JqError> {
        let program = Arc::new(Program::compile(code).unwrap());
        let limits = Limits::with_timeout(timeout);
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(program.run(input, limits))
    }

    #[test]
    fn a_program_is_compiled_once_per_source() {
        let cache = ProgramCache::default();
        let first = cache.get(".a").unwrap();
        assert!(Arc::ptr_eq(&first, &cache.get(".a").unwrap()));
        assert!(!Arc::ptr_eq(&first, &cache.get(".b").unwrap()));
    }

    #[test]
    fn programs_use_the_standard_library() {
        let out = run(
            ".items | map(.n * 2) | add",
            json!({"items": [{"n": 1}, {"n": 2}]}),
        );
        assert_eq!(out.unwrap(), vec![json!(6)]);
    }

    #[test]
    fn strings_and_objects_round_trip() {
        let out = run(
            "{name: .a, tags: [.b[] | ascii_upcase]}",
            json!({"a": "x\"y", "b": ["p", "q"]}),
        );
        assert_eq!(
            out.unwrap(),
            vec![json!({"name": "x\"y", "tags": ["P", "Q"]})]
        );
    }

    #[test]
    fn range_still_counts_up_down_and_by_steps() {
        assert_eq!(
            run("[range(3)]", json!(null)).unwrap(),
            vec![json!([0, 1, 2])]
        );
        assert_eq!(
            run("[range(5; 0; -2)]", json!(null)).unwrap(),
            vec![json!([5, 3, 1])]
        );
        assert_eq!(
            run("[range(0; 1; 0.5)]", json!(null)).unwrap(),
            vec![json!([0, 0.5])]
        );
    }

    #[test]
    fn syntax_errors_and_unknown_functions_are_reported() {
        let e = Program::compile(".a | map(").err().unwrap();
        assert!(e.contains("does not compile"), "{e}");
        assert!(
            Program::compile("nosuchfn(1)")
                .err()
                .unwrap()
                .contains("nosuchfn")
        );
    }

    #[test]
    fn a_program_that_never_ends_runs_out_of_fuel() {
        let out = run("last(range(1e15))", json!(null));
        assert_eq!(out, Err(JqError::OutOfFuel { fuel: DEFAULT_FUEL }));
        let out = run("def f: f; f", json!(null));
        assert_eq!(out, Err(JqError::OutOfFuel { fuel: DEFAULT_FUEL }));
    }

    #[test]
    fn a_program_that_recurses_forever_is_stopped_not_the_process() {
        assert_eq!(run("def f: 1 + f; f", json!(null)), Err(JqError::TooDeep));
    }

    #[test]
    fn deeply_nested_values_are_printed_and_dropped_safely() {
        // All of the default fuel goes into nesting, which takes seconds on a busy CI
        // machine: the timeout is far off so that the fuel, not the clock, ends it.
        let out = run_within(
            "reduce range(1e7) as $x (null; [.]) | tostring | length",
            json!(null),
            Duration::from_secs(300),
        );
        assert!(
            matches!(out, Err(JqError::OutOfFuel { .. })) || out.is_ok(),
            "{out:?}"
        );
    }

    #[test]
    fn a_program_stops_at_its_timeout() {
        let program = Arc::new(Program::compile("last(range(1e15))").unwrap());
        let limits = Limits {
            fuel: u64::MAX,
            timeout: Duration::from_millis(50),
        };
        let out = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(program.run(json!(null), limits));
        assert_eq!(out, Err(JqError::Timeout(Duration::from_millis(50))));
    }

    #[test]
    fn outputs_are_capped() {
        let out = run("[range(300000)]", json!(null));
        assert_eq!(out, Err(JqError::OutputTooLarge));
    }
}
