//! Payload templates: `Parameters`, `ItemSelector`, `ResultSelector` and `Assign`. Keys that end
//! in `.$` take their value from a path or an intrinsic function; everything else is literal.
//! Templates are compiled once, and a template with nothing dynamic is a plain value.

use serde_json::{Map, Value};

use crate::intrinsics::{EvalError, Intrinsic, looks_like_intrinsic};
use crate::jsonata::{Expression, expression_text};
use crate::path::{Path, PathError, Root, Scope};

#[derive(Debug, Clone)]
pub enum Template {
    Literal(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    Path(Path),
    Intrinsic(Box<Intrinsic>),
    /// A `{% %}` string in a JSONata state.
    Query(Box<Expression>),
}

/// Why a template could not be filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    Path(PathError),
    Intrinsic(String),
    /// A JSONata expression failed (`States.QueryEvaluationError`).
    Query(String),
}

impl From<EvalError> for TemplateError {
    fn from(error: EvalError) -> Self {
        match error {
            EvalError::Path(path) => TemplateError::Path(path),
            EvalError::Failure(message) => TemplateError::Intrinsic(message),
        }
    }
}

impl Template {
    /// Compiles a template; problems are reported as `(location suffix, message)`.
    pub fn compile(value: &Value, problems: &mut Vec<(String, String)>) -> Template {
        compile_at(value, "", problems)
    }

    /// Compiles a JSONata state's field (`Arguments`, `Output`, an `Assign` value...): strings
    /// written `{% ... %}` are expressions, at any depth; everything else, keys included, is
    /// literal. `field` names it in messages (`Arguments`); problems are reported as
    /// `(location suffix, message)`.
    pub fn compile_jsonata(
        value: &Value,
        field: &str,
        problems: &mut Vec<(String, String)>,
    ) -> Template {
        compile_jsonata_at(value, field, "", "", problems)
    }

    pub fn is_literal(&self) -> bool {
        matches!(self, Template::Literal(_))
    }

    /// Whether any of its JSONata expressions reads `$states.errorOutput`.
    pub fn reads_error_output(&self) -> bool {
        match self {
            Template::Query(expression) => expression.reads_error_output(),
            Template::Object(fields) => fields.iter().any(|(_, t)| t.reads_error_output()),
            Template::Array(items) => items.iter().any(Template::reads_error_output),
            Template::Literal(_) | Template::Path(_) | Template::Intrinsic(_) => false,
        }
    }

    pub fn eval(&self, scope: &dyn Scope) -> Result<Value, TemplateError> {
        match self {
            Template::Literal(value) => Ok(value.clone()),
            Template::Path(path) => path
                .eval(scope)
                .map(|v| v.into_owned())
                .map_err(TemplateError::Path),
            Template::Intrinsic(call) => Ok(call.eval(scope)?),
            Template::Query(expression) => expression
                .eval(scope)
                .map_err(|e| TemplateError::Query(e.message)),
            Template::Array(items) => items
                .iter()
                .map(|t| t.eval(scope))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Object(fields) => {
                let mut out = Map::new();
                for (key, template) in fields {
                    let value = match template {
                        Template::Path(path) => field_from_path(key, path, scope)?,
                        other => other.eval(scope)?,
                    };
                    out.insert(key.clone(), value);
                }
                Ok(Value::Object(out))
            }
        }
    }
}

/// A `"key.$": "$.path"` field. A path that finds nothing is AWS's `States.Runtime`, with
/// the cause Step Functions gives (the path, the field and the input it looked in).
fn field_from_path(key: &str, path: &Path, scope: &dyn Scope) -> Result<Value, TemplateError> {
    path.eval(scope)
        .map(|v| v.into_owned())
        .map_err(|e| match path.root() {
            Root::Variable(_) => TemplateError::Path(e),
            Root::Input | Root::Context => TemplateError::Path(PathError {
                message: format!(
                    "The JSONPath '{}' specified for the field '{key}.$' could not be found in the input '{}'",
                    path.text(),
                    scope.input()
                ),
            }),
        })
}

