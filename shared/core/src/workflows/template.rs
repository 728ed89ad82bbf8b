//! Input templates: JSON in which strings may hold `{{ reference }}`s to the run input, to
//! earlier steps and, in a map step, to the current item.
//!
//! A string that is exactly one reference becomes the referenced value with its JSON type
//! (`"{{ input.count }}"` gives a number); references inside longer text are written into
//! the text (strings as they are, other values as compact JSON). A missing value is `null`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Field(String),
    Index(usize),
}

/// Which part of a step a reference reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepPart {
    Output,
    Error,
    Status,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    Input,
    Step {
        id: String,
        part: StepPart,
    },
    /// The current element of a map step's list, and its position.
    Item,
    Index,
    /// `run.id`, `run.workflow`, `run.version`.
    Run,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub root: Root,
    pub path: Vec<Segment>,
}

impl Reference {
    pub fn step(&self) -> Option<&str> {
        match &self.root {
            Root::Step { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// Supplies the value behind each root; `follow` then walks the path.
pub trait Scope {
    fn root(&self, root: &Root) -> Option<Value>;
}

/// A result whose error is (location in the template, message).
type Located<T> = Result<T, (String, String)>;

const OPEN: &str = "{{";
const CLOSE: &str = "}}";

/// Every reference in a template, with the JSON location of the string that holds it.
/// Fails on the first malformed reference, naming where it is.
pub fn references(template: &Value) -> Located<Vec<(String, Reference)>> {
    let mut found = Vec::new();
    walk(template, "", &mut |location, text| {
        for expression in expressions(text).map_err(|e| (location.to_string(), e))? {
            let reference = parse_reference(expression).map_err(|e| (location.to_string(), e))?;
            found.push((location.to_string(), reference));
        }
        Ok(())
    })?;
    Ok(found)
}

fn walk(
    value: &Value,
    location: &str,
    visit: &mut dyn FnMut(&str, &str) -> Located<()>,
) -> Located<()> {
    match value {
        Value::String(text) => visit(location, text),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| walk(item, &format!("{location}[{i}]"), visit)),
        Value::Object(fields) => fields
            .iter()
            .try_for_each(|(k, v)| walk(v, &format!("{location}.{k}"), visit)),
        _ => Ok(()),
    }
}

/// The trimmed text between each `{{` and `}}`.
fn expressions(text: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let end = after
            .find(CLOSE)
            .ok_or_else(|| format!("`{text}` opens `{{{{` without a closing `}}}}`"))?;
        found.push(after[..end].trim());
        rest = &after[end + CLOSE.len()..];
    }
    Ok(found)
}

pub fn parse_reference(expression: &str) -> Result<Reference, String> {
    let segments = parse_path(expression)?;
    let mut segments = segments.into_iter();
    let hint = "start with input, steps.<id>.output, steps.<id>.error, steps.<id>.status, item, index or run";
    let root = match segments.next() {
        Some(Segment::Field(f)) if f == "input" => Root::Input,
        Some(Segment::Field(f)) if f == "item" => Root::Item,
        Some(Segment::Field(f)) if f == "index" => Root::Index,
        Some(Segment::Field(f)) if f == "run" => Root::Run,
        Some(Segment::Field(f)) if f == "steps" => {
            let Some(Segment::Field(id)) = segments.next() else {
                return Err(format!(
                    "`{expression}`: name a step, e.g. steps.research.output"
                ));
            };
            let part = match segments.next() {
                Some(Segment::Field(p)) if p == "output" => StepPart::Output,
                Some(Segment::Field(p)) if p == "error" => StepPart::Error,
                Some(Segment::Field(p)) if p == "status" => StepPart::Status,
                _ => {
                    return Err(format!(
                        "`{expression}`: after steps.{id} write .output, .error or .status"
                    ));
                }
            };
            Root::Step { id, part }
        }
        _ => return Err(format!("`{expression}` is not a reference: {hint}")),
    };
    Ok(Reference {
        root,
        path: segments.collect(),
    })
}

fn parse_path(expression: &str) -> Result<Vec<Segment>, String> {
    let bad = |why: &str| format!("`{expression}` is not a reference: {why}");
    let mut segments = Vec::new();
    let mut rest = expression;
    if rest.is_empty() {
        return Err(bad("it is empty"));
    }
    loop {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let field = &rest[..end];
        let valid = !field.is_empty()
            && field
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(bad(
                "names hold letters, digits, `_` and `-`, joined by `.`",
            ));
        }
        segments.push(Segment::Field(field.to_string()));
        rest = &rest[end..];
        while let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']').ok_or_else(|| bad("`[` without `]`"))?;
            let index = inner[..close]
                .trim()
                .parse()
                .map_err(|_| bad("indexes are whole numbers, e.g. [0]"))?;
            segments.push(Segment::Index(index));
            rest = &inner[close + 1..];
        }
        match rest.strip_prefix('.') {
            Some(next) => rest = next,
            None if rest.is_empty() => return Ok(segments),
            None => return Err(bad("unexpected text after a name")),
        }
    }
}

