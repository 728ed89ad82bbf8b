use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/info", get(info))
        .route("/v1/openapi.json", get(openapi))
}

/// Liveness.
#[utoipa::path(get, path = "/v1/health", tag = "system", security(), responses((status = 200, description = "up")))]
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Version, build, adapters in use and where to authenticate.
#[utoipa::path(get, path = "/v1/info", tag = "system", security(), responses((status = 200, description = "deployment facts")))]
async fn info(State(state): State<AppState>) -> Json<Value> {
    let info = &state.info;
    Json(json!({
        "name": "skein",
        "version": info.version,
        "build": info.build,
        "adapters": info.adapters,
        "auth": {
            "token_endpoint": "/v1/auth/token",
            "jwks_uri": "/.well-known/jwks.json",
            "algorithm": info.jwt_algorithm,
            "issuer": state.platform.access.tokens().settings().issuer,
            "audience": state.platform.access.tokens().settings().audience,
        },
        "resources": ["/v1/agents", "/v1/tasks", "/v1/clients"],
    }))
}

/// This API's OpenAPI 3.1 document, generated from the code.
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}
