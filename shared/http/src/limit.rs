//! The rate-limit layer: every request with a valid bearer token takes a token from its
//! principal's and its tenant's buckets before any handler runs. Answers carry
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`; a refusal is 429 with
//! `Retry-After`. Requests without a valid token pass through to the auth extractor's 401.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use skein_core::Error;
use skein_core::limits::Allowance;

use crate::problem::ApiError;
use crate::state::AppState;

pub(crate) async fn rate_limit(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limits = state.limiter.limits();
    if limits.principal.is_none() && limits.tenant.is_none() {
        return next.run(request).await;
    }
    let principal =
        bearer(request.headers()).and_then(|t| state.platform.access.verify_token(t).ok());
    let Some(principal) = principal else {
        return next.run(request).await;
    };
    match state.limiter.admit(&principal).await {
        Ok(allowance) => {
            let mut response = next.run(request).await;
            if let Some(allowance) = allowance {
                set_headers(response.headers_mut(), allowance, &state);
            }
            response
        }
        Err(Error::RateLimited {
            message,
            retry_after_seconds,
        }) => {
            skein_core::metrics::rate_limit_refused(skein_core::metrics::LimitScope::Token);
            let mut response = ApiError::Domain(Error::RateLimited {
                message,
                retry_after_seconds,
            })
            .into_response();
            let refused = Allowance::refused(&limits, retry_after_seconds);
            set_headers(response.headers_mut(), refused, &state);
            response
        }
        Err(e) => {
            // Fail closed: a limit that lapses whenever the store is slow is no limit, and
            // the store is then the very thing to spare.
            tracing::warn!(error = %e, "rate limiter unavailable; request refused");
            ApiError::Domain(Error::Unavailable(
                "the rate limiter could not be consulted; retry shortly".into(),
            ))
            .into_response()
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

fn set_headers(headers: &mut HeaderMap, allowance: Allowance, state: &AppState) {
    for (name, value) in allowance.headers(&state.limiter.limits()) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}
