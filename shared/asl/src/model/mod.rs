//! The serde model of an Amazon States Language definition (JSONPath and JSONata states).
//!
//! These types mirror the JSON exactly (PascalCase fields, unknown fields refused), so a
//! definition round-trips through them. [`crate::StateMachine::parse`] turns them into the
//! validated, compiled form the interpreter runs.

mod dynamic;
mod nullable;
mod states;

pub use dynamic::Dynamic;
pub use nullable::Nullable;
pub use states::{
    Catcher, ChoiceState, FailState, ItemProcessor, MapState, ParallelState, PassState,
    ProcessorConfig, Retrier, StateDef, SucceedState, TaskState, WaitState,
};

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A state machine, or a Parallel branch, or a Map's item processor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Definition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub start_at: String,
    pub states: States,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_language: Option<String>,
}

/// The `States` object, in the order it was written (state order matters to readers, and
/// duplicate names are an error rather than a silent overwrite).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct States(pub Vec<(String, Value)>);

impl States {
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(name, _)| name.as_str())
    }
}

impl Serialize for States {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for States {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StatesVisitor;
        impl<'de> Visitor<'de> for StatesVisitor {
            type Value = States;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of states, keyed by state name")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<States, A::Error> {
                let mut states: Vec<(String, Value)> = Vec::new();
                while let Some((name, state)) = map.next_entry::<String, Value>()? {
                    if states.iter().any(|(existing, _)| *existing == name) {
                        return Err(serde::de::Error::custom(format!(
                            "state '{name}' is defined twice; state names must be unique"
                        )));
                    }
                    states.push((name, state));
                }
                Ok(States(states))
            }
        }
        deserializer.deserialize_map(StatesVisitor)
    }
}
