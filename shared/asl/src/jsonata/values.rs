//! Between serde_json values (what states pass) and JSONata's values. Whole numbers come
//! back as integers (JSONata computes in f64, Step Functions prints `3`, not `3.0`), and
//! objects keep their key order both ways.

use jsonata_core::value::{JArray, JValue};
use serde_json::{Map, Number, Value};

/// The largest integer an f64 holds exactly.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

pub(super) fn to_jvalue(value: &Value) -> JValue {
    match value {
        Value::Null => JValue::Null,
        Value::Bool(b) => JValue::Bool(*b),
        Value::Number(n) => JValue::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JValue::string(s.as_str()),
        Value::Array(items) => {
            let flat = !items.iter().any(Value::is_array);
            JValue::Array(JArray::new_flat(
                items.iter().map(to_jvalue).collect(),
                flat,
            ))
        }
        Value::Object(map) => JValue::object(
            map.iter()
                .map(|(key, value)| (key.clone(), to_jvalue(value)))
                .collect(),
        ),
    }
}

/// `None` for JSONata's `undefined` (and for functions, which JSON cannot hold); inside
/// arrays and objects those are left out, as `JSON.stringify` does.
pub(super) fn to_json(value: &JValue) -> Option<Value> {
    Some(match value {
        JValue::Null => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number(*n),
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(items) => Value::Array(items.iter().filter_map(to_json).collect()),
        JValue::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, value) in map.iter() {
                if let Some(value) = to_json(value) {
                    out.insert(key.clone(), value);
                }
            }
            Value::Object(out)
        }
        _ => return None,
    })
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() <= MAX_EXACT {
        Value::Number(Number::from(n as i64))
    } else {
        // JSON has no NaN or infinity; JSONata itself refuses to produce them (D1001).
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_round_trip_with_integers_and_key_order() {
        let value = json!({"z": 1, "a": [1.5, "x", null, true, {"k": -3}], "m": 1e300});
        let back = to_json(&to_jvalue(&value)).unwrap();
        assert_eq!(back, value);
        assert_eq!(back.to_string(), value.to_string());
    }
}
