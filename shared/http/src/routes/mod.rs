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
pub(crate) mod messages;
pub(crate) mod runs;
pub(crate) mod system;
pub(crate) mod tasks;
pub(crate) mod usage;
pub(crate) mod workflows;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The resource groups one API Lambda each serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiGroup {
    /// Agents, and the platform's identity and system routes (tokens, clients, health,
    /// info, OpenAPI, JWKS).
    Agents,
    /// Tasks, including an agent's claim.
    Tasks,
    /// Workflow definitions, versions, ASL, graphs and the definition schema.
    Workflows,
    /// Runs, their events and graphs, cancellation and approvals; LLM usage and budgets.
    Runs,
    /// Messages between agents: sends, broadcasts, inboxes and dead letters.
    Messages,
}

impl ApiGroup {
    pub const ALL: [ApiGroup; 5] = [
        Self::Agents,
        Self::Tasks,
        Self::Workflows,
        Self::Runs,
        Self::Messages,
    ];

    /// The group's routes. Each group is a function of its own ([`groups`]), so that a
    /// binary serving one group names it and links that group's handlers only.
    pub fn routes(self) -> fn() -> Router<AppState> {
        match self {
            Self::Agents => groups::agents,
            Self::Tasks => groups::tasks,
            Self::Workflows => groups::workflows,
            Self::Runs => groups::runs,
            Self::Messages => groups::messages,
        }
    }
}

/// The routes of each [`ApiGroup`].
pub mod groups {
    use axum::Router;

    use super::{agents as agent_routes, auth, system};
    use crate::state::AppState;

    pub fn agents() -> Router<AppState> {
        Router::new()
            .merge(system::routes())
            .merge(auth::routes())
            .merge(agent_routes::routes())
    }

    pub fn tasks() -> Router<AppState> {
        super::tasks::routes()
    }

    pub fn workflows() -> Router<AppState> {
        super::workflows::routes()
    }

    pub fn runs() -> Router<AppState> {
        super::runs::routes().merge(super::usage::routes())
    }

    pub fn messages() -> Router<AppState> {
        super::messages::routes()
    }

    /// A run's live events alone (also in [`runs`]): served streaming by `api-run-events`
    /// from its function URL, which no API Gateway route reaches.
    pub fn run_events() -> Router<AppState> {
        super::runs::event_routes()
    }
}

/// The whole API, as `skein dev` serves it.
pub fn router(state: AppState) -> Router {
    let all = ApiGroup::ALL
        .into_iter()
        .fold(Router::new(), |router, group| {
            router.merge(group.routes()())
        });
    with_layers(all, state)
}

/// One resource group, as its API Lambda serves it: the same handlers and layers.
/// `routes` is the group's function in [`groups`].
pub fn group_router(routes: impl FnOnce() -> Router<AppState>, state: AppState) -> Router {
    with_layers(routes(), state)
}

fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    let sources = state.sources.clone();
    let routes = routes
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::limit::rate_limit,
        ))
        .with_state(state);
    // Outside the handlers and the principal limiter, so a refused source costs nothing more.
    let routes = match sources {
        Some(limiter) => routes.layer(axum::middleware::from_fn_with_state(
            limiter,
            crate::source_limit::limit_sources,
        )),
        None => routes,
    };
    routes
        .layer(DefaultBodyLimit::max(crate::MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            axum::response::IntoResponse::into_response(ApiError::Domain(
                skein_core::Error::Internal("panic".into()),
            ))
        }))
        // Outside the panic catcher, so that a panic counts as the 500 it is answered with.
        .layer(axum::middleware::from_fn(crate::request_metrics::record))
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
                let span = tracing::info_span!("request", method = %request.method(), route, request_id = id,
                    tenant = tracing::field::Empty, principal = tracing::field::Empty,
                    otel.name = %format!("{} {route}", request.method()), otel.kind = "server");
                // A caller's trace continues here (W3C `traceparent`).
                skein_telemetry::continue_from_headers(&span, request.headers());
                span
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

/// A body that must not be cached (a token, a secret shown once).
pub(crate) fn no_store<T: serde::Serialize>(body: T) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
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
