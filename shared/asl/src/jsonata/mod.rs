//! JSONata, for states whose `QueryLanguage` is JSONata: `{% expression %}` strings, the
//! reserved `$states` variable (`input`, `result`, `errorOutput`, `context`), workflow
//! variables, and the functions Step Functions adds (`$partition`, `$range`, `$hash`,
//! `$random`, `$uuid`, `$parse`) and removes (`$eval`).
//!
//! Expressions are parsed once, when the definition is compiled, by `jsonata-core` (a
//! complete JSONata implementation; Step Functions implements JSONata 2.0.6). Every
//! evaluation runs under a time, depth and sequence-length budget, so one hostile expression
//! fails its own state with `States.QueryEvaluationError` instead of holding the process.

mod functions;
mod top_level;
mod values;

pub(crate) use top_level::TopLevelReference;

use std::sync::Arc;
use std::time::Duration;

use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::EvaluatorError;
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorOptions};
use jsonata_core::value::JValue;
use serde_json::{Map, Value};

use crate::path::Scope;

/// How long one expression may run. Step Functions documents no limit; this one keeps a
/// runaway expression (`$f := function(){ $f() }`, a huge `$range`) from blocking the
/// thread that runs the execution.
pub const EVALUATION_TIME_LIMIT: Duration = Duration::from_secs(1);
/// How deeply an expression may nest calls (recursion included).
const MAX_DEPTH: usize = 2_000;
/// The longest sequence an expression may build.
const MAX_SEQUENCE: usize = 1_000_000;

/// The text inside `{% ... %}`, when `text` is a JSONata expression string. Step Functions
/// takes a string as an expression only when it starts with `{%` and ends with `%}` exactly;
/// any other string (leading spaces included) is a literal.
pub fn expression_text(text: &str) -> Option<&str> {
    if text.len() < 4 {
        return None;
    }
    text.strip_prefix("{%")?.strip_suffix("%}")
}

/// A parsed JSONata expression and the field it was written in (for messages).
#[derive(Clone)]
pub struct Expression {
    source: Arc<str>,
    field: Arc<str>,
    ast: Arc<AstNode>,
    /// Workflow variables the expression may read (`$name`), bound before it runs.
    variables: Arc<[Arc<str>]>,
    /// Whether it reads `$states.context` (or `$states` whole), which is built only then.
    reads_context: bool,
    /// Whether it reads `$states.errorOutput`, which only a Catch's fields may.
    reads_error_output: bool,
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{% {} %}}", self.source)
    }
}

/// Why an evaluation outside a state failed, with JSONata's error code (`T2001`, `D3030`...)
/// when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationError {
    pub code: Option<String>,
    pub message: String,
}

/// Why an expression could not be evaluated: `States.QueryEvaluationError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub message: String,
}

impl Expression {
    /// Parses the text between `{%` and `%}` as a state's expression; `field` names where it
    /// is (`Arguments.title`). Beyond JSONata's grammar, Step Functions refuses an expression
    /// that reads the context item (a bare `phone`, `$`, `$$`): it never sets one.
    pub fn compile(text: &str, field: &str) -> Result<Expression, String> {
        let mut expression = Expression::parse(text, field)?;
        let mut references = top_level::top_level_references(&expression.ast);
        let error_output = TopLevelReference::StatesErrorOutput;
        expression.reads_error_output = references.contains(&error_output);
        references.retain(|reference| *reference != error_output);
        if references.is_empty() {
            return Ok(expression);
        }
        let messages: Vec<String> = references.iter().map(|r| r.message()).collect();
        Err(format!(
            "the JSONata expression '{}' reads the context item, which Step Functions never \
             sets (UNSUPPORTED_JSONATA_EXPRESSION): {}",
            expression.source,
            messages.join("; ")
        ))
    }

