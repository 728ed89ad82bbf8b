use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use super::{Arg, Function, Intrinsic};
use crate::path::{PathError, Scope, type_name};

/// AWS limits the string arguments of the encoding and hashing functions.
const MAX_STRING_ARG: usize = 10_000;
const MAX_RANGE_ITEMS: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// A path argument found nothing.
    Path(PathError),
    /// The function refused its arguments (`States.IntrinsicFailure`).
    Failure(String),
}

fn fail<T>(function: Function, message: impl std::fmt::Display) -> Result<T, EvalError> {
    Err(EvalError::Failure(format!(
        "{}: {message}",
        function.name()
    )))
}

pub(super) fn eval(call: &Intrinsic, scope: &dyn Scope) -> Result<Value, EvalError> {
    let f = call.function;
    if f == Function::Format {
        return format(call, scope);
    }
    let args = call
        .args
        .iter()
        .map(|arg| value_of(arg, scope))
        .collect::<Result<Vec<_>, _>>()?;
    apply(f, args)
}

/// Applies a function to argument values (the count already checked, as the parser does).
/// JSONata's `$partition`, `$range`, `$hash`, `$random` and `$parse` share these rules.
pub(crate) fn apply(f: Function, args: Vec<Value>) -> Result<Value, EvalError> {
    match f {
        Function::Format => fail(f, "needs its template; call it through Intrinsic::eval"),
        Function::StringToJson => {
            let text = string_arg(f, &args[0])?;
            serde_json::from_str(text)
                .or_else(|e| fail(f, format_args!("the string is not JSON ({e})")))
        }
        Function::JsonToString => Ok(Value::String(args[0].to_string())),
        Function::Array => Ok(Value::Array(args)),
        Function::ArrayPartition => {
            let items = array_arg(f, &args[0])?;
            let size = int_arg(f, &args[1])?;
            if size <= 0 {
                return fail(f, "the chunk size must be a positive integer");
            }
            let chunks = items
                .chunks(size as usize)
                .map(|c| Value::Array(c.to_vec()))
                .collect();
            Ok(Value::Array(chunks))
        }
        Function::ArrayContains => Ok(Value::Bool(array_arg(f, &args[0])?.contains(&args[1]))),
        Function::ArrayRange => {
            let (start, end, step) = (
                int_arg(f, &args[0])?,
                int_arg(f, &args[1])?,
                int_arg(f, &args[2])?,
            );
            if step == 0 {
                return fail(f, "the step must not be 0");
            }
            let count = if (step > 0 && start > end) || (step < 0 && start < end) {
                0
            } else {
                ((end - start) / step + 1) as usize
            };
            if count > MAX_RANGE_ITEMS {
                return fail(
                    f,
                    format_args!(
                        "the range has {count} items; at most {MAX_RANGE_ITEMS} are allowed"
                    ),
                );
            }
            Ok(Value::Array(
                (0..count as i64).map(|i| json!(start + i * step)).collect(),
            ))
        }
        Function::ArrayGetItem => {
            let items = array_arg(f, &args[0])?;
            let index = int_arg(f, &args[1])?;
            match usize::try_from(index).ok().and_then(|i| items.get(i)) {
                Some(item) => Ok(item.clone()),
                None => fail(
                    f,
                    format_args!(
                        "index {index} is out of bounds for an array of {}",
                        items.len()
                    ),
                ),
            }
        }
        Function::ArrayLength => Ok(json!(array_arg(f, &args[0])?.len())),
        Function::ArrayUnique => {
            let mut seen = HashSet::new();
            let items = array_arg(f, &args[0])?;
            let unique = items
                .iter()
                .filter(|item| seen.insert(item.to_string()))
                .cloned()
                .collect();
            Ok(Value::Array(unique))
        }
        Function::Base64Encode => Ok(Value::String(BASE64.encode(limited_string(f, &args[0])?))),
        Function::Base64Decode => {
            let bytes = BASE64
                .decode(limited_string(f, &args[0])?)
                .or_else(|e| fail(f, format_args!("the string is not base64 ({e})")))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .or_else(|_| fail(f, "the decoded bytes are not UTF-8 text"))
        }
        Function::Hash => hash(f, limited_string(f, &args[0])?, string_arg(f, &args[1])?),
        Function::JsonMerge => {
            let (Value::Object(left), Value::Object(right)) = (&args[0], &args[1]) else {
                return fail(f, "both values to merge must be objects");
            };
            if args[2] != Value::Bool(false) {
                return fail(
                    f,
                    "only a shallow merge is supported: the third argument must be false",
                );
            }
            let mut merged: Map<String, Value> = left.clone();
            merged.extend(right.iter().map(|(k, v)| (k.clone(), v.clone())));
            Ok(Value::Object(merged))
        }
        Function::MathRandom => {
            let (start, end) = (int_arg(f, &args[0])?, int_arg(f, &args[1])?);
            if start >= end {
                return fail(f, "the start must be less than the end");
            }
            let value = match args.get(2) {
                Some(seed) => rand::rngs::StdRng::seed_from_u64(int_arg(f, seed)? as u64)
                    .random_range(start..end),
                None => rand::rng().random_range(start..end),
            };
            Ok(json!(value))
        }
        Function::MathAdd => {
            let (a, b) = (int_arg(f, &args[0])?, int_arg(f, &args[1])?);
            for n in [a, b] {
                if i32::try_from(n).is_err() {
                    return fail(f, format_args!("{n} is outside the 32-bit integer range"));
                }
            }
            Ok(json!(a + b))
        }
        Function::StringSplit => {
            let text = string_arg(f, &args[0])?;
            let delimiters = string_arg(f, &args[1])?;
            let parts = text
                .split(|c| delimiters.contains(c))
                .filter(|part| !part.is_empty())
                .map(|part| Value::String(part.to_owned()))
                .collect();
            Ok(Value::Array(parts))
        }
        Function::Uuid => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
    }
}