/// A template rendered to more than its byte limit (each reference can copy a whole
/// step output, so a short template can render to gigabytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("renders to more than {limit} bytes")]
pub struct TooLarge {
    pub limit: usize,
}

/// Renders a template, stopping as soon as the output passes `limit` bytes (counted as
/// the JSON text of strings and of inserted values).
pub fn render_within(template: &Value, scope: &dyn Scope, limit: usize) -> Result<Value, TooLarge> {
    let mut left = limit;
    render_counted(template, scope, &mut left).ok_or(TooLarge { limit })
}

fn render_counted(template: &Value, scope: &dyn Scope, left: &mut usize) -> Option<Value> {
    fn spend(left: &mut usize, bytes: usize) -> Option<()> {
        *left = left.checked_sub(bytes)?;
        Some(())
    }
    match template {
        Value::Array(items) => {
            spend(left, 2)?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(render_counted(item, scope, left)?);
            }
            Some(Value::Array(out))
        }
        Value::Object(fields) => {
            spend(left, 2)?;
            let mut out = serde_json::Map::new();
            for (key, value) in fields {
                spend(left, key.len() + 4)?;
                out.insert(key.clone(), render_counted(value, scope, left)?);
            }
            Some(Value::Object(out))
        }
        Value::String(text) if text.contains(OPEN) => {
            let rendered = render_text_within(text, scope, *left)?;
            // Sizing a large inserted value costs a pass over it, which is what a step's
            // input costs to store anyway.
            let size = match &rendered {
                Value::String(s) => s.len() + 2,
                other => serde_json::to_vec(other).map_or(usize::MAX, |v| v.len()),
            };
            spend(left, size)?;
            Some(rendered)
        }
        other => {
            spend(left, other.to_string().len())?;
            Some(other.clone())
        }
    }
}