    /// Parses plain JSONata, context item and all, for [`Expression::evaluate_with`].
    pub fn parse(text: &str, field: &str) -> Result<Expression, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("the JSONata expression is empty; write one between {% and %}".into());
        }
        let ast = jsonata_core::parser::parse(trimmed)
            .map_err(|e| format!("the JSONata expression '{trimmed}' does not parse: {e}"))?;
        Ok(Expression {
            source: trimmed.into(),
            field: field.into(),
            ast: Arc::new(ast),
            variables: referenced_variables(trimmed).into(),
            reads_context: reads_context(trimmed),
            reads_error_output: false,
        })
    }

    /// Whether it reads `$states.errorOutput` (see [`Expression::compile`]'s caller).
    pub fn reads_error_output(&self) -> bool {
        self.reads_error_output
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against what the state sees. An expression that yields nothing (JSONata's
    /// `undefined`) is an error, as on Step Functions: JSON has no `undefined`.
    pub fn eval(&self, scope: &dyn Scope) -> Result<Value, QueryError> {
        let mut context = Context::new();
        context.bind("states".into(), self.states(scope));
        for name in self.variables.iter() {
            if let Some(value) = scope.variable(name) {
                context.bind(name.to_string(), values::to_jvalue(value));
            }
        }
        // Step Functions sets no context item: `compile` refuses an expression that reads it.
        let result = self.run(context, &JValue::Null).map_err(|e| {
            // Step Functions' separator: a sentence after JSONata's code, a colon before a
            // message without one.
            let separator = if e.code().is_some() { ". " } else { ": " };
            self.error(format!(
                "threw an error during evaluation{separator}{}",
                e.message()
            ))
        })?;
        values::to_json(&result).ok_or_else(|| self.error("returned nothing (undefined).".into()))
    }

    /// Evaluates outside any state: `data` as the context value `$` (`None` is undefined)
    /// and `bindings` as variables, with Step Functions' functions and the same budget.
    /// JSONata's `undefined` is `Ok(None)`. The engine is checked with this against JSONata's
    /// own test suite (`tests/jsonata_suite.rs`).
    pub fn evaluate_with(
        &self,
        data: Option<&Value>,
        bindings: &Map<String, Value>,
    ) -> Result<Option<Value>, EvaluationError> {
        let mut context = Context::new();
        for (name, value) in bindings {
            context.bind(name.clone(), values::to_jvalue(value));
        }
        let data = data.map_or(JValue::Undefined, values::to_jvalue);
        let result = self.run(context, &data).map_err(|e| EvaluationError {
            code: e.code().map(str::to_owned),
            message: e.message().to_owned(),
        })?;
        Ok(values::to_json(&result))
    }

    fn run(&self, context: Context, data: &JValue) -> Result<JValue, EvaluatorError> {
        let options = EvaluatorOptions {
            timeout_ms: Some(EVALUATION_TIME_LIMIT.as_millis() as u64),
            max_stack_depth: Some(MAX_DEPTH),
            max_sequence_length: Some(MAX_SEQUENCE),
            cancel: None,
        };
        let mut evaluator = Evaluator::with_options(context, options);
        functions::register(&mut evaluator);
        evaluator.evaluate(&self.ast, data)
    }

    fn states(&self, scope: &dyn Scope) -> JValue {
        let mut states = indexmap::IndexMap::new();
        states.insert("input".to_owned(), values::to_jvalue(scope.input()));
        if let Some(result) = scope.result() {
            states.insert("result".to_owned(), values::to_jvalue(result));
        }
        if let Some(error_output) = scope.error_output() {
            states.insert("errorOutput".to_owned(), values::to_jvalue(error_output));
        }
        if self.reads_context {
            states.insert("context".to_owned(), values::to_jvalue(scope.context(true)));
        }
        JValue::object(states)
    }

    fn error(&self, what: String) -> QueryError {
        QueryError {
            message: format!(
                "The JSONata expression '{}' specified for the field '{}' {what}",
                self.source, self.field
            ),
        }
    }
}

/// `$name` references outside string literals, other than `$states` (variables that are not
/// workflow variables, such as a function's parameters, are bound only if a workflow variable
/// has the same name, and the expression's own binding still shadows it).
fn referenced_variables(text: &str) -> Vec<Arc<str>> {
    let mut names: Vec<Arc<str>> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'$' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_')
                {
                    end += 1;
                }
                let name = &text[start..end];
                if !name.is_empty() && name != "states" && !names.iter().any(|n| &**n == name) {
                    names.push(name.into());
                }
                i = end;
                continue;
            }
            None => {}
        }
        i += 1;
    }
    names
}

fn reads_context(text: &str) -> bool {
    text.match_indices("$states").any(|(at, _)| {
        let rest = &text[at + "$states".len()..];
        !rest.starts_with(".input")
            && !rest.starts_with(".result")
            && !rest.starts_with(".errorOutput")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_strings_wrapped_exactly_are_expressions() {
        assert_eq!(expression_text("{% 1 + 1 %}"), Some(" 1 + 1 "));
        assert_eq!(expression_text(" {% 1 %}"), None);
        assert_eq!(expression_text("{% 1 %} "), None);
        assert_eq!(expression_text("{%}"), None);
        assert_eq!(expression_text("$.x"), None);
    }

    #[test]
    fn variables_are_found_outside_string_literals() {
        let names = referenced_variables("$a & '$b' & \"$c\" & $states.input.x & $a & $d_2");
        let names: Vec<&str> = names.iter().map(|n| &**n).collect();
        assert_eq!(names, ["a", "d_2"]);
    }

    #[test]
    fn the_context_is_built_only_when_read() {
        assert!(!reads_context("$states.input.a & $states.result.b"));
        assert!(reads_context("$states.context.Execution.Id"));
        assert!(reads_context("$keys($states)"));
    }
}
