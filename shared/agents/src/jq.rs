//! jq programs through the jaq crates: compiled once per call site, run over JSON.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde_json::Value;

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
    filter: jaq_core::Filter<data::JustLut<Val>>,
}

impl Program {
    pub fn compile(code: &str) -> Result<Program, String> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
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

    /// Every output of the program on `input`, or the first runtime error.
    pub fn run(&self, input: &Value) -> Result<Vec<Value>, String> {
        let text = input.to_string();
        let val = jaq_json::read::parse_single(text.as_bytes())
            .map_err(|e| format!("input is not JSON jq can read: {e}"))?;
        let ctx = Ctx::<data::JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        self.filter
            .id
            .run((ctx, val))
            .map(unwrap_valr)
            .map(|result| {
                let val = result.map_err(|e| format!("the jq program failed: {e}"))?;
                serde_json::from_str(&val.to_string())
                    .map_err(|e| format!("the jq program produced a value that is not JSON ({e})"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_program_is_compiled_once_per_source() {
        let cache = ProgramCache::default();
        let first = cache.get(".a").unwrap();
        assert!(Arc::ptr_eq(&first, &cache.get(".a").unwrap()));
        assert!(!Arc::ptr_eq(&first, &cache.get(".b").unwrap()));
    }

    #[test]
    fn programs_use_the_standard_library() {
        let p = Program::compile(".items | map(.n * 2) | add").unwrap();
        assert_eq!(
            p.run(&json!({"items": [{"n": 1}, {"n": 2}]})).unwrap(),
            vec![json!(6)]
        );
    }

    #[test]
    fn strings_and_objects_round_trip() {
        let p = Program::compile("{name: .a, tags: [.b[] | ascii_upcase]}").unwrap();
        let out = p.run(&json!({"a": "x\"y", "b": ["p", "q"]})).unwrap();
        assert_eq!(out, vec![json!({"name": "x\"y", "tags": ["P", "Q"]})]);
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
}
