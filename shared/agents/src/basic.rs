//! The builtins that need nothing outside the process: echo, template, transform, decision.

use serde::Deserialize;
use serde_json::{Value, json};
use skein_core::ports::{AgentFailure, BuiltinCall};
use skein_core::workflows::compile::StepErrorName;
use skein_core::workflows::template::{self, Root, Scope};

use std::time::Duration;

use crate::jq::{JqError, Limits, Program, ProgramCache};
use crate::settings;

type Check = Result<(), (String, String)>;

pub fn check_echo(config: Option<&Value>) -> Check {
    match config {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(m)) if m.is_empty() => Ok(()),
        Some(_) => Err((
            ".with".into(),
            "echo takes no settings; remove `with`".into(),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateSettings {
    template: Value,
}

pub fn check_template(config: Option<&Value>) -> Check {
    let s: TemplateSettings = settings(config)?;
    let refs = template::references(&s.template)
        .map_err(|(at, message)| (format!(".with.template{at}"), message))?;
    match refs.iter().find(|(_, r)| r.root != Root::Input) {
        Some((at, _)) => Err((
            format!(".with.template{at}"),
            "a template builtin sees only its input: write {{ input.field }}".into(),
        )),
        None => Ok(()),
    }
}

/// Templates inside a builtin's settings see only the step's input.
pub(crate) struct InputScope<'a>(pub &'a Value);

impl Scope for InputScope<'_> {
    fn root(&self, root: &Root) -> Option<Value> {
        (root == &Root::Input).then(|| self.0.clone())
    }
}

pub fn template(call: &BuiltinCall) -> Result<Value, AgentFailure> {
    let s: TemplateSettings = settings(Some(&call.config)).map_err(bad_settings)?;
    Ok(template::render(&s.template, &InputScope(&call.input)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransformSettings {
    program: String,
}

pub fn check_transform(config: Option<&Value>) -> Check {
    let s: TransformSettings = settings(config)?;
    Program::compile(&s.program)
        .map(|_| ())
        .map_err(|e| (".with.program".into(), e))
}

/// One output is the result; none is null; several are an array.
pub async fn transform(call: &BuiltinCall, programs: &ProgramCache) -> Result<Value, AgentFailure> {
    let s: TransformSettings = settings(Some(&call.config)).map_err(bad_settings)?;
    let program = programs.get(&s.program).map_err(non_retryable)?;
    let mut outputs = program
        .run(call.input.clone(), jq_limits(call))
        .await
        .map_err(jq_failure)?;
    Ok(match outputs.len() {
        0 => Value::Null,
        1 => outputs.remove(0),
        _ => Value::Array(outputs),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    /// A jq test over the input; the rule matches when its first output is true.
    when: String,
    outcome: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionSettings {
    rules: Vec<Rule>,
    #[serde(default)]
    default: Option<String>,
}

pub fn check_decision(config: Option<&Value>) -> Check {
    let s: DecisionSettings = settings(config)?;
    if s.rules.is_empty() {
        return Err((
            ".with.rules".into(),
            "give at least one rule: {when, outcome}".into(),
        ));
    }
    for (i, rule) in s.rules.iter().enumerate() {
        Program::compile(&rule.when).map_err(|e| (format!(".with.rules[{i}].when"), e))?;
    }
    Ok(())
}

/// `{outcome, rule}`: the first matching rule's outcome and index, else the default.
pub async fn decision(call: &BuiltinCall, programs: &ProgramCache) -> Result<Value, AgentFailure> {
    let s: DecisionSettings = settings(Some(&call.config)).map_err(bad_settings)?;
    for (i, rule) in s.rules.iter().enumerate() {
        let test = programs.get(&rule.when).map_err(non_retryable)?;
        let out = test
            .run(call.input.clone(), jq_limits(call))
            .await
            .map_err(jq_failure)?;
        if out.first() == Some(&Value::Bool(true)) {
            return Ok(json!({ "outcome": rule.outcome, "rule": i }));
        }
    }
    match s.default {
        Some(outcome) => Ok(json!({ "outcome": outcome, "rule": null })),
        None => Err(AgentFailure::new(
            StepErrorName::NonRetryable,
            "no decision rule matched and there is no `default`",
        )),
    }
}

pub(crate) fn bad_settings((path, message): (String, String)) -> AgentFailure {
    AgentFailure::new(StepErrorName::NonRetryable, format!("{path}: {message}"))
}

/// A jq program with no step timeout still stops: tenant code always has a deadline.
const DEFAULT_JQ_TIMEOUT: Duration = Duration::from_secs(60);

fn jq_limits(call: &BuiltinCall) -> Limits {
    Limits::with_timeout(call.timeout.unwrap_or(DEFAULT_JQ_TIMEOUT))
}

/// Running past the deadline is the step's timeout (retryable per its policy); every
/// other failure would fail the same way again.
fn jq_failure(error: JqError) -> AgentFailure {
    match error {
        JqError::Timeout(_) => AgentFailure::new(StepErrorName::Timeout, error.to_string()),
        other => non_retryable(other.to_string()),
    }
}

fn non_retryable(message: String) -> AgentFailure {
    AgentFailure::new(StepErrorName::NonRetryable, message)
}
