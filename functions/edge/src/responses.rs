//! Answers the edge makes itself: the platform's problem+json, with the headers the
//! origin would send (`Retry-After`, `WWW-Authenticate`, the RateLimit fields).

use skein_core::Error;
use skein_core::limits::{Allowance, RateLimits};
use skein_core::problem::{self, Problem};
use worker::{Headers, Response, Result};

/// A domain error as the origin would answer it.
pub fn problem(err: Error) -> Result<Response> {
    let problem = Problem::from(err);
    let headers = Headers::new();
    headers.set("content-type", problem::CONTENT_TYPE)?;
    if let Some(seconds) = problem.retry_after_seconds() {
        headers.set("retry-after", &seconds.to_string())?;
    }
    if let Some(challenge) = problem.challenge() {
        headers.set("www-authenticate", challenge)?;
    }
    let body = serde_json::to_vec(&problem)?;
    Ok(Response::from_bytes(body)?
        .with_status(problem.status())
        .with_headers(headers))
}

/// The edge cannot serve because it is set up wrong; the detail goes to the log.
pub fn misconfigured(detail: &str) -> Result<Response> {
    worker::console_error!("the edge is misconfigured: {detail}");
    problem(Error::Unavailable(detail.to_string()))
}

/// Adds the RateLimit fields to a response whose headers may be immutable (one the
/// origin sent): the headers are copied first.
pub fn with_allowance(
    response: Response,
    allowance: &Allowance,
    limits: &RateLimits,
) -> Result<Response> {
    let headers = copy_headers(response.headers())?;
    for (name, value) in allowance.headers(limits) {
        headers.set(name, &value)?;
    }
    Ok(response.with_headers(headers))
}

pub fn copy_headers(from: &Headers) -> Result<Headers> {
    let headers = Headers::new();
    for (name, value) in from.entries() {
        headers.append(&name, &value)?;
    }
    Ok(headers)
}
