//! The functions Step Functions adds to JSONata, and the one it takes away. The added ones
//! follow the intrinsic each replaces (`States.ArrayPartition`, `States.ArrayRange`,
//! `States.Hash`, `States.MathRandom`, `States.UUID`, `States.StringToJson`), limits
//! included, so both query languages agree.

use jsonata_core::evaluator::{Evaluator, EvaluatorError, HostFnResult};
use jsonata_core::value::JValue;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::values::{to_json, to_jvalue};
use crate::intrinsics::{EvalError, Function, apply};

type HostFunction = fn(&[JValue]) -> HostFnResult;

pub(super) fn register(evaluator: &mut Evaluator) {
    let added: [(&str, HostFunction); 5] = [
        ("partition", partition),
        ("range", range),
        ("hash", hash),
        ("uuid", uuid),
        ("parse", parse),
    ];
    for (name, function) in added {
        evaluator
            .register_fn(name, function)
            .expect("Step Functions' JSONata functions do not shadow built-ins");
    }
    evaluator
        .register_fn_override("random", random)
        .expect("$random may be overridden");
    evaluator
        .register_fn_override("eval", eval_refused)
        .expect("$eval may be overridden");
    evaluator
        .register_fn_override("pad", pad)
        .expect("$pad may be overridden");
}

/// The longest string `$pad` builds: a state's whole payload may be 256 KiB, so a longer
/// string could never leave the state, and `$pad('', 1e9)` would otherwise take a gigabyte
/// in one call, between two of the evaluator's budget checks.
const MAX_PADDED_CHARS: f64 = 262_144.0;

/// JSONata's `$pad(str, width[, char])`, as jsonata-js 2.0.6 writes it, with a bound on
/// `width`.
fn pad(args: &[JValue]) -> HostFnResult {
    if args.first().is_some_and(JValue::is_undefined) {
        return Ok(JValue::Undefined);
    }
    let args = arguments("pad", args, 2, 3)?;
    let Some(text) = args[0].as_str() else {
        return Err(refuse(
            "T0410: Argument 1 of function \"pad\" does not match function signature",
        ));
    };
    let width = args[1].as_f64().ok_or_else(|| {
        refuse("T0410: Argument 2 of function \"pad\" does not match function signature")
    })?;
    if width.abs() > MAX_PADDED_CHARS {
        return Err(refuse(format!(
            "$pad: a width of {width} would build a string longer than {MAX_PADDED_CHARS} characters, more than a state's payload may hold"
        )));
    }
    let fill = match args.get(2) {
        Some(Value::String(fill)) if !fill.is_empty() => fill.as_str(),
        Some(Value::String(_)) | None => " ",
        Some(_) => {
            return Err(refuse(
                "T0410: Argument 3 of function \"pad\" does not match function signature",
            ));
        }
    };
    let length = text.chars().count();
    let missing = (width.abs().trunc() as usize).saturating_sub(length);
    if missing == 0 {
        return Ok(JValue::string(text));
    }
    let padding: String = fill.chars().cycle().take(missing).collect();
    let padded = if width > 0.0 {
        format!("{text}{padding}")
    } else {
        format!("{padding}{text}")
    };
    Ok(JValue::string(padded))
}

fn refuse(message: impl Into<String>) -> EvaluatorError {
    EvaluatorError::EvaluationError(message.into())
}

fn arguments(
    name: &str,
    args: &[JValue],
    min: usize,
    max: usize,
) -> Result<Vec<Value>, EvaluatorError> {
    if args.len() < min || args.len() > max {
        let wanted = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(refuse(format!(
            "${name} takes {wanted} arguments, not {}",
            args.len()
        )));
    }
    args.iter()
        .map(|arg| to_json(arg).ok_or_else(|| refuse(format!("${name}: an argument is undefined"))))
        .collect()
}

/// Runs the intrinsic that the function stands for, naming the JSONata function in errors.
fn intrinsic(name: &str, function: Function, args: Vec<Value>) -> HostFnResult {
    match apply(function, args) {
        Ok(value) => Ok(to_jvalue(&value)),
        Err(EvalError::Failure(message)) => {
            let detail = message
                .strip_prefix(function.name())
                .and_then(|rest| rest.strip_prefix(": "))
                .unwrap_or(&message);
            Err(refuse(format!("${name}: {detail}")))
        }
        Err(EvalError::Path(path)) => Err(refuse(format!("${name}: {}", path.message))),
    }
}

/// `$partition(array, size)`: the array in chunks of `size`.
fn partition(args: &[JValue]) -> HostFnResult {
    let args = arguments("partition", args, 2, 2)?;
    intrinsic("partition", Function::ArrayPartition, args)
}

/// `$range(start, end, step)`: integers from start to end inclusive.
fn range(args: &[JValue]) -> HostFnResult {
    let args = arguments("range", args, 3, 3)?;
    intrinsic("range", Function::ArrayRange, args)
}

/// `$hash(data, algorithm)`: the hex digest (MD5, SHA-1, SHA-256, SHA-384 or SHA-512).
fn hash(args: &[JValue]) -> HostFnResult {
    let args = arguments("hash", args, 2, 2)?;
    intrinsic("hash", Function::Hash, args)
}

/// `$uuid()`: a version 4 UUID.
fn uuid(args: &[JValue]) -> HostFnResult {
    let args = arguments("uuid", args, 0, 0)?;
    intrinsic("uuid", Function::Uuid, args)
}

/// `$parse(text)`: the JSON value a string holds (what `$eval` was used for).
fn parse(args: &[JValue]) -> HostFnResult {
    let args = arguments("parse", args, 1, 1)?;
    intrinsic("parse", Function::StringToJson, args)
}

/// `$random([seed])`: a number in [0, 1); with a seed, always the same one for that seed.
fn random(args: &[JValue]) -> HostFnResult {
    let args = arguments("random", args, 0, 1)?;
    let value: f64 = match args.first() {
        None => rand::rng().random(),
        Some(seed) => {
            let seed = seed
                .as_i64()
                .or_else(|| seed.as_f64().map(|f| f as i64))
                .ok_or_else(|| refuse("$random: the seed must be an integer"))?;
            rand::rngs::StdRng::seed_from_u64(seed as u64).random()
        }
    };
    Ok(JValue::Number(value))
}

fn eval_refused(_args: &[JValue]) -> HostFnResult {
    Err(refuse(
        "$eval is not available in Step Functions; use $parse to read JSON from a string",
    ))
}