/// Renders a template. Templates are checked when the workflow is registered, so a
/// malformed reference here renders as it is written rather than failing the step.
pub fn render(template: &Value, scope: &dyn Scope) -> Value {
    match template {
        Value::String(text) => render_text(text, scope),
        Value::Array(items) => Value::Array(items.iter().map(|i| render(i, scope)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), render(v, scope)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn render_text(text: &str, scope: &dyn Scope) -> Value {
    render_text_within(text, scope, usize::MAX).unwrap_or(Value::Null)
}

/// `render_text`, giving up (None) once the text being built passes `limit` bytes.
fn render_text_within(text: &str, scope: &dyn Scope, limit: usize) -> Option<Value> {
    if !text.contains(OPEN) {
        return Some(Value::String(text.to_string()));
    }
    let trimmed = text.trim();
    if let Some(inner) = trimmed
        .strip_prefix(OPEN)
        .and_then(|t| t.strip_suffix(CLOSE))
        .filter(|inner| !inner.contains(OPEN))
    {
        return Some(
            resolve(inner.trim(), scope).unwrap_or_else(|| Value::String(text.to_string())),
        );
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else {
            out.push_str(&rest[start..]);
            return Some(Value::String(out));
        };
        match resolve(after[..end].trim(), scope) {
            Some(Value::String(s)) => out.push_str(&s),
            Some(Value::Null) => {}
            Some(other) => out.push_str(&other.to_string()),
            None => out.push_str(&rest[start..start + OPEN.len() + end + CLOSE.len()]),
        }
        rest = &after[end + CLOSE.len()..];
        if out.len() > limit {
            return None;
        }
    }
    out.push_str(rest);
    Some(Value::String(out))
}

/// None only for a malformed reference; a missing value is `Some(Null)`.
fn resolve(expression: &str, scope: &dyn Scope) -> Option<Value> {
    let reference = parse_reference(expression).ok()?;
    let value = scope.root(&reference.root).unwrap_or(Value::Null);
    Some(
        follow(&value, &reference.path)
            .cloned()
            .unwrap_or(Value::Null),
    )
}

pub fn follow<'v>(value: &'v Value, path: &[Segment]) -> Option<&'v Value> {
    path.iter()
        .try_fold(value, |current, segment| match segment {
            Segment::Field(name) => current.get(name),
            Segment::Index(i) => current.get(*i),
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rendering_stops_at_its_byte_limit_however_the_copies_are_written() {
        let topic = |n: usize| json!(vec!["{{ input.topic }}"; n]);
        assert!(render_within(&topic(10), &Fixed, 1000).is_ok());
        assert_eq!(
            render_within(&topic(1000), &Fixed, 1000),
            Err(TooLarge { limit: 1000 })
        );
        let one_string = json!("{{ input.topic }}".repeat(1000));
        assert!(render_within(&one_string, &Fixed, 1000).is_err());
        let whole = json!({"a": "{{ input }}", "b": "{{ input }}"});
        assert_eq!(
            render_within(&whole, &Fixed, 10_000).unwrap(),
            render(&whole, &Fixed)
        );
    }

    struct Fixed;
    impl Scope for Fixed {
        fn root(&self, root: &Root) -> Option<Value> {
            match root {
                Root::Input => Some(json!({"topic": "tides", "n": 3, "tags": ["a", "b"]})),
                Root::Step {
                    id,
                    part: StepPart::Output,
                } if id == "research" => Some(json!({"facts": [{"text": "moon"}]})),
                Root::Item => Some(json!("x")),
                _ => None,
            }
        }
    }

    #[test]
    fn a_whole_string_reference_keeps_its_json_type() {
        let out = render(
            &json!({"n": "{{ input.n }}", "tags": "{{input.tags}}"}),
            &Fixed,
        );
        assert_eq!(out, json!({"n": 3, "tags": ["a", "b"]}));
    }

    #[test]
    fn references_inside_text_are_interpolated() {
        let out = render(
            &json!(
                "On {{ input.topic }}: {{ steps.research.output.facts[0].text }} ({{ input.n }})"
            ),
            &Fixed,
        );
        assert_eq!(out, json!("On tides: moon (3)"));
    }

    #[test]
    fn missing_values_render_as_null() {
        assert_eq!(
            render(&json!("{{ input.nope.deeper }}"), &Fixed),
            Value::Null
        );
    }

    #[test]
    fn references_are_listed_with_their_location() {
        let found =
            references(&json!({"a": ["{{ steps.research.output }}", "{{ item }}"]})).unwrap();
        assert_eq!(found[0].0, ".a[0]");
        assert_eq!(found[0].1.step(), Some("research"));
        assert_eq!(found[1].1.root, Root::Item);
    }

    #[test]
    fn malformed_references_say_what_to_write() {
        let (location, message) = references(&json!({"x": "{{ output.a }}"})).unwrap_err();
        assert_eq!(location, ".x");
        assert!(message.contains("start with input"), "{message}");
        let (_, message) = references(&json!("{{ steps.a.result }}")).unwrap_err();
        assert!(message.contains(".output, .error or .status"), "{message}");
        let (_, message) = references(&json!("{{ input.a ")).unwrap_err();
        assert!(message.contains("without a closing"), "{message}");
    }
}
