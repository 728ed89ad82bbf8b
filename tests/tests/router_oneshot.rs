//! The HTTP router driven with `oneshot`, no listener: the routes `skein dev` serves, over
//! the platform it assembles, answering as the API documents.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use skein_cli::config::DevArgs;
use skein_cli::dev::LocalPlatform;
use skein_core::ids::TenantId;
use tower::ServiceExt;

struct Router {
    app: axum::Router,
    admin: String,
    _dir: tempfile::TempDir,
}

async fn router() -> Router {
    let dir = tempfile::tempdir().unwrap();
    let mut args = DevArgs::for_data_dir(dir.path());
    args.local.jwt_secret = Some("router-secret-router-secret-0123456".into());
    let local = LocalPlatform::open(&args.local).unwrap();
    let tenant = TenantId::parse("default").unwrap();
    local
        .platform
        .access
        .bootstrap_tenant(&tenant)
        .await
        .unwrap();
    let admin = local
        .admin_token(&args.local, &tenant, std::time::Duration::from_secs(600))
        .unwrap();
    let state = local.app_state(&args);
    Router {
        app: skein_http::router(state),
        admin,
        _dir: dir,
    }
}

async fn send(
    router: &Router,
    request: Request<Body>,
) -> (StatusCode, Value, axum::http::HeaderMap) {
    let response = router.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    )
}

#[tokio::test]
async fn health_answers_without_a_token() {
    let router = router().await;
    let request = Request::get("/v1/health").body(Body::empty()).unwrap();
    let (status, body, _) = send(&router, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_route_that_needs_a_token_says_so_as_problem_json() {
    let router = router().await;
    let request = Request::get("/v1/agents").body(Body::empty()).unwrap();
    let (status, body, headers) = send(&router, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(body["status"], 401);
}

#[tokio::test]
async fn a_bad_body_names_what_to_fix_and_nothing_is_created() {
    let router = router().await;
    let request = Request::post("/v1/agents")
        .header(header::AUTHORIZATION, format!("Bearer {}", router.admin))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"name": "x", "capabilities": "not a list"}"#))
        .unwrap();
    let (status, body, _) = send(&router, request).await;
    assert!(status.is_client_error(), "{status} {body}");
    assert!(body["detail"].is_string(), "{body}");
    let request = Request::get("/v1/agents")
        .header(header::AUTHORIZATION, format!("Bearer {}", router.admin))
        .body(Body::empty())
        .unwrap();
    let (status, body, _) = send(&router, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"], json!([]), "{body}");
}

#[tokio::test]
async fn an_unknown_run_is_a_404_problem() {
    let router = router().await;
    let request = Request::get("/v1/runs/run_01M8RS4YNSFCA8BRWHR7ZTFRAR")
        .header(header::AUTHORIZATION, format!("Bearer {}", router.admin))
        .body(Body::empty())
        .unwrap();
    let (status, body, _) = send(&router, request).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["status"], 404);
}
