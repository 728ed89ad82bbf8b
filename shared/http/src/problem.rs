//! RFC 9457 problem details: the one place where errors become HTTP responses.
//! Internal detail goes to the log, never into a response.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use skein_core::{Error, FieldError};

/// Every error an HTTP handler can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Domain(#[from] Error),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("no route for this method and path")]
    RouteNotFound,
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }
}

/// RFC 9457 problem details.
#[derive(Serialize, utoipa::ToSchema)]
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
}

const TYPE_PREFIX: &str = "urn:skein:problem:";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        use StatusCode as S;
        match self {
            ApiError::Domain(err) => match err {
                Error::Validation(errors) => {
                    let detail = summarize(&errors);
                    problem(
                        S::UNPROCESSABLE_ENTITY,
                        "validation",
                        "Invalid request",
                        detail,
                        None,
                        errors,
                    )
                }
                Error::NotFound { what } => simple(
                    S::NOT_FOUND,
                    "not-found",
                    "Not found",
                    format!("no such {what} in this tenant"),
                ),
                Error::Conflict { code, message } => problem(
                    S::CONFLICT,
                    "conflict",
                    "Conflict",
                    message,
                    Some(code),
                    vec![],
                ),
                Error::Unauthenticated(message) => unauthenticated(message),
                Error::Forbidden(message) => {
                    simple(S::FORBIDDEN, "forbidden", "Forbidden", message)
                }
                Error::PayloadTooLarge(message) => simple(
                    S::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    "Payload too large",
                    message,
                ),
                Error::RateLimited {
                    message,
                    retry_after_seconds,
                } => {
                    let mut response = simple(
                        S::TOO_MANY_REQUESTS,
                        "rate-limited",
                        "Too many requests",
                        message,
                    );
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
                    response
                }
                Error::BadCursor(message) => {
                    simple(S::BAD_REQUEST, "bad-request", "Bad request", message)
                }
                Error::QuotaExceeded(message) => {
                    let mut response = simple(
                        S::TOO_MANY_REQUESTS,
                        "quota-exceeded",
                        "Quota exceeded",
                        message,
                    );
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                    response
                }
                Error::Unavailable(detail) => {
                    tracing::warn!(error = %detail, "request refused: a dependency is unavailable");
                    let mut response = simple(
                        S::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "Service unavailable",
                        "the service is busy or a dependency is unavailable; retry after the Retry-After seconds".into(),
                    );
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                    response
                }
                Error::Internal(detail) => {
                    tracing::error!(error = %detail, "request failed");
                    let message = "an internal error occurred; it was logged with this request's x-request-id";
                    simple(
                        S::INTERNAL_SERVER_ERROR,
                        "internal",
                        "Internal error",
                        message.into(),
                    )
                }
            },
            ApiError::BadRequest(message) => {
                simple(S::BAD_REQUEST, "bad-request", "Bad request", message)
            }
            ApiError::UnsupportedMediaType(message) => simple(
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                message,
            ),
            ApiError::RouteNotFound => simple(
                S::NOT_FOUND,
                "not-found",
                "Not found",
                "no such endpoint; see GET /v1/info for the API's entry points".into(),
            ),
            ApiError::MethodNotAllowed => simple(
                S::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this path does not accept this method".into(),
            ),
        }
    }
}

/// A problem with no stable code and no field errors: most of them.
fn simple(status: StatusCode, slug: &str, title: &'static str, detail: String) -> Response {
    problem(status, slug, title, detail, None, vec![])
}

fn summarize(errors: &[FieldError]) -> String {
    match errors {
        [one] => format!("{}: {}", one.path, one.message),
        many => format!("{} fields are invalid; see `errors`", many.len()),
    }
}

fn problem(
    status: StatusCode,
    slug: &str,
    title: &'static str,
    detail: String,
    code: Option<&'static str>,
    errors: Vec<FieldError>,
) -> Response {
    let body = Problem {
        kind: format!("{TYPE_PREFIX}{slug}"),
        title,
        status: status.as_u16(),
        detail,
        code,
        errors,
    };
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

fn unauthenticated(message: String) -> Response {
    let mut response = problem(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "Unauthenticated",
        message,
        None,
        vec![],
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"skein\", error=\"invalid_token\""),
    );
    response
}

pub type ApiResult<T> = Result<T, ApiError>;
