//! The domain boundary's one error enum. skein-http maps it to problem+json in one place.

use crate::ports::StoreError;

/// One bad field of a request: a JSONPath to it and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The request conflicts with the current state; `code` is stable for clients.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Too many requests; retry after this many seconds.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_seconds: u64,
    },
    #[error("bad pagination cursor: {0}")]
    BadCursor(String),
    /// A tenant quota (`quotas::Quotas`) is used up; it frees as the tenant's work ends.
    #[error("{0}")]
    QuotaExceeded(String),
    /// A dependency (the store, the engine) is throttled or down: try again shortly.
    /// The text is the dependency's own error, for logs and operators; callers are told
    /// only to retry.
    #[error("{0}")]
    Unavailable(String),
    /// A store or crypto failure: logged in full, never shown to callers.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(path, message)])
    }

    /// Whether trying the same thing again later may succeed: the store or engine was
    /// throttled or down, or another writer got there first. Anything else is
    /// deterministic and fails the same way every time.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Unavailable(_) | Error::RateLimited { .. } | Error::Conflict { .. }
        )
    }

    /// The name a step that failed with this error carries: bad or oversized data is the
    /// workflow's to fix (`Skein.NonRetryable`); the rest is the platform's.
    pub fn step_error_name(&self) -> crate::steps::StepErrorName {
        use crate::steps::StepErrorName;
        match self {
            Error::Validation(_) | Error::PayloadTooLarge(_) => StepErrorName::NonRetryable,
            Error::QuotaExceeded(_) => StepErrorName::QuotaExceeded,
            _ => StepErrorName::Internal,
        }
    }

    /// The error as a step's failure cause, which the run's owner reads: what happened and
    /// what to fix, never the text of an internal error.
    pub fn step_cause(&self) -> String {
        match self {
            Error::Validation(fields) => fields
                .iter()
                .map(|f| format!("{}: {}", f.path, f.message))
                .collect::<Vec<_>>()
                .join("; "),
            Error::Internal(_) => "the platform could not run this step; see the server log".into(),
            Error::Unavailable(_) => {
                "the platform's store or engine stayed unavailable while running this step".into()
            }
            other => other.to_string(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(detail) => {
                Error::Unavailable(format!("store unavailable: {detail}"))
            }
            StoreError::TooLarge(detail) => Error::PayloadTooLarge(format!(
                "{detail}: keep large values outside the platform and pass a reference"
            )),
            other => Error::Internal(other.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Collects field errors so that a caller learns every problem at once, not one per try.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(path, message));
    }

    pub fn check(&mut self, ok: bool, path: &str, message: impl FnOnce() -> String) {
        if !ok {
            self.push(path, message());
        }
    }

    pub fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.0))
        }
    }
}
