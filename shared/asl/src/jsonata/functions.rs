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
