//! Fields that hold a value, or in a JSONata state a `{% %}` expression that gives it
//! (`"TimeoutSeconds": 30` or `"TimeoutSeconds": "{% $timeout %}"`).

use serde::de::{DeserializeOwned, Error};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Dynamic<T> {
    Value(T),
    /// A string: a JSONata expression when it is written `{% ... %}`.
    Expression(String),
}

impl<T> Dynamic<T> {
    pub fn map<U>(&self, f: impl FnOnce(&T) -> U) -> Dynamic<U> {
        match self {
            Dynamic::Value(value) => Dynamic::Value(f(value)),
            Dynamic::Expression(text) => Dynamic::Expression(text.clone()),
        }
    }
}

impl<T: Serialize> Serialize for Dynamic<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Dynamic::Value(value) => value.serialize(serializer),
            Dynamic::Expression(text) => text.serialize(serializer),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Dynamic<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(Dynamic::Expression(text)),
            // The value's own error ("invalid value: integer `-1`, expected u64").
            other => serde_json::from_value(other)
                .map(Dynamic::Value)
                .map_err(D::Error::custom),
        }
    }
}
