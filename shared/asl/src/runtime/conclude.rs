//! How a JSONata state ends: its `Assign` and `Output`, evaluated together over `$states`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Failure;
use super::data_flow::{context, fill_scope};
use super::engine::Frame;
use super::execution::Shared;
use super::payload;
use super::scope::RunScope;
use crate::machine::State;
use crate::template::Template;

/// What a JSONata state's `Assign` and `Output` see as `$states`.
pub(crate) struct Seen {
    pub(crate) input: Value,
    pub(crate) result: Option<Value>,
    pub(crate) error_output: Option<Value>,
}

impl Seen {
    pub(crate) fn input(input: Value) -> Seen {
        Seen {
            input,
            result: None,
            error_output: None,
        }
    }
}

/// How a JSONata state ends: `Assign` and `Output` are evaluated together, against the
/// variables as they were (an assignment is not visible in the same state's Output). Without
/// `Output`, the output is the error output in a Catch, the result of a Task, Parallel or Map,
/// and otherwise the input.
pub(crate) fn conclude_jsonata(
    shared: &Shared,
    state: &State,
    seen: Seen,
    assign: Option<&Template>,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    conclude_jsonata_with(
        shared,
        state,
        seen,
        assign,
        state.output.as_ref(),
        entered,
        frame,
    )
}

/// [`conclude_jsonata`] with an `Output` other than the state's (a Choice rule's, a Catch's).
pub(crate) fn conclude_jsonata_with(
    shared: &Shared,
    state: &State,
    seen: Seen,
    assign: Option<&Template>,
    output: Option<&Template>,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    let (assigned, shaped) = {
        let ctx = context(shared, state, entered, 0);
        let mut scope =
            RunScope::new(&seen.input, &ctx, &frame.variables).with_result(seen.result.as_ref());
        if let Some(error_output) = &seen.error_output {
            scope = scope.with_error_output(error_output);
        }
        let assigned = assign.map(|t| fill_scope(t, &scope)).transpose()?;
        let shaped = output.map(|t| fill_scope(t, &scope)).transpose()?;
        (assigned, shaped)
    };
    let output = shaped
        .or(seen.error_output)
        .or(seen.result)
        .unwrap_or(seen.input);
    payload::check_size(
        shared,
        &output,
        format_args!("The output of state '{}'", state.name),
    )?;
    if let Some(Value::Object(values)) = assigned {
        frame.variables.assign(values);
    }
    Ok(output)
}
