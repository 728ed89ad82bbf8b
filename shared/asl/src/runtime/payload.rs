//! Payload helpers: the size limit, and numbers read by `...Path` fields.

use serde_json::Value;

use crate::json_size::serialized_len;
pub(crate) use crate::json_size::size_bound;

use super::Failure;
use super::execution::Shared;
use super::scope::{RunScope, StateContext, Variables};
use crate::errors;
use crate::machine::Number;

/// `States.DataLimitExceeded` when `value` is larger than the configured limit. `what` names
/// it in the cause ("The output of state 'X'"), and is only formatted then. Returns an upper
/// bound of the size, which the next state may build on (see [`grown_bound`]).
pub(crate) fn check_size(
    shared: &Shared,
    value: &Value,
    what: impl std::fmt::Display,
) -> Result<usize, Failure> {
    let limit = shared.config.max_payload_bytes;
    let bound = size_bound(value, limit);
    if bound <= limit {
        return Ok(bound);
    }
    let size = serialized_len(value);
    if size > limit {
        return Err(Failure::new(
            errors::DATA_LIMIT_EXCEEDED,
            format!("{what} is {size} bytes, over the {limit}-byte payload limit"),
        ));
    }
    Ok(size)
}

/// An upper bound of the size of an input whose bound is known once a result of at most
/// `result_bound` bytes is put into it at a path written `path_text` (each level adds at most
/// its key, quotes, colon, comma and braces). A chain of states that each add a little to
/// their input is then checked without walking the whole input again at every state.
pub(crate) fn grown_bound(input_bound: usize, result_bound: usize, path_text: &str) -> usize {
    input_bound
        .saturating_add(result_bound)
        .saturating_add(8 * path_text.len() + 16)
}

/// A non-negative number, given directly or read from the input by `field`.
pub(crate) fn number(
    number: &Number,
    input: &Value,
    ctx: &StateContext,
    variables: &Variables,
    field: &str,
) -> Result<f64, Failure> {
    match number {
        Number::Fixed(n) => Ok(*n),
        Number::Path(path) => {
            let scope = RunScope::new(input, ctx, variables);
            let value = path.eval(&scope).map_err(|e| Failure::runtime(e.message))?;
            match value.as_f64() {
                Some(n) if n >= 0.0 && n.is_finite() => Ok(n),
                _ => Err(Failure::runtime(format!(
                    "{field} '{}' must point to a non-negative number, found {}",
                    path.text(),
                    value
                ))),
            }
        }
        Number::Query(template) => {
            let value = super::data_flow::fill(template, input, ctx, variables)?;
            match value.as_f64() {
                Some(n) if n >= 0.0 && n.is_finite() => Ok(n),
                _ => Err(Failure::new(
                    errors::QUERY_EVALUATION_ERROR,
                    format!(
                        "{} must give a non-negative number, not {value}",
                        field.trim_end_matches("Path")
                    ),
                )),
            }
        }
    }
}
