//! RFC 9457 problem details: the one place where errors become HTTP responses.
//! Internal detail goes to the log, never into a response.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use skein_core::Error;

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

pub use skein_core::problem::Problem;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = match self {
            ApiError::Domain(err) => {
                match &err {
                    Error::Unavailable(detail) => {
                        tracing::warn!(error = %detail, "request refused: a dependency is unavailable")
                    }
                    Error::Internal(detail) => tracing::error!(error = %detail, "request failed"),
                    _ => {}
                }
                Problem::from(err)
            }
            ApiError::BadRequest(message) => {
                Problem::new(400, "bad-request", "Bad request", message)
            }
            ApiError::UnsupportedMediaType(message) => Problem::new(
                415,
                "unsupported-media-type",
                "Unsupported media type",
                message,
            ),
            ApiError::RouteNotFound => Problem::new(
                404,
                "not-found",
                "Not found",
                "no such endpoint; see GET /v1/info for the API's entry points",
            ),
            ApiError::MethodNotAllowed => Problem::new(
                405,
                "method-not-allowed",
                "Method not allowed",
                "this path does not accept this method",
            ),
        };
        problem_response(problem)
    }
}

/// A problem as a response: its status, the problem+json body, and the `Retry-After` or
/// `WWW-Authenticate` header it calls for.
pub fn problem_response(problem: Problem) -> Response {
    let status =
        StatusCode::from_u16(problem.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let retry_after = problem.retry_after_seconds();
    let challenge = problem.challenge();
    let mut response = (status, axum::Json(problem)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(skein_core::problem::CONTENT_TYPE),
    );
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if let Some(challenge) = challenge {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    response
}

pub type ApiResult<T> = Result<T, ApiError>;
