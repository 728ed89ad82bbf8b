use serde::Serialize;
use serde_json::{Value, json};

use crate::errors;
use crate::runtime::TaskError;

/// A named error with its cause: what Retry and Catch see, and how an execution fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub error: String,
    pub cause: String,
}

impl Failure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Failure {
        Failure {
            error: error.into(),
            cause: cause.into(),
        }
    }

    pub(crate) fn runtime(cause: impl Into<String>) -> Failure {
        Failure::new(errors::RUNTIME, cause)
    }

    /// The object Catch places at its ResultPath.
    pub fn to_error_output(&self) -> Value {
        json!({ "Error": self.error, "Cause": self.cause })
    }
}

impl From<TaskError> for Failure {
    fn from(error: TaskError) -> Self {
        Failure {
            error: error.error,
            cause: error.cause,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}
