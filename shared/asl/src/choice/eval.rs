//! Evaluating compiled choice rules against a state's input.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::{Family, Glob, Kind, Operand, Relation, Rule, Test};
use crate::path::Scope;

/// An RFC 3339 timestamp as Step Functions accepts it: uppercase `T`, and `Z` or an offset.
pub fn timestamp(text: &str) -> Option<DateTime<FixedOffset>> {
    if text.len() < 20 || text.as_bytes()[10] != b'T' || text.ends_with('z') {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok()
}

impl Rule {
    /// Whether the rule matches. A missing Variable (other than under IsPresent) is an error,
    /// as on Step Functions.
    pub fn matches(&self, scope: &dyn Scope) -> Result<bool, String> {
        match self {
            Rule::And(rules) => {
                for rule in rules {
                    if !rule.matches(scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for rule in rules {
                    if rule.matches(scope)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.matches(scope)?),
            Rule::Test { variable, test } => {
                let value = variable.eval(scope);
                if let Test::Is {
                    kind: Kind::Present,
                    expected,
                } = test
                {
                    return Ok(value.is_ok() == *expected);
                }
                let value = value.map_err(|e| e.message)?;
                test.holds(&value, scope)
            }
        }
    }
}

impl Test {
    fn holds(&self, value: &Value, scope: &dyn Scope) -> Result<bool, String> {
        match self {
            Test::Is { kind, expected } => {
                let actual = match kind {
                    Kind::Null => value.is_null(),
                    Kind::Present => true,
                    Kind::Numeric => value.is_number(),
                    Kind::String => value.is_string(),
                    Kind::Boolean => value.is_boolean(),
                    Kind::Timestamp => value.as_str().and_then(timestamp).is_some(),
                };
                Ok(actual == *expected)
            }
            Test::Matches(parts) => {
                Ok(value.as_str().is_some_and(|text| glob_matches(parts, text)))
            }
            Test::Compare {
                family,
                relation,
                operand,
            } => {
                let operand_value = match operand {
                    Operand::Value(v) => std::borrow::Cow::Borrowed(v),
                    Operand::Path(path) => path.eval(scope).map_err(|e| e.message)?,
                };
                Ok(compare(*family, value, &operand_value)
                    .is_some_and(|ordering| relation.accepts(ordering)))
            }
        }
    }
}

impl Relation {
    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Relation::Equals => ordering == Ordering::Equal,
            Relation::LessThan => ordering == Ordering::Less,
            Relation::GreaterThan => ordering == Ordering::Greater,
            Relation::LessThanEquals => ordering != Ordering::Greater,
            Relation::GreaterThanEquals => ordering != Ordering::Less,
        }
    }
}

/// `None` when either side is not of the family's type: the rule simply does not match.
fn compare(family: Family, left: &Value, right: &Value) -> Option<Ordering> {
    match family {
        Family::String => Some(left.as_str()?.cmp(right.as_str()?)),
        Family::Numeric => left.as_f64()?.partial_cmp(&right.as_f64()?),
        Family::Boolean => Some(left.as_bool()?.cmp(&right.as_bool()?)),
        Family::Timestamp => Some(timestamp(left.as_str()?)?.cmp(&timestamp(right.as_str()?)?)),
    }
}

pub(super) fn glob_matches(parts: &[Glob], text: &str) -> bool {
    match parts.split_first() {
        None => text.is_empty(),
        Some((Glob::Literal(lit), rest)) => text
            .strip_prefix(lit.as_str())
            .is_some_and(|t| glob_matches(rest, t)),
        Some((Glob::Star, rest)) => {
            if rest.is_empty() {
                return true;
            }
            text.char_indices()
                .map(|(i, _)| i)
                .chain([text.len()])
                .any(|i| glob_matches(rest, &text[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::choice::glob;

    #[test]
    fn globs_honour_escapes() {
        let parts = glob(r"log-\*-*.txt").unwrap();
        assert!(glob_matches(&parts, "log-*-2026.txt"));
        assert!(!glob_matches(&parts, "log-a-2026.txt"));
        assert!(glob_matches(&glob("*").unwrap(), ""));
        assert!(glob_matches(&glob(r"a\\b").unwrap(), r"a\b"));
    }

    #[test]
    fn timestamps_need_uppercase_t_and_z() {
        assert!(timestamp("2026-01-31T12:00:00Z").is_some());
        assert!(timestamp("2026-01-31T12:00:00.5+02:00").is_some());
        assert!(timestamp("2026-01-31t12:00:00Z").is_none());
        assert!(timestamp("2026-01-31T12:00:00z").is_none());
        assert!(timestamp("yesterday").is_none());
    }
}
