//! A workflow's `input_schema`, compiled once when the definition is validated: a schema
//! that is not valid JSON Schema is refused at registration, not at the first run's
//! start, and a start checks its input against the compiled validator instead of
//! compiling the schema again. Builds without a validator (the wasm32 edge) accept any
//! input.

use serde_json::Value;

#[cfg(feature = "input-schemas")]
use crate::error::{Error, FieldError};
use crate::error::{FieldErrors, Result};

#[derive(Clone, Default)]
pub struct InputSchema {
    #[cfg(feature = "input-schemas")]
    validator: Option<std::sync::Arc<jsonschema::Validator>>,
}

impl InputSchema {
    /// Compiles `schema`; what is wrong with it goes to `errors` at `$.input_schema`.
    pub fn compile(schema: Option<&Value>, errors: &mut FieldErrors) -> Self {
        let Some(schema) = schema else {
            return Self::default();
        };
        if !(schema.is_object() || schema.is_boolean()) {
            errors.push(
                "$.input_schema",
                "must be a JSON Schema: an object or a boolean",
            );
            return Self::default();
        }
        #[cfg(feature = "input-schemas")]
        match jsonschema::validator_for(schema) {
            Ok(validator) => Self {
                validator: Some(std::sync::Arc::new(validator)),
            },
            Err(e) => {
                errors.push("$.input_schema", format!("is not a valid JSON Schema: {e}"));
                Self::default()
            }
        }
        #[cfg(not(feature = "input-schemas"))]
        Self::default()
    }

    /// Every way `input` breaks the schema (up to 20), each at its path under `$.input`.
    pub fn check(&self, input: &Value) -> Result<()> {
        #[cfg(feature = "input-schemas")]
        if let Some(validator) = &self.validator {
            let errors: Vec<FieldError> = validator
                .iter_errors(input)
                .take(20)
                .map(|e| {
                    let pointer = e.instance_path().to_string();
                    let path = format!("$.input{}", pointer.replace('/', "."));
                    FieldError::new(path, e.to_string())
                })
                .collect();
            if !errors.is_empty() {
                return Err(Error::Validation(errors));
            }
        }
        #[cfg(not(feature = "input-schemas"))]
        let _ = input;
        Ok(())
    }
}

impl std::fmt::Debug for InputSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InputSchema")
    }
}

/// Compiled from the definition's `input_schema`: two workflows whose definitions are equal
/// have equal schemas, so this part never tells them apart.
impl PartialEq for InputSchema {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[cfg(all(test, feature = "input-schemas"))]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_schema_that_is_not_json_schema_is_refused_with_where_and_why() {
        let mut errors = FieldErrors::default();
        InputSchema::compile(Some(&json!({"type": "no-such-type"})), &mut errors);
        let Err(Error::Validation(fields)) = errors.into_result() else {
            panic!("an invalid schema was accepted");
        };
        assert_eq!(fields[0].path, "$.input_schema");
        assert!(
            fields[0].message.contains("not a valid JSON Schema"),
            "{fields:?}"
        );
    }

    #[test]
    fn an_input_is_checked_against_the_compiled_schema() {
        let mut errors = FieldErrors::default();
        let schema =
            json!({"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}});
        let compiled = InputSchema::compile(Some(&schema), &mut errors);
        assert!(errors.into_result().is_ok());
        assert!(compiled.check(&json!({"n": 1})).is_ok());
        let Err(Error::Validation(fields)) = compiled.check(&json!({"n": "one"})) else {
            panic!("a wrong input passed");
        };
        assert_eq!(fields[0].path, "$.input.n");
    }
}
