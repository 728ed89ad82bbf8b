//! The compiled, validated form of a definition that the interpreter runs: names resolved to
//! indexes, paths and templates parsed once.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use crate::choice::Rule;
use crate::error::InvalidDefinition;
use crate::model::Definition;
use crate::path::{Path, ReferencePath};
use crate::template::Template;

/// A validated state machine, ready to run.
#[derive(Debug, Clone)]
pub struct StateMachine {
    pub(crate) definition: Arc<Definition>,
    pub(crate) graph: Arc<Graph>,
    pub(crate) timeout_seconds: Option<u64>,
    /// The name of every state, those inside Parallel branches and Map processors included,
    /// by [`StateId`]: histories record the id, and give the name when read.
    pub(crate) state_names: Arc<[Arc<str>]>,
    /// The top-level state executions start in, when not `StartAt` (see `starting_at`).
    pub(crate) start: Option<usize>,
}

impl StateMachine {
    /// Parses and validates a JSON definition, reporting every problem found.
    pub fn parse(json: &str) -> Result<StateMachine, InvalidDefinition> {
        crate::compile::parse_json(json)
    }

    /// Validates an already-deserialized definition.
    pub fn from_value(value: &Value) -> Result<StateMachine, InvalidDefinition> {
        crate::compile::compile_value(value)
    }

    pub fn definition(&self) -> &Definition {
        &self.definition
    }

    /// The same machine, with executions starting in `state` (a top-level state) instead of
    /// `StartAt`: to re-run part of an execution, e.g. from the state where it failed.
    pub fn starting_at(&self, state: &str) -> Option<StateMachine> {
        let index = self.graph.states.iter().position(|s| &*s.name == state)?;
        Some(StateMachine {
            start: Some(index),
            ..self.clone()
        })
    }

    /// The names of the top-level states, in the definition's order.
    pub fn state_names(&self) -> Vec<&str> {
        self.graph.states.iter().map(|s| &*s.name).collect()
    }

    /// Number of states, counting those inside Parallel branches and Map processors.
    pub fn state_count(&self) -> usize {
        self.state_names.len()
    }
}

#[derive(Debug)]
pub(crate) struct Graph {
    pub(crate) start: usize,
    pub(crate) states: Vec<State>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) name: Arc<str>,
    pub(crate) id: StateId,
    pub(crate) language: QueryLanguage,
    pub(crate) input_path: InputPath,
    pub(crate) output_path: InputPath,
    /// JSONata's `Output` (JSONPath states shape their output with the paths instead).
    pub(crate) output: Option<Template>,
    pub(crate) kind: Kind,
}

/// A state's number, unique in its machine (states in Parallel branches and Map processors
/// included), given when the machine is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StateId(pub(crate) u32);

/// How a state reads and shapes its data: `QueryLanguage`, set at the top of the definition
/// and per state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum QueryLanguage {
    #[default]
    JsonPath,
    Jsonata,
}

/// `InputPath` / `OutputPath`: absent keeps everything, `null` passes `{}`.
#[derive(Debug)]
pub(crate) enum InputPath {
    Whole,
    Empty,
    Select(Path),
}

