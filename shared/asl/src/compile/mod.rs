//! Definition -> [`StateMachine`]: parse each state with field-level errors, compile paths,
//! templates and rules, resolve transitions, then check the graph. Every problem is reported.

mod choice_state;
mod fields;
mod graph;
mod language;
mod states;

use std::collections::HashMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{InvalidDefinition, Problem, Problems, join};
use crate::machine::{Graph, Kind, QueryLanguage, State, StateId, StateMachine};
use crate::model::{Definition, StateDef, States};

pub(crate) use fields::Ctx;
use language::wrong_language_field;
pub(crate) use language::{check_query_language, no_downgrade};

const MAX_STATE_NAME_CHARS: usize = 80;
const STATE_TYPES: &str = "Pass, Task, Choice, Wait, Succeed, Fail, Parallel or Map";

pub(crate) fn parse_json(json: &str) -> Result<StateMachine, InvalidDefinition> {
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(json) {
        return Err(single("", format!("the definition is not valid JSON: {e}")));
    }
    // Straight from the text, so that duplicate state names are still visible.
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let definition: Definition =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let field = error.path().to_string();
            let location = if field == "." { String::new() } else { field };
            InvalidDefinition {
                problems: vec![Problem {
                    location,
                    message: error.into_inner().to_string(),
                }],
            }
        })?;
    compile_definition(definition)
}

pub(crate) fn compile_value(value: &Value) -> Result<StateMachine, InvalidDefinition> {
    let definition: Definition = typed(value, "").map_err(|problem| InvalidDefinition {
        problems: vec![problem],
    })?;
    compile_definition(definition)
}

fn compile_definition(definition: Definition) -> Result<StateMachine, InvalidDefinition> {
    let mut problems = Problems::default();
    let language = check_query_language(
        definition.query_language.as_deref(),
        "QueryLanguage",
        &mut problems,
    )
    .unwrap_or_default();
    if definition.timeout_seconds == Some(0) {
        problems.add("TimeoutSeconds", "must be a positive number of seconds");
    }
    let mut graph = compile_graph(
        &definition.start_at,
        &definition.states,
        "",
        language,
        &mut problems,
    );
    let timeout_seconds = definition.timeout_seconds;
    let mut state_names = Vec::new();
    number_states(&mut graph, &mut state_names);
    problems.into_result(StateMachine {
        definition: Arc::new(definition),
        state_names: state_names.into(),
        graph: Arc::new(graph),
        timeout_seconds,
        start: None,
    })
}

/// Gives every state its [`StateId`], its index in `names`, which it is added to; the states
/// of Parallel branches and Map processors too.
fn number_states(graph: &mut Graph, names: &mut Vec<Arc<str>>) {
    for state in &mut graph.states {
        state.id = StateId(u32::try_from(names.len()).expect("fewer than 2^32 states"));
        names.push(state.name.clone());
        let nested = match &mut state.kind {
            Kind::Parallel(parallel) => parallel.branches.iter_mut().collect(),
            Kind::Map(map) => vec![&mut map.processor],
            _ => Vec::new(),
        };
        for graph in nested {
            let graph = Arc::get_mut(graph).expect("a graph is not shared while it is compiled");
            number_states(graph, names);
        }
    }
}

fn single(location: &str, message: String) -> InvalidDefinition {
    InvalidDefinition {
        problems: vec![Problem {
            location: location.to_owned(),
            message,
        }],
    }
}

/// Deserializes with the failing field's path in the problem's location.
pub(crate) fn typed<T: DeserializeOwned>(value: &Value, at: &str) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let field = error.path().to_string();
        let location = if field == "." {
            at.to_owned()
        } else {
            join(at, &field)
        };
        Problem {
            location,
            message: error.into_inner().to_string(),
        }
    })
}

/// Compiles one set of states (the machine, a Parallel branch or a Map processor). States
/// that name no `QueryLanguage` use `language`, the definition's.
pub(crate) fn compile_graph(
    start_at: &str,
    states: &States,
    base: &str,
    language: QueryLanguage,
    problems: &mut Problems,
) -> Graph {
    let states_at = join(base, "States");
    if states.0.is_empty() {
        problems.add(&states_at, "a state machine needs at least one state");
    }
    let names: HashMap<&str, usize> = states.names().enumerate().map(|(i, n)| (n, i)).collect();
    let start = match names.get(start_at) {
        Some(index) => *index,
        None => {
            problems.add(
                join(base, "StartAt"),
                format!("no state named '{start_at}'{}", suggest(start_at, &names)),
            );
            0
        }
    };
    let before = problems.list.len();
    let mut compiled = Vec::with_capacity(states.0.len());
    for (name, raw) in &states.0 {
        let at = format!("{states_at}.{name}");
        if let Some(first) = problems.state_names.get(name) {
            let message = format!(
                "the name '{name}' is already used by {first}; state names must be unique across the whole state machine, Parallel branches and Map processors included"
            );
            problems.add(&at, message);
        } else {
            problems.state_names.insert(name.clone(), at.clone());
        }
        if name.is_empty() || name.chars().count() > MAX_STATE_NAME_CHARS {
            problems.add(
                &at,
                format!("state names must be 1 to {MAX_STATE_NAME_CHARS} characters long"),
            );
        }
        let named = raw.get("QueryLanguage").and_then(Value::as_str);
        let language_at = join(&at, "QueryLanguage");
        let state_language = check_query_language(named, &language_at, problems)
            .map(|named| no_downgrade(language, named, &language_at, problems))
            .unwrap_or(language);
        let (kind, output) = match parse_state(raw, &at, state_language) {
            Ok(def) => {
                let mut ctx = Ctx {
                    names: &names,
                    at: &at,
                    language: state_language,
                    definition_language: language,
                    problems,
                    in_catcher: false,
                };
                states::compile(def, &mut ctx)
            }
            Err(problem) => {
                problems.list.push(problem);
                (Kind::Succeed, None)
            }
        };
        compiled.push(State {
            name: name.as_str().into(),
            // Numbered once the whole machine is compiled.
            id: StateId(0),
            language: state_language,
            input_path: kind_input_path(raw, &at, problems),
            output_path: kind_output_path(raw, &at, problems),
            output,
            kind,
        });
    }
    let graph = Graph {
        start,
        states: compiled,
    };
    if problems.list.len() == before {
        graph::check(&graph, &states_at, problems);
    }
    graph
}