fn value_of(arg: &Arg, scope: &dyn Scope) -> Result<Value, EvalError> {
    match arg {
        Arg::Str { value, .. } => Ok(Value::String(value.clone())),
        Arg::Literal(value) => Ok(value.clone()),
        Arg::Path(path) => path
            .eval(scope)
            .map(|v| v.into_owned())
            .map_err(EvalError::Path),
        Arg::Call(call) => eval(call, scope),
    }
}

fn format(call: &Intrinsic, scope: &dyn Scope) -> Result<Value, EvalError> {
    let f = Function::Format;
    let values = call.args[1..]
        .iter()
        .map(|arg| value_of(arg, scope))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rendered_values = Vec::with_capacity(values.len());
    for value in &values {
        rendered_values.push(match value {
            Value::String(s) => s.clone(),
            Value::Array(_) | Value::Object(_) => {
                return fail(
                    f,
                    format_args!(
                        "values must be strings, numbers, booleans or null, not an {}",
                        type_name(value)
                    ),
                );
            }
            other => other.to_string(),
        });
    }
    let template = match &call.args[0] {
        Arg::Str { raw, .. } => raw.clone(),
        other => match value_of(other, scope)? {
            Value::String(s) => s,
            v => {
                return fail(
                    f,
                    format_args!("the template must be a string, not a {}", type_name(&v)),
                );
            }
        },
    };
    if count_placeholders(&template) != rendered_values.len() {
        return fail(
            f,
            "the number of '{}' placeholders does not match the number of values",
        );
    }
    let mut out = String::with_capacity(template.len() + 16);
    let mut values = rendered_values.into_iter();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push_str(&values.next().unwrap_or_default());
            }
            other => out.push(other),
        }
    }
    Ok(Value::String(out))
}

/// `{}` placeholders in a Format template, skipping `\{` escapes.
pub(super) fn count_placeholders(raw: &str) -> usize {
    let (mut count, mut chars) = (0, raw.chars().peekable());
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                count += 1;
            }
            _ => {}
        }
    }
    count
}

fn hash(f: Function, data: &str, algorithm: &str) -> Result<Value, EvalError> {
    use sha2::Digest;
    let bytes = data.as_bytes();
    let digest: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(bytes).to_vec(),
        "SHA-1" => sha1::Sha1::digest(bytes).to_vec(),
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        other => {
            return fail(
                f,
                format_args!(
                    "'{other}' is not an algorithm; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"
                ),
            );
        }
    };
    Ok(Value::String(
        digest.iter().map(|b| format!("{b:02x}")).collect(),
    ))
}

fn string_arg(f: Function, value: &Value) -> Result<&str, EvalError> {
    match value {
        Value::String(s) => Ok(s),
        other => fail(
            f,
            format_args!("expected a string, got a {}", type_name(other)),
        ),
    }
}

fn limited_string(f: Function, value: &Value) -> Result<&str, EvalError> {
    let text = string_arg(f, value)?;
    if text.chars().count() > MAX_STRING_ARG {
        return fail(
            f,
            format_args!("the string is longer than {MAX_STRING_ARG} characters"),
        );
    }
    Ok(text)
}

fn array_arg(f: Function, value: &Value) -> Result<&Vec<Value>, EvalError> {
    match value {
        Value::Array(items) => Ok(items),
        other => fail(
            f,
            format_args!("expected an array, got a {}", type_name(other)),
        ),
    }
}

fn int_arg(f: Function, value: &Value) -> Result<i64, EvalError> {
    let number = value
        .as_f64()
        .filter(|n| n.fract() == 0.0 && n.abs() < 9.0e15);
    match number {
        Some(n) => Ok(n as i64),
        None => fail(f, format_args!("expected an integer, got {value}")),
    }
}
