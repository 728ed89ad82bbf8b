//! Reference paths (`ResultPath`): where in a state's input its result goes, and putting it
//! there.

use std::sync::Arc;

use serde_json::Value;

use super::{Path, Query, Root, Step, type_name};

/// A `ResultPath`: where in the state's input to put its result.
#[derive(Debug, Clone)]
pub struct ReferencePath {
    text: Arc<str>,
    steps: Vec<Step>,
}

impl ReferencePath {
    pub fn parse(text: &str) -> Result<ReferencePath, String> {
        let path = Path::parse(text)?;
        match (path.root, path.query) {
            (Root::Input, Query::Definite(steps)) => Ok(ReferencePath {
                text: path.text,
                steps,
            }),
            (Root::Input, Query::Indefinite(_)) => Err(format!(
                "'{text}' must be a reference path: names and indexes only, no wildcards, slices or filters"
            )),
            _ => Err(format!(
                "'{text}' must be a reference path into the state's input ('$...')"
            )),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_root(&self) -> bool {
        self.steps.is_empty()
    }

    /// Puts `value` at this path inside `target`, creating missing objects on the way.
    pub fn set(&self, target: &mut Value, value: Value) -> Result<(), String> {
        let Some((last, parents)) = self.steps.split_last() else {
            *target = value;
            return Ok(());
        };
        let mut slot = target;
        for step in parents {
            slot = self.step_into(slot, step)?;
        }
        if slot.is_null() && matches!(last, Step::Key(_)) {
            *slot = Value::Object(serde_json::Map::new());
        }
        match (last, &mut *slot) {
            // One lookup: a key already there keeps its place.
            (Step::Key(key), Value::Object(map)) => match member_mut(map, key) {
                Some(member) => *member = value,
                None => {
                    map.insert(key.clone(), value);
                }
            },
            (Step::Index(index), Value::Array(items)) if *index < items.len() => {
                items[*index] = value;
            }
            (_, other) => return Err(self.in_the_way(type_name(other))),
        }
        Ok(())
    }

    fn step_into<'v>(&self, slot: &'v mut Value, step: &Step) -> Result<&'v mut Value, String> {
        if slot.is_null() && matches!(step, Step::Key(_)) {
            *slot = Value::Object(serde_json::Map::new());
        }
        let kind = type_name(slot);
        match (step, slot) {
            (Step::Key(key), Value::Object(map)) => {
                if member_mut(map, key).is_none() {
                    map.insert(key.clone(), Value::Null);
                }
                Ok(member_mut(map, key).expect("the member was just put in"))
            }
            (Step::Index(index), Value::Array(items)) if *index < items.len() => {
                Ok(&mut items[*index])
            }
            _ => Err(self.in_the_way(kind)),
        }
    }

    fn in_the_way(&self, kind: &str) -> String {
        format!(
            "Unable to apply ResultPath '{}' to input: a {kind} is in the way",
            self.text
        )
    }
}

/// The member `key` of `map`. Objects in state data are mostly small: up to a few keys,
/// comparing them is cheaper than hashing `key`, and neither copies it.
fn member_mut<'m>(map: &'m mut serde_json::Map<String, Value>, key: &str) -> Option<&'m mut Value> {
    const SCANNED: usize = 8;
    if map.len() <= SCANNED {
        map.iter_mut()
            .find_map(|(name, member)| same_key(name, key).then_some(member))
    } else {
        map.get_mut(key)
    }
}

/// `a == b`, byte by byte: for the short keys of state data this is cheaper than a call
/// to `memcmp`, which `==` on strings makes.
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reference_paths_create_objects_and_refuse_to_overwrite_scalars() {
        let path = ReferencePath::parse("$.a.b").unwrap();
        let mut target = json!({"x": 1});
        path.set(&mut target, json!(2)).unwrap();
        assert_eq!(target, json!({"x": 1, "a": {"b": 2}}));
        let mut scalar = json!({"a": 5});
        assert!(path.set(&mut scalar, json!(2)).is_err());
        assert!(ReferencePath::parse("$.a[*]").is_err());
        assert!(ReferencePath::parse("$$.Execution").is_err());
    }

    #[test]
    fn a_key_already_there_keeps_its_place_in_small_and_large_objects() {
        for size in [3, 20] {
            let mut target =
                Value::Object((0..size).map(|i| (format!("k{i}"), json!(i))).collect());
            let mut expected = target.clone();
            for (path, value) in [
                ("$.k1", json!("one")),
                ("$.k1.deep", json!(true)),
                ("$.new", json!(0)),
            ] {
                let path = ReferencePath::parse(path).unwrap();
                if path.text() == "$.k1.deep" {
                    // A scalar is in the way, whatever the size of the object around it.
                    assert!(path.set(&mut target, value).is_err());
                    continue;
                }
                path.set(&mut target, value.clone()).unwrap();
                expected[&path.text()[2..]] = value;
            }
            assert_eq!(target, expected);
            let keys: Vec<&String> = target.as_object().unwrap().keys().collect();
            assert_eq!(keys[1], "k1", "{size} keys");
            assert_eq!(keys.last().unwrap().as_str(), "new", "{size} keys");
        }
    }
}
