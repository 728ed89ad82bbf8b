//! The payloads a history records: state inputs and outputs, task parameters and results.
//!
//! A state that only puts its result into its input (a `ResultPath`), or hands its input on
//! unchanged, is recorded as that change to the payload before it, and built in full only
//! when someone reads it. A chain of such states then records in O(result) per state instead
//! of copying its whole, growing payload every time, and its history holds the changes, not
//! a copy per event. Chains are cut every [`MAX_CHAIN`] changes by a full copy, which bounds
//! what a read replays (and keeps dropping a chain from recursing deeply).

use std::sync::{Arc, OnceLock};

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::path::ReferencePath;

/// A full copy of a small payload costs about as much as replaying a hundred small changes,
/// and one of a large payload far more; reads replay from the nearest payload already built,
/// so reading a history in order replays one change per event whatever the bound.
const MAX_CHAIN: u32 = 128;

/// A recorded payload; [`Payload::value`] gives it as it was at that moment.
#[derive(Clone)]
pub struct Payload(Arc<Recorded>);

struct Recorded {
    full: OnceLock<Arc<Value>>,
    change: Option<Change>,
    /// How many changes lead back to a full copy.
    depth: u32,
}

struct Change {
    base: Payload,
    path: Arc<ReferencePath>,
    value: Value,
}

impl Payload {
    /// A full copy of `value`.
    pub(crate) fn copy_of(value: &Value) -> Payload {
        Payload(Arc::new(Recorded {
            full: OnceLock::from(Arc::new(value.clone())),
            change: None,
            depth: 0,
        }))
    }

    /// `value` as it is, shared rather than copied.
    pub(crate) fn shared(value: Arc<Value>) -> Payload {
        Payload(Arc::new(Recorded {
            full: OnceLock::from(value),
            change: None,
            depth: 0,
        }))
    }

    /// `base` with `value` put at `path`; `None` when the chain is long enough that a full
    /// copy is due.
    pub(crate) fn changed(
        base: Payload,
        path: Arc<ReferencePath>,
        value: Value,
    ) -> Option<Payload> {
        let depth = base.0.depth + 1;
        (depth <= MAX_CHAIN).then(|| {
            Payload(Arc::new(Recorded {
                full: OnceLock::new(),
                change: Some(Change { base, path, value }),
                depth,
            }))
        })
    }

    /// The payload as it was recorded (built, then kept, on the first read).
    pub fn value(&self) -> Arc<Value> {
        self.0.full.get_or_init(|| self.build()).clone()
    }

    fn build(&self) -> Arc<Value> {
        // Back to the nearest payload held in full, then the changes forward from it.
        let mut changes = Vec::new();
        let mut at = self;
        let base = loop {
            if let Some(full) = at.0.full.get() {
                break full.clone();
            }
            let change =
                at.0.change
                    .as_ref()
                    .expect("a payload is held in full or changed");
            changes.push(change);
            at = &change.base;
        };
        let mut value = Value::clone(&base);
        for change in changes.into_iter().rev() {
            // The same change succeeded on the same input when the state ran.
            let _ = change.path.set(&mut value, change.value.clone());
        }
        Arc::new(value)
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value().fmt(f)
    }
}

/// The JSON text, as Step Functions' history gives it.
impl std::fmt::Display for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value().fmt(f)
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.value() == other.value()
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_chain_of_changes_reads_as_the_values_it_recorded() {
        let first = Payload::copy_of(&json!({"order": 1}));
        let path = |text: &str| Arc::new(ReferencePath::parse(text).unwrap());
        let mut chain = vec![first.clone()];
        let mut expected = vec![json!({"order": 1})];
        let mut current = json!({"order": 1});
        for i in 0..(MAX_CHAIN as usize * 2 + 5) {
            let at = path(&format!("$.r{i}"));
            at.set(&mut current, json!(i)).unwrap();
            let last = chain.last().unwrap();
            let next = Payload::changed(last.clone(), at.clone(), json!(i))
                .unwrap_or_else(|| Payload::copy_of(&current));
            chain.push(next);
            expected.push(current.clone());
        }
        // Read out of order: each still reads as it was.
        for index in [40, 3, 69, 0, 68, 33] {
            assert_eq!(*chain[index].value(), expected[index], "payload {index}");
        }
        assert!(chain.iter().all(|p| p.0.depth <= MAX_CHAIN));
    }
}
