//! Digests that stand for a value: the same value always gives the same digest, whatever
//! order its object keys were written in. (serde_json keeps keys in insertion order, as
//! Step Functions does, so a value's text alone is not canonical.)

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The value's JSON text with every object's keys sorted.
pub fn canonical_json(value: &Value) -> String {
    serde_json::to_string(&Sorted(value)).unwrap_or_default()
}

/// SHA-256 of `bytes`, in lowercase hex.
pub fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 of the value's canonical JSON, in lowercase hex.
pub fn value_digest(value: &Value) -> String {
    hex_digest(canonical_json(value).as_bytes())
}

struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(object) => {
                let mut entries: Vec<_> = object.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, &Sorted(value))?;
                }
                map.end()
            }
            Value::Array(items) => serializer.collect_seq(items.iter().map(Sorted)),
            scalar => scalar.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_digest() {
        let written = json!({"b": 1, "a": {"y": [{"q": 1, "p": 2}], "x": null}});
        let reordered: Value =
            serde_json::from_str(r#"{"a": {"x": null, "y": [{"p": 2, "q": 1}]}, "b": 1}"#).unwrap();
        assert_eq!(canonical_json(&written), canonical_json(&reordered));
        assert_eq!(
            canonical_json(&written),
            r#"{"a":{"x":null,"y":[{"p":2,"q":1}]},"b":1}"#
        );
        assert_eq!(value_digest(&written), value_digest(&reordered));
        assert_ne!(value_digest(&written), value_digest(&json!({"b": 2})));
    }
}
