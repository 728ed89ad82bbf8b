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

mod reference;

pub use reference::ReferencePath;

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
}