/// `ResultPath`: absent or `$` replaces the input, `null` discards the result.
#[derive(Debug)]
pub(crate) enum ResultPath {
    Replace,
    Discard,
    At(Arc<ReferencePath>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    Next(usize),
    End,
}

/// A number given directly or read from the input by a `...Path` field.
#[derive(Debug)]
pub(crate) enum Number {
    Fixed(f64),
    Path(Path),
    /// A JSONata expression (`"TimeoutSeconds": "{% $timeout %}"`).
    Query(Template),
}

/// Text given directly, or read by a path or intrinsic (`ErrorPath`, `CausePath`).
#[derive(Debug)]
pub(crate) enum Text {
    Fixed(String),
    /// `ErrorPath`/`CausePath`: a path or intrinsic, wrapped as `{"value.$": ...}`.
    Dynamic(Template),
    /// A JSONata `{% %}` expression giving the text.
    Query(Template),
}

#[derive(Debug)]
pub(crate) enum Kind {
    Pass(Pass),
    Task(Task),
    Choice(Choice),
    Wait(Wait),
    Succeed,
    Fail(Fail),
    Parallel(Parallel),
    Map(Map),
}

/// A Pass state's `Result`, with an upper bound of its serialized size worked out once
/// (a chain of Pass states then checks the payload limit without walking it each time).
#[derive(Debug)]
pub(crate) struct FixedResult {
    pub(crate) value: Value,
    pub(crate) size_bound: usize,
}

impl FixedResult {
    pub(crate) fn new(value: Value) -> FixedResult {
        let size_bound = crate::json_size::size_bound(&value, usize::MAX);
        FixedResult { value, size_bound }
    }
}

#[derive(Debug)]
pub(crate) struct Pass {
    pub(crate) parameters: Option<Template>,
    pub(crate) result: Option<FixedResult>,
    pub(crate) result_path: ResultPath,
    pub(crate) assign: Option<Template>,
    pub(crate) next: Transition,
}

#[derive(Debug)]
pub(crate) struct Task {
    pub(crate) resource: Arc<str>,
    pub(crate) wait_for_token: bool,
    pub(crate) parameters: Option<Template>,
    pub(crate) result_selector: Option<Template>,
    pub(crate) result_path: ResultPath,
    pub(crate) recovery: Recovery,
    pub(crate) timeout: Option<Number>,
    pub(crate) heartbeat: Option<Number>,
    pub(crate) credentials: Option<Value>,
    pub(crate) assign: Option<Template>,
    pub(crate) next: Transition,
}

#[derive(Debug, Default)]
pub(crate) struct Recovery {
    pub(crate) retry: Vec<Retry>,
    pub(crate) catch: Vec<Catch>,
}

#[derive(Debug)]
pub(crate) struct Retry {
    pub(crate) errors: Vec<String>,
    pub(crate) interval_seconds: f64,
    pub(crate) max_attempts: u64,
    pub(crate) backoff_rate: f64,
    pub(crate) max_delay_seconds: Option<f64>,
    pub(crate) full_jitter: bool,
}

#[derive(Debug)]
pub(crate) struct Catch {
    pub(crate) errors: Vec<String>,
    pub(crate) next: usize,
    pub(crate) result_path: ResultPath,
    pub(crate) assign: Option<Template>,
    /// JSONata's `Output`, over `$states.errorOutput`.
    pub(crate) output: Option<Template>,
}

#[derive(Debug)]
pub(crate) struct Choice {
    pub(crate) rules: Vec<ChoiceBranch>,
    pub(crate) default: Option<usize>,
    pub(crate) assign: Option<Template>,
}

#[derive(Debug)]
pub(crate) struct ChoiceBranch {
    pub(crate) test: Test,
    pub(crate) next: usize,
    pub(crate) assign: Option<Template>,
    /// JSONata's `Output` for this rule (else the state's).
    pub(crate) output: Option<Template>,
}

/// What decides a Choice rule: a JSONPath rule, or a JSONata `Condition`.
#[derive(Debug)]
pub(crate) enum Test {
    Rule(Rule),
    Condition(Template),
}

#[derive(Debug)]
pub(crate) enum WaitFor {
    Seconds(Number),
    Timestamp(DateTime<FixedOffset>),
    TimestampPath(Path),
    /// A JSONata expression giving the timestamp.
    TimestampQuery(Template),
}

#[derive(Debug)]
pub(crate) struct Wait {
    pub(crate) until: WaitFor,
    pub(crate) assign: Option<Template>,
    pub(crate) next: Transition,
}

#[derive(Debug)]
pub(crate) struct Fail {
    pub(crate) error: Option<Text>,
    pub(crate) cause: Option<Text>,
}

#[derive(Debug)]
pub(crate) struct Parallel {
    pub(crate) branches: Vec<Arc<Graph>>,
    pub(crate) parameters: Option<Template>,
    pub(crate) result_selector: Option<Template>,
    pub(crate) result_path: ResultPath,
    pub(crate) recovery: Recovery,
    pub(crate) assign: Option<Template>,
    pub(crate) next: Transition,
}

#[derive(Debug)]
pub(crate) struct Map {
    pub(crate) processor: Arc<Graph>,
    pub(crate) items_path: Option<Path>,
    /// JSONata's `Items`: an array, or an expression giving one.
    pub(crate) items: Option<Template>,
    pub(crate) item_selector: Option<Template>,
    pub(crate) max_concurrency: Option<Number>,
    pub(crate) tolerated_count: Option<Number>,
    pub(crate) tolerated_percentage: Option<Number>,
    pub(crate) result_selector: Option<Template>,
    pub(crate) result_path: ResultPath,
    pub(crate) recovery: Recovery,
    pub(crate) assign: Option<Template>,
    pub(crate) next: Transition,
}
