//! Choice rules: compiled once from the definition, evaluated against a state's input.

use serde_json::{Map, Value};

use crate::path::Path;

mod eval;

pub use eval::timestamp;

#[derive(Debug, Clone)]
pub enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test { variable: Path, test: Test },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone)]
pub enum Test {
    Compare {
        family: Family,
        relation: Relation,
        operand: Operand,
    },
    Matches(Vec<Glob>),
    Is {
        kind: Kind,
        expected: bool,
    },
}

#[derive(Debug, Clone)]
pub enum Operand {
    Value(Value),
    Path(Path),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Glob {
    Literal(String),
    Star,
}

const RELATIONS: [(&str, Relation); 5] = [
    ("Equals", Relation::Equals),
    ("LessThanEquals", Relation::LessThanEquals),
    ("GreaterThanEquals", Relation::GreaterThanEquals),
    ("LessThan", Relation::LessThan),
    ("GreaterThan", Relation::GreaterThan),
];
const FAMILIES: [(&str, Family); 4] = [
    ("String", Family::String),
    ("Numeric", Family::Numeric),
    ("Boolean", Family::Boolean),
    ("Timestamp", Family::Timestamp),
];
const KINDS: [(&str, Kind); 6] = [
    ("IsNull", Kind::Null),
    ("IsPresent", Kind::Present),
    ("IsNumeric", Kind::Numeric),
    ("IsString", Kind::String),
    ("IsBoolean", Kind::Boolean),
    ("IsTimestamp", Kind::Timestamp),
];

/// Compiles one rule. `top_level` rules carry `Next` (and may carry `Assign`); nested ones don't.
pub fn compile(rule: &Value, top_level: bool) -> Result<Rule, String> {
    let Value::Object(map) = rule else {
        return Err("a choice rule must be an object".into());
    };
    let allowed_extra: &[&str] = if top_level {
        &["Next", "Comment", "Assign"]
    } else {
        &["Comment"]
    };
    if !top_level && map.contains_key("Next") {
        return Err(
            "'Next' is only allowed on a top-level choice rule, not inside And/Or/Not".into(),
        );
    }
    if map.contains_key("Condition") {
        return Err("'Condition' is a JSONata choice rule; skein-asl runs JSONPath definitions only (use Variable and a comparison operator)".into());
    }
    let operators: Vec<&String> = map
        .keys()
        .filter(|k| k.as_str() != "Variable" && !allowed_extra.contains(&k.as_str()))
        .collect();
    match operators.as_slice() {
        [] => Err("the rule has no comparison operator (e.g. StringEquals, NumericGreaterThan, IsPresent) and no And/Or/Not".into()),
        [op] => compile_operator(op, &map[op.as_str()], map),
        many => Err(format!("a rule has exactly one operator; this one has {}", join_names(many))),
    }
}

fn join_names(names: &[&String]) -> String {
    names
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn compile_operator(op: &str, operand: &Value, map: &Map<String, Value>) -> Result<Rule, String> {
    match op {
        "And" | "Or" => {
            let rules = operand
                .as_array()
                .filter(|r| !r.is_empty())
                .ok_or_else(|| format!("'{op}' takes a non-empty array of rules"))?;
            if map.contains_key("Variable") {
                return Err(format!(
                    "'{op}' rules do not take a Variable; put it in each nested rule"
                ));
            }
            let compiled = rules
                .iter()
                .map(|r| compile(r, false))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if op == "And" {
                Rule::And(compiled)
            } else {
                Rule::Or(compiled)
            })
        }
        "Not" => {
            if map.contains_key("Variable") {
                return Err("'Not' rules do not take a Variable; put it in the nested rule".into());
            }
            Ok(Rule::Not(Box::new(compile(operand, false)?)))
        }
        _ => {
            let variable = match map.get("Variable") {
                Some(Value::String(text)) => {
                    Path::parse(text).map_err(|e| format!("Variable: {e}"))?
                }
                Some(_) => return Err("'Variable' must be a path string".into()),
                None => return Err(format!("'{op}' needs a 'Variable' path to compare")),
            };
            Ok(Rule::Test {
                variable,
                test: compile_test(op, operand)?,
            })
        }
    }
}

fn compile_test(op: &str, operand: &Value) -> Result<Test, String> {
    if let Some((_, kind)) = KINDS.iter().find(|(name, _)| *name == op) {
        let expected = operand
            .as_bool()
            .ok_or_else(|| format!("'{op}' takes true or false"))?;
        return Ok(Test::Is {
            kind: *kind,
            expected,
        });
    }
    if op == "StringMatches" {
        let pattern = operand
            .as_str()
            .ok_or("'StringMatches' takes a string pattern")?;
        return Ok(Test::Matches(glob(pattern)?));
    }
    let unknown = || format!("'{op}' is not a choice operator");
    let (family_name, family) = FAMILIES
        .iter()
        .find(|(name, _)| op.starts_with(name))
        .ok_or_else(unknown)?;
    let rest = &op[family_name.len()..];
    let (relation_name, is_path) = match rest.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let relation = RELATIONS
        .iter()
        .find(|(name, _)| *name == relation_name)
        .map(|(_, r)| *r)
        .ok_or_else(unknown)?;
    if *family == Family::Boolean && relation != Relation::Equals {
        return Err(unknown());
    }
    let operand = if is_path {
        let text = operand
            .as_str()
            .ok_or_else(|| format!("'{op}' takes a path string"))?;
        Operand::Path(Path::parse(text)?)
    } else {
        let ok = match family {
            Family::String => operand.is_string(),
            Family::Numeric => operand.is_number(),
            Family::Boolean => operand.is_boolean(),
            Family::Timestamp => operand.as_str().and_then(timestamp).is_some(),
        };
        if !ok {
            let expected = match family {
                Family::String => "a string",
                Family::Numeric => "a number",
                Family::Boolean => "true or false",
                Family::Timestamp => "an RFC 3339 timestamp such as 2026-01-31T12:00:00Z",
            };
            return Err(format!("'{op}' takes {expected}, not {operand}"));
        }
        Operand::Value(operand.clone())
    };
    Ok(Test::Compare {
        family: *family,
        relation,
        operand,
    })
}

/// `*` matches any run of characters; `\*` is a literal star and `\\` a literal backslash.
fn glob(pattern: &str) -> Result<Vec<Glob>, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('*' | '\\')) => literal.push(escaped),
                _ => {
                    return Err(format!(
                        "StringMatches pattern '{pattern}': escape only \\* and \\\\"
                    ));
                }
            },
            '*' => {
                if !literal.is_empty() {
                    parts.push(Glob::Literal(std::mem::take(&mut literal)));
                }
                if parts.last() != Some(&Glob::Star) {
                    parts.push(Glob::Star);
                }
            }
            other => literal.push(other),
        }
    }
    if !literal.is_empty() {
        parts.push(Glob::Literal(literal));
    }
    Ok(parts)
}
