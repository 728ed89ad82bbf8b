use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use tower_http::LatencyUnit;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::problem::ApiError;
use crate::state::AppState;

pub(crate) mod agents;
pub(crate) mod auth;
pub(crate) mod runs;
pub(crate) mod system;
pub(crate) mod tasks;
pub(crate) mod workflows;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole API. Each resource group is its own module with its own `routes()`, so that
/// an API Lambda can serve just its group.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(system::routes())
        .merge(auth::routes())
        .merge(agents::routes())
        .merge(tasks::routes())
        .merge(workflows::routes())
        .merge(runs::routes())
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
        .layer(DefaultBodyLimit::max(crate::MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            axum::response::IntoResponse::into_response(ApiError::Domain(
                skein_core::Error::Internal("panic".into()),
            ))
        }))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or(request.uri().path(), |p| p.as_str());
                let id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %request.method(), route, request_id = id,
                tenant = tracing::field::Empty, principal = tracing::field::Empty)
            })
            // One line per response at info: what a developer watching `skein dev` expects.
            .on_response(DefaultOnResponse::new().level(Level::INFO).latency_unit(LatencyUnit::Micros)),
        )
        .layer(SetSensitiveRequestHeadersLayer::new([
            axum::http::header::AUTHORIZATION,
        ]))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, UlidRequestId))
}

#[derive(Clone, Copy)]
struct UlidRequestId;

impl MakeRequestId for UlidRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&ulid::Ulid::new().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// 201 with `Location` for something new; 200 with `Idempotent-Replayed: true` when an
/// `Idempotency-Key` returned what an earlier request created.
pub(crate) fn created_or_replayed<T: serde::Serialize>(
    replayed: bool,
    location: String,
    body: T,
) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let status = if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut response = (status, [(header::LOCATION, location)], axum::Json(body)).into_response();
    if replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            header::HeaderValue::from_static("true"),
        );
    }
    response
}

/// The `Idempotency-Key` header, if sent.
pub(crate) fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<Option<&str>, ApiError> {
    headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::bad_request("Idempotency-Key must be ASCII"))
        })
        .transpose()
}

/// Long polls wait at most this long, like SQS's ReceiveMessage.
pub const MAX_WAIT: Duration = Duration::from_secs(20);
