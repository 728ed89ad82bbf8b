//! What agents exchange can be large (a step's input and output are each up to 256 KiB, a
//! map step gathers every item's output, a run's output gathers its last steps'), while
//! one stored item holds at most 400 KB. So a value stays on its record only while it is
//! small; a larger one is kept apart, cut into chunks of its own (`V#<record>#<part>#n`),
//! and the record keeps only how many. No record outgrows the item limit whatever the
//! values, and a small step costs no extra write.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Runs;
use crate::error::{Error, Result};
use crate::ports::{Change, Condition, Item, Key};
use crate::tasks::model::json_size;

/// Values up to this size stay on their record: together (an input, an output, the
/// attempts and the step's events) they stay far from the item limit.
pub(crate) const INLINE_VALUE_BYTES: usize = 32 * 1024;

/// The most JSON text one chunk item holds, well inside the 400 KB item limit.
const CHUNK_BYTES: usize = 320 * 1000;

/// A record's value that is kept apart: on the record in place of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Apart {
    pub chunks: u32,
}

/// Which of a record's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Input,
    Output,
}

impl Part {
    /// The record's attribute that holds the value when it is small.
    pub fn attribute(self) -> &'static str {
        match self {
            Part::Input => "input",
            Part::Output => "output",
        }
    }

    /// The record's attribute that says the value is kept apart.
    pub fn apart_attribute(self) -> &'static str {
        match self {
            Part::Input => "input_apart",
            Part::Output => "output_apart",
        }
    }
}

fn chunk_key(record: &Key, part: Part, n: u32) -> Key {
    Key::new(
        record.pk.clone(),
        format!("V#{}#{}#{n:04}", record.sk, part.attribute()),
    )
}

/// `text` in pieces of at most `max` bytes, each cut on a character boundary.
fn pieces(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    pieces.push(rest);
    pieces
}

impl Runs {
    /// The attributes that put `value` on the record at `record`: the value itself when
    /// small; otherwise its chunks are written first and the attributes say how many.
    /// Writing the same value again (a redelivered step) writes the same chunks.
    pub(crate) async fn place_value(
        &self,
        record: &Key,
        part: Part,
        value: &Value,
    ) -> Result<Vec<Change>> {
        if json_size(value) <= INLINE_VALUE_BYTES {
            return Ok(vec![
                Change::Set(part.attribute().into(), value.clone()),
                Change::Set(part.apart_attribute().into(), Value::Null),
            ]);
        }
        let text = value.to_string();
        let pieces = pieces(&text, CHUNK_BYTES);
        for (n, piece) in (0u32..).zip(&pieces) {
            let mut body = Map::new();
            body.insert("chunk".into(), Value::String((*piece).to_string()));
            let item = Item::new(chunk_key(record, part, n), body);
            self.ctx.store.put(item, Condition::Always).await?;
        }
        let apart = Apart {
            chunks: pieces.len() as u32,
        };
        Ok(vec![
            Change::Set(part.attribute().into(), Value::Null),
            Change::Set(part.apart_attribute().into(), json!(apart)),
        ])
    }

    /// A value that `place_value` kept apart, put together again.
    pub(crate) async fn load_value(&self, record: &Key, part: Part, apart: Apart) -> Result<Value> {
        let mut text = String::new();
        for n in 0..apart.chunks {
            let key = chunk_key(record, part, n);
            let item = self.ctx.store.get(&key).await?.ok_or_else(|| {
                Error::Internal(format!("a chunk of {}/{} is missing", key.pk, key.sk))
            })?;
            match item.body.get("chunk") {
                Some(Value::String(piece)) => text.push_str(piece),
                _ => {
                    return Err(Error::Internal(format!(
                        "{}/{} holds no chunk",
                        key.pk, key.sk
                    )));
                }
            }
        }
        serde_json::from_str(&text).map_err(|e| {
            Error::Internal(format!(
                "the value kept apart from {}/{} is unreadable: {e}",
                record.pk, record.sk
            ))
        })
    }

    /// `value` as stored: the value itself, or put together from its chunks.
    pub(crate) async fn stored_value(
        &self,
        record: &Key,
        part: Part,
        value: Option<Value>,
        apart: Option<Apart>,
    ) -> Result<Option<Value>> {
        match apart {
            Some(apart) => self.load_value(record, part, apart).await.map(Some),
            None => Ok(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cut_on_character_boundaries_and_join_to_the_text() {
        let text = "é".repeat(10) + "abc";
        let cut = pieces(&text, 3);
        assert!(cut.iter().all(|p| p.len() <= 3 && !p.is_empty()));
        assert_eq!(cut.concat(), text);
        assert_eq!(pieces("", 3), vec![""]);
        assert_eq!(pieces("abcdef", 3), vec!["abc", "def"]);
    }
}
