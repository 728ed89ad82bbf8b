//! ASL paths: `$` (the state's input), `$$` (the context object) and `$name` (a variable),
//! followed by a JSONPath.
//!
//! Definite paths (only names and indexes, the overwhelming majority) are walked directly,
//! which is what keeps a state transition in the low microseconds. Anything else (wildcards,
//! slices, filters, descendants) is an RFC 9535 query run by `serde_json_path`; like Step
//! Functions, an indefinite path yields an array of everything it matched.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;
use serde_json_path::JsonPath;

/// What a path is evaluated against.
pub trait Scope {
    fn input(&self) -> &Value;
    /// The `$$` context object. `with_execution_input` is false when the path cannot reach
    /// `$$.Execution.Input`, which spares copying the execution's input into it.
    fn context(&self, with_execution_input: bool) -> &Value;
    fn variable(&self, name: &str) -> Option<&Value>;
    /// A definite `$$` path answered without building the context object (a Map's
    /// `$$.Map.Item.Value` is read once per item); `None` to build it and walk.
    fn context_field(&self, _steps: &[Step]) -> Option<Cow<'_, Value>> {
        None
    }
    /// JSONata's `$states.result`: what a Task, Parallel or Map produced.
    fn result(&self) -> Option<&Value> {
        None
    }
    /// JSONata's `$states.errorOutput`, in a Catch.
    fn error_output(&self) -> Option<&Value> {
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    Input,
    Context,
    Variable(Arc<str>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone)]
enum Query {
    Definite(Vec<Step>),
    Indefinite(JsonPath),
}

#[derive(Debug, Clone)]
pub struct Path {
    text: Arc<str>,
    root: Root,
    query: Query,
}

/// Why a path found nothing (the interpreter maps it to the right `States.*` error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    pub message: String,
}

impl Path {
    pub fn parse(text: &str) -> Result<Path, String> {
        let (root, rest) = split_root(text)?;
        let query = match parse_definite(rest) {
            Some(steps) => Query::Definite(steps),
            None => {
                let rfc = format!("${rest}");
                let parsed = JsonPath::parse(&rfc)
                    .map_err(|e| format!("'{text}' is not a valid JSONPath: {e}"))?;
                Query::Indefinite(parsed)
            }
        };
        Ok(Path {
            text: text.into(),
            root,
            query,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The steps of a definite path, `None` for a query.
    pub fn steps(&self) -> Option<&[Step]> {
        match &self.query {
            Query::Definite(steps) => Some(steps),
            Query::Indefinite(_) => None,
        }
    }

    fn reads_execution_input(&self) -> bool {
        match &self.query {
            Query::Definite(steps) => match steps.as_slice() {
                [] | [Step::Key(_)] => true,
                [Step::Key(first), Step::Key(second), ..] => {
                    first == "Execution" && second == "Input"
                }
                _ => false,
            },
            Query::Indefinite(_) => true,
        }
    }

    pub fn eval<'s>(&self, scope: &'s dyn Scope) -> Result<Cow<'s, Value>, PathError> {
        if let (Root::Context, Query::Definite(steps)) = (&self.root, &self.query)
            && let Some(found) = scope.context_field(steps)
        {
            return Ok(found);
        }
        let base = match &self.root {
            Root::Input => scope.input(),
            Root::Context => scope.context(self.reads_execution_input()),
            Root::Variable(name) => scope.variable(name).ok_or_else(|| PathError {
                message: format!(
                    "Invalid path '{}': variable '${name}' is not defined",
                    self.text
                ),
            })?,
        };
        match &self.query {
            Query::Definite(steps) => {
                walk(base, steps)
                    .map(Cow::Borrowed)
                    .ok_or_else(|| PathError {
                        message: format!(
                            "Invalid path '{}': the input has no value at that path",
                            self.text
                        ),
                    })
            }
            Query::Indefinite(query) => {
                let found: Vec<Value> = query.query(base).all().into_iter().cloned().collect();
                Ok(Cow::Owned(Value::Array(found)))
            }
        }
    }
}

fn split_root(text: &str) -> Result<(Root, &str), String> {
    let Some(after) = text.strip_prefix('$') else {
        return Err(format!("'{text}' is not a path: paths start with '$'"));
    };
    if let Some(rest) = after.strip_prefix('$') {
        return Ok((Root::Context, rest));
    }
    let name_len = after
        .char_indices()
        .find(|&(i, c)| !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(after.len(), |(i, _)| i);
    if name_len == 0 {
        return Ok((Root::Input, after));
    }
    Ok((Root::Variable(after[..name_len].into()), &after[name_len..]))
}

pub(crate) fn walk<'v>(mut value: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    for step in steps {
        value = match (step, value) {
            (Step::Key(key), Value::Object(map)) => map.get(key)?,
            (Step::Index(index), Value::Array(items)) => items.get(*index)?,
            _ => return None,
        };
    }
    Some(value)
}

