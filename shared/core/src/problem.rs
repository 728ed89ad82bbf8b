//! RFC 9457 problem details: what a domain [`Error`] looks like to an HTTP client. Every
//! host answers with these (the API on `skein dev` and Lambda, the edge Worker), so a
//! client sees the same status, body and headers wherever a request was refused.
//! Internal detail never goes into a problem: the host logs it.

use serde::Serialize;

use crate::error::{Error, FieldError};

/// The media type of every problem body.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// The `WWW-Authenticate` challenge that goes with a 401.
pub const BEARER_CHALLENGE: &str = "Bearer realm=\"skein\", error=\"invalid_token\"";

const TYPE_PREFIX: &str = "urn:skein:problem:";

/// RFC 9457 problem details.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
    /// Sent as the `Retry-After` header, not in the body.
    #[serde(skip)]
    retry_after_seconds: Option<u64>,
}

impl Problem {
    /// A problem with no stable code and no field errors: most of them.
    pub fn new(status: u16, slug: &str, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("{TYPE_PREFIX}{slug}"),
            title,
            status,
            detail: detail.into(),
            code: None,
            errors: Vec::new(),
            retry_after_seconds: None,
        }
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// Seconds for the `Retry-After` header, where retrying later can succeed.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        self.retry_after_seconds
    }

    /// The `WWW-Authenticate` challenge, on a 401.
    pub fn challenge(&self) -> Option<&'static str> {
        (self.status == 401).then_some(BEARER_CHALLENGE)
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }
}

impl From<Error> for Problem {
    fn from(err: Error) -> Self {
        match err {
            Error::Validation(errors) => {
                let detail = summarize(&errors);
                Self {
                    errors,
                    ..Self::new(422, "validation", "Invalid request", detail)
                }
            }
            Error::NotFound { what } => Self::new(
                404,
                "not-found",
                "Not found",
                format!("no such {what} in this tenant"),
            ),
            Error::Conflict { code, message } => {
                Self::new(409, "conflict", "Conflict", message).with_code(code)
            }
            Error::Unauthenticated(message) => {
                Self::new(401, "unauthenticated", "Unauthenticated", message)
            }
            Error::Forbidden(message) => Self::new(403, "forbidden", "Forbidden", message),
            Error::PayloadTooLarge(message) => {
                Self::new(413, "payload-too-large", "Payload too large", message)
            }
            Error::RateLimited {
                message,
                retry_after_seconds,
            } => Self::new(429, "rate-limited", "Too many requests", message)
                .retry_after(retry_after_seconds),
            Error::BadCursor(message) => Self::new(400, "bad-request", "Bad request", message),
            Error::QuotaExceeded(message) => {
                Self::new(429, "quota-exceeded", "Quota exceeded", message).retry_after(5)
            }
            Error::Unavailable(_) => Self::new(
                503,
                "unavailable",
                "Service unavailable",
                "the service is busy or a dependency is unavailable; retry after the Retry-After seconds",
            )
            .retry_after(1),
            Error::Internal(_) => Self::new(
                500,
                "internal",
                "Internal error",
                "an internal error occurred; it was logged with this request's x-request-id",
            ),
        }
    }
}

fn summarize(errors: &[FieldError]) -> String {
    match errors {
        [one] => format!("{}: {}", one.path, one.message),
        many => format!("{} fields are invalid; see `errors`", many.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_detail_never_reaches_the_body() {
        let problem = Problem::from(Error::Internal("sqlite: disk I/O error at /srv".into()));
        let body = serde_json::to_string(&problem).unwrap();
        assert!(!body.contains("sqlite"), "{body}");
        assert_eq!(problem.status(), 500);
    }

    #[test]
    fn refusals_carry_their_retry_after_and_challenge_outside_the_body() {
        let limited = Problem::from(Error::RateLimited {
            message: "you sent more than 2/s requests; retry after 1 s".into(),
            retry_after_seconds: 1,
        });
        assert_eq!(limited.retry_after_seconds(), Some(1));
        assert!(
            !serde_json::to_string(&limited)
                .unwrap()
                .contains("retry_after")
        );
        let unauthenticated = Problem::from(Error::Unauthenticated("expired".into()));
        assert_eq!(unauthenticated.challenge(), Some(BEARER_CHALLENGE));
        assert_eq!(
            serde_json::to_value(&unauthenticated).unwrap()["type"],
            "urn:skein:problem:unauthenticated"
        );
    }
}