fn kind_input_path(raw: &Value, at: &str, problems: &mut Problems) -> crate::machine::InputPath {
    fields::io_path(raw.get("InputPath"), &join(at, "InputPath"), problems)
}

fn kind_output_path(raw: &Value, at: &str, problems: &mut Problems) -> crate::machine::InputPath {
    fields::io_path(raw.get("OutputPath"), &join(at, "OutputPath"), problems)
}

/// Fields that belong to features skein-asl does not run: a clear "unsupported", not "unknown".
const UNSUPPORTED_FIELDS: [(&str, &str); 4] = [
    (
        "ItemReader",
        "belongs to Distributed Map, which skein-asl does not run (use an INLINE Map)",
    ),
    (
        "ItemBatcher",
        "belongs to Distributed Map, which skein-asl does not run (use an INLINE Map)",
    ),
    (
        "ResultWriter",
        "belongs to Distributed Map, which skein-asl does not run (use an INLINE Map)",
    ),
    (
        "Label",
        "belongs to Distributed Map, which skein-asl does not run (use an INLINE Map)",
    ),
];

fn parse_state(raw: &Value, at: &str, language: QueryLanguage) -> Result<StateDef, Problem> {
    let problem = |field: &str, message: String| Problem {
        location: join(at, field),
        message,
    };
    let Value::Object(map) = raw else {
        return Err(Problem {
            location: at.to_owned(),
            message: "a state must be an object".into(),
        });
    };
    for (field, why) in UNSUPPORTED_FIELDS {
        if map.contains_key(field) {
            return Err(problem(field, format!("'{field}' {why}")));
        }
    }
    if let Some((field, message)) = wrong_language_field(map, language) {
        return Err(problem(field, message));
    }
    let state_type = match map.get("Type") {
        Some(Value::String(t)) => t.as_str(),
        Some(_) => {
            return Err(problem(
                "Type",
                format!("'Type' must be a string: {STATE_TYPES}"),
            ));
        }
        None => {
            return Err(problem(
                "Type",
                format!("the state has no 'Type'; it must be one of {STATE_TYPES}"),
            ));
        }
    };
    let mut fields: Map<String, Value> = map.clone();
    fields.remove("Type");
    let body = Value::Object(fields);
    Ok(match state_type {
        "Pass" => StateDef::Pass(typed(&body, at)?),
        "Task" => StateDef::Task(typed(&body, at)?),
        "Choice" => StateDef::Choice(typed(&body, at)?),
        "Wait" => StateDef::Wait(typed(&body, at)?),
        "Succeed" => StateDef::Succeed(typed(&body, at)?),
        "Fail" => StateDef::Fail(typed(&body, at)?),
        "Parallel" => StateDef::Parallel(typed(&body, at)?),
        "Map" => StateDef::Map(typed(&body, at)?),
        other => {
            return Err(problem(
                "Type",
                format!("'{other}' is not a state type; use {STATE_TYPES}"),
            ));
        }
    })
}

/// ` (did you mean 'X'?)` when a state name differs only by case or one edit away.
pub(crate) fn suggest(missing: &str, names: &HashMap<&str, usize>) -> String {
    let close = names.keys().find(|name| {
        name.eq_ignore_ascii_case(missing)
            || (missing.len() > 3 && edit_distance_is_one(name, missing))
    });
    close
        .map(|name| format!(" (did you mean '{name}'?)"))
        .unwrap_or_default()
}

fn edit_distance_is_one(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if long.len() - short.len() > 1 {
        return false;
    }
    let prefix = short
        .iter()
        .zip(long.iter())
        .take_while(|(x, y)| x == y)
        .count();
    if short.len() == long.len() {
        short[prefix + 1.min(short.len() - prefix)..] == long[prefix + 1.min(long.len() - prefix)..]
            && prefix < short.len()
    } else {
        short[prefix..] == long[prefix + 1..]
    }
}
