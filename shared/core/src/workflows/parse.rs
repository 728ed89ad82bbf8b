//! Reading a definition from YAML or JSON text, with errors that say where and what.

use super::definition::Definition;
use crate::error::{Error, FieldError};

/// The format is told by the first non-blank character: `{` is JSON, anything else YAML
/// (which also reads JSON, but JSON's own errors are clearer for JSON files).
pub fn parse_definition(text: &str) -> Result<Definition, Error> {
    if text.len() > MAX_DEFINITION_BYTES {
        return Err(Error::PayloadTooLarge(format!(
            "a workflow definition is at most {MAX_DEFINITION_BYTES} bytes; this one is {}",
            text.len()
        )));
    }
    if text.trim_start().starts_with('{') {
        let mut json = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut json).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let at = format!("line {} column {}", inner.line(), inner.column());
            invalid(
                &path,
                format!("{} ({at})", strip_position(&inner.to_string())),
            )
        })
    } else {
        let yaml = serde_norway::Deserializer::from_str(text);
        serde_path_to_error::deserialize(yaml).map_err(|e| {
            let path = e.path().to_string();
            invalid(&path, e.into_inner().to_string())
        })
    }
}

/// Parses a run input or another JSON-or-YAML value given on a command line or in a file.
pub fn parse_value(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).or_else(|json_err| {
        serde_norway::from_str(text).map_err(|_| format!("not JSON: {json_err}"))
    })
}

/// Large enough for hundreds of steps, small enough to keep the store item under 400 KB.
pub const MAX_DEFINITION_BYTES: usize = 256 * 1024;

fn invalid(path: &str, message: String) -> Error {
    let path = if path == "." || path.is_empty() {
        "$".to_string()
    } else {
        format!("$.{path}")
    };
    Error::Validation(vec![FieldError::new(path, message)])
}

/// serde_json appends " at line L column C"; we say it once, our way.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_error(text: &str) -> FieldError {
        match parse_definition(text) {
            Err(Error::Validation(errors)) => errors[0].clone(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn yaml_and_json_read_the_same_definition() {
        let yaml = "name: hello\nsteps:\n  - id: greet\n    builtin: echo\n";
        let json = r#"{"name": "hello", "steps": [{"id": "greet", "builtin": "echo"}]}"#;
        assert_eq!(
            parse_definition(yaml).unwrap(),
            parse_definition(json).unwrap()
        );
    }

    #[test]
    fn an_unknown_field_is_named_with_its_path() {
        let e = first_error("name: x\nsteps:\n  - id: a\n    builtin: echo\n    retries: 3\n");
        assert_eq!(e.path, "$.steps[0].retries");
        assert!(
            e.message.contains("unknown field `retries`"),
            "{}",
            e.message
        );
        assert!(e.message.contains("line 5"), "{}", e.message);
    }

    #[test]
    fn a_wrong_type_in_json_points_at_the_field_and_line() {
        let e = first_error(
            r#"{"name": "x", "steps": [{"id": "a", "builtin": "echo", "retry": {"max_attempts": "three"}}]}"#,
        );
        assert_eq!(e.path, "$.steps[0].retry.max_attempts");
        assert!(e.message.contains("line 1"), "{}", e.message);
    }

    #[test]
    fn a_bad_duration_says_how_to_write_one() {
        let e = first_error("name: x\nsteps:\n  - id: a\n    builtin: echo\n    timeout: soon\n");
        assert_eq!(e.path, "$.steps[0].timeout");
        assert!(e.message.contains("e.g. 500ms"), "{}", e.message);
    }
}