fn is_plain_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || !c.is_ascii()
}

/// `.name`, `['name']`, `["name"]` and `[3]` steps only; `None` means "not definite".
fn parse_definite(mut rest: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after
                .find(|c: char| !is_plain_name_char(c))
                .unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            steps.push(Step::Key(after[..end].to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']')?;
            let inner = &after[..close];
            if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
                steps.push(Step::Index(inner.parse().ok()?));
            } else {
                steps.push(Step::Key(quoted_name(inner)?));
            }
            rest = &after[close + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

fn quoted_name(inner: &str) -> Option<String> {
    let quote = inner.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = inner.strip_prefix(quote)?.strip_suffix(quote)?;
    if body.contains(['\\', '\'', '"']) {
        return None; // escapes: leave them to the RFC parser
    }
    Some(body.to_owned())
}

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

pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Fixed(Value, Value);
    impl Scope for Fixed {
        fn input(&self) -> &Value {
            &self.0
        }
        fn context(&self, _: bool) -> &Value {
            &self.1
        }
        fn variable(&self, name: &str) -> Option<&Value> {
            (name == "count").then_some(&self.1["Vars"]["count"])
        }
    }

    fn eval(path: &str, input: Value) -> Result<Value, PathError> {
        let scope = Fixed(
            input,
            json!({"Execution": {"Id": "x"}, "Vars": {"count": 3}}),
        );
        Path::parse(path)
            .unwrap()
            .eval(&scope)
            .map(|v| v.into_owned())
    }

    #[test]
    fn definite_paths_walk_names_and_indexes() {
        let input = json!({"a": {"b": [10, {"c d": true}]}});
        assert_eq!(eval("$.a.b[0]", input.clone()).unwrap(), json!(10));
        assert_eq!(
            eval("$['a']['b'][1]['c d']", input.clone()).unwrap(),
            json!(true)
        );
        assert_eq!(eval("$", input.clone()).unwrap(), input);
        assert!(eval("$.a.missing", input).is_err());
    }

    #[test]
    fn indefinite_paths_return_every_match() {
        let input = json!({"items": [{"p": 1}, {"p": 5}, {"p": 9}]});
        assert_eq!(
            eval("$.items[*].p", input.clone()).unwrap(),
            json!([1, 5, 9])
        );
        assert_eq!(
            eval("$.items[?(@.p > 2)].p", input.clone()).unwrap(),
            json!([5, 9])
        );
        assert_eq!(eval("$.items[1:].p", input).unwrap(), json!([5, 9]));
    }

    #[test]
    fn context_and_variables_have_their_own_roots() {
        assert_eq!(eval("$$.Execution.Id", json!({})).unwrap(), json!("x"));
        assert_eq!(eval("$count", json!({})).unwrap(), json!(3));
        assert!(eval("$other", json!({})).is_err());
    }

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
