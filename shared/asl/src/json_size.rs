//! How large a JSON value is once serialized: exactly, or a cheap upper bound. The runtime
//! checks payloads against Step Functions' size limit with these; compilation works out
//! the bound of a fixed Pass `Result` once.

use serde_json::Value;

/// Counts serialized bytes without building the string.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(crate) fn serialized_len(value: &Value) -> usize {
    let mut counter = ByteCounter(0);
    serde_json::to_writer(&mut counter, value).expect("counting never fails");
    counter.0
}

/// A cheap upper bound of the serialized size (every character escaped as `\uXXXX`, every
/// number at its longest), stopping once it passes `limit`.
pub(crate) fn size_bound(value: &Value, limit: usize) -> usize {
    fn walk(value: &Value, total: &mut usize, limit: usize) {
        if *total > limit {
            return;
        }
        match value {
            Value::Null | Value::Bool(_) => *total += 5,
            Value::Number(_) => *total += 24,
            Value::String(s) => *total += 2 + 6 * s.len(),
            Value::Array(items) => {
                *total += 2 + items.len();
                items.iter().for_each(|item| walk(item, total, limit));
            }
            Value::Object(map) => {
                *total += 2 + 2 * map.len();
                for (key, item) in map {
                    *total += 2 + 6 * key.len();
                    walk(item, total, limit);
                }
            }
        }
    }
    let mut total = 0;
    walk(value, &mut total, limit);
    total
}
