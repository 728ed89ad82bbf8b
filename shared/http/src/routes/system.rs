use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use skein_core::health::{Health, HealthReport};

use crate::extract::QueryParams;
use crate::problem::ApiResult;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/info", get(info))
        .route("/v1/openapi.json", get(openapi))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct HealthParams {
    /// `1` (or `true`): call the store, the messages queue and the engine once each, and
    /// answer 503 if any fails. Admins only.
    #[param(inline)]
    deep: Option<Depth>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
enum Depth {
    #[serde(rename = "1")]
    One,
    #[serde(rename = "true")]
    True,
    #[serde(rename = "0")]
    Zero,
    #[serde(rename = "false")]
    False,
}

/// Liveness: a constant answer that touches nothing (for load balancers and uptime
/// probes). With `?deep=1`, an admin's check of every component this server depends on.
#[utoipa::path(get, path = "/v1/health", tag = "system", params(HealthParams), security((), ("bearer" = [])),
    responses((status = 200, description = "up (and, when deep, every component answered)", body = HealthReport),
        (status = 503, description = "deep: a component did not answer", body = HealthReport)))]
async fn health(
    State(state): State<AppState>,
    QueryParams(params): QueryParams<HealthParams>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if !matches!(params.deep, Some(Depth::One | Depth::True)) {
        return Ok(Json(HealthReport {
            status: Health::Ok,
            checks: Vec::new(),
        })
        .into_response());
    }
    let caller = crate::extract::principal(&headers, &state).await?;
    let report = state.platform.deep_health(&caller).await?;
    let status = match report.status {
        Health::Ok => StatusCode::OK,
        Health::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    };
    Ok((status, Json(report)).into_response())
}

/// Version, build, adapters in use and where to authenticate.
#[utoipa::path(get, path = "/v1/info", tag = "system", security(), responses((status = 200, description = "deployment facts")))]
async fn info(State(state): State<AppState>) -> Json<Value> {
    let info = &state.info;
    let tokens = state
        .platform
        .access
        .tokens()
        .map(|tokens| tokens.settings());
    Json(json!({
        "name": "skein",
        "version": info.version,
        "build": info.build,
        "adapters": info.adapters,
        "auth": {
            "token_endpoint": "/v1/auth/token",
            "jwks_uri": "/.well-known/jwks.json",
            "algorithm": info.jwt_algorithm,
            "issuer": tokens.map(|settings| &settings.issuer),
            "audience": tokens.map(|settings| &settings.audience),
        },
        "resources": ["/v1/agents", "/v1/tasks", "/v1/clients"],
    }))
}

/// This API's OpenAPI 3.1 document, generated from the code.
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}
