//! What can be wrong with a definition: every problem, each with where it is.

use serde::Serialize;

/// One problem in a definition. `location` names the state and field, as a path through
/// the definition: `States.Fetch.Retry[0].BackoffRate`, `States.Fan.Branches[1].States.A.Next`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub location: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.location.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.location, self.message)
        }
    }
}

/// A definition that cannot run, with every problem found (not just the first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
pub struct InvalidDefinition {
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for InvalidDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.problems.len();
        write!(
            f,
            "invalid state machine ({count} problem{})",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// Collects problems while walking a definition; `at` scopes a location prefix.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    pub(crate) list: Vec<Problem>,
    /// Every state name seen so far, with where: names are unique across the whole machine.
    pub(crate) state_names: std::collections::HashMap<String, String>,
}

impl Problems {
    pub(crate) fn add(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.list.push(Problem {
            location: location.into(),
            message: message.into(),
        });
    }

    pub(crate) fn into_result<T>(self, value: T) -> Result<T, InvalidDefinition> {
        if self.list.is_empty() {
            Ok(value)
        } else {
            Err(InvalidDefinition {
                problems: self.list,
            })
        }
    }
}

/// `base.field`, or just `field` at the root.
pub(crate) fn join(base: &str, field: &str) -> String {
    if base.is_empty() {
        field.to_owned()
    } else {
        format!("{base}.{field}")
    }
}