fn compile_at(value: &Value, at: &str, problems: &mut Vec<(String, String)>) -> Template {
    // "However deeply nested" (the ASL spec): objects inside arrays are templates too, as in
    // a DynamoDB TransactItems list.
    if let Value::Array(items) = value {
        let compiled: Vec<Template> = items
            .iter()
            .enumerate()
            .map(|(i, item)| compile_at(item, &format!("{at}[{i}]"), problems))
            .collect();
        return if compiled.iter().all(Template::is_literal) {
            Template::Literal(value.clone())
        } else {
            Template::Array(compiled)
        };
    }
    let Value::Object(map) = value else {
        return Template::Literal(value.clone());
    };
    let mut fields = Vec::with_capacity(map.len());
    let mut dynamic = false;
    for (key, field) in map {
        let location = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        let compiled = match key.strip_suffix(".$") {
            Some(name) => {
                dynamic = true;
                let template = match field {
                    Value::String(text) => dynamic_value(text).unwrap_or_else(|message| {
                        problems.push((location, message));
                        Template::Literal(Value::Null)
                    }),
                    _ => {
                        problems.push((location, format!("'{key}' ends in '.$', so its value must be a path or an intrinsic function (a string)")));
                        Template::Literal(Value::Null)
                    }
                };
                fields.push((name.to_owned(), template));
                continue;
            }
            None => compile_at(field, &location, problems),
        };
        dynamic |= !compiled.is_literal();
        fields.push((key.clone(), compiled));
    }
    if dynamic {
        Template::Object(fields)
    } else {
        Template::Literal(value.clone())
    }
}

fn dynamic_value(text: &str) -> Result<Template, String> {
    if looks_like_intrinsic(text) {
        Intrinsic::parse(text).map(|call| Template::Intrinsic(Box::new(call)))
    } else {
        Path::parse(text).map(Template::Path)
    }
}

/// `at` is where `value` sits inside `field`, as problems name it (`a.b[0]`); `cause_at`
/// the same place as Step Functions names it in a run-time cause (`a/b[0]`: `Output/a/b[0]`).
fn compile_jsonata_at(
    value: &Value,
    field: &str,
    at: &str,
    cause_at: &str,
    problems: &mut Vec<(String, String)>,
) -> Template {
    match value {
        Value::String(text) => match expression_text(text) {
            Some(source) => {
                // The field's own name is ASL's (`Choices[0].Condition`): no key of the
                // user's is in it, so its dots are separators.
                let cause_field = field.replace('.', "/");
                let cause_location = if cause_at.is_empty() {
                    cause_field
                } else {
                    format!("{cause_field}/{cause_at}")
                };
                match Expression::compile(source, &cause_location) {
                    Ok(expression) => Template::Query(Box::new(expression)),
                    Err(message) => {
                        problems.push((at.to_owned(), message));
                        Template::Literal(Value::Null)
                    }
                }
            }
            None => Template::Literal(value.clone()),
        },
        Value::Array(items) => {
            let compiled: Vec<Template> = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let at = format!("{at}[{i}]");
                    let cause_at = format!("{cause_at}[{i}]");
                    compile_jsonata_at(item, field, &at, &cause_at, problems)
                })
                .collect();
            if compiled.iter().all(Template::is_literal) {
                Template::Literal(value.clone())
            } else {
                Template::Array(compiled)
            }
        }
        Value::Object(map) => {
            let fields: Vec<(String, Template)> = map
                .iter()
                .map(|(key, item)| {
                    let (at, cause_at) = if at.is_empty() {
                        (key.clone(), key.clone())
                    } else {
                        (format!("{at}.{key}"), format!("{cause_at}/{key}"))
                    };
                    (
                        key.clone(),
                        compile_jsonata_at(item, field, &at, &cause_at, problems),
                    )
                })
                .collect();
            if fields.iter().all(|(_, t)| t.is_literal()) {
                Template::Literal(value.clone())
            } else {
                Template::Object(fields)
            }
        }
        _ => Template::Literal(value.clone()),
    }
}
