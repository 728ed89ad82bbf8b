use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/info", get(info))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

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
