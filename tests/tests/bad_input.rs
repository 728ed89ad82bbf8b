//! Bad input gets a 4xx problem that says what to fix, and nothing is written.

mod common;

use common::{TestApp, assert_problem};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn raw(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let response = app
        .http
        .post(format!("{}{path}", app.url))
        .bearer_auth(&app.admin)
        .header("content-type", content_type)
        // The server may refuse a body without reading it, then closes the connection.
        .header("connection", "close")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        content_type, "application/problem+json",
        "errors are problem+json"
    );
    (status, response.json().await.unwrap())
}

async fn assert_nothing_written(app: &TestApp) {
    assert_eq!(
        app.count_all(&app.admin, "/v1/agents").await,
        0,
        "no agent was written"
    );
    assert_eq!(
        app.count_all(&app.admin, "/v1/tasks").await,
        0,
        "no task was written"
    );
}

fn paths(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_the_wrong_shape_gets_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({"name": "Has Spaces"}),
            "$.name",
            "not a valid agent name",
        ),
        (
            json!({"name": "ok", "capabilities": ["fine", "not fine"]}),
            "$.capabilities[1]",
            "not a valid capability",
        ),
        (
            json!({"name": "ok", "capabilities": "one"}),
            "$.capabilities",
            "invalid type",
        ),
        (
            json!({"name": "ok", "nmae": "typo"}),
            "$.nmae",
            "unknown field `nmae`, expected one of `name`",
        ),
        (json!({"kind": "llm"}), "$", "missing field `name`"),
        (
            json!({"name": "ok", "config": [1, 2]}),
            "$.config",
            "must be a JSON object",
        ),
    ];
    for (body, path, message) in cases {
        let (status, problem) = app.post(&app.admin, "/v1/agents", body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert_problem(&problem, status, "validation");
        let error = &problem["errors"][0];
        assert_eq!(error["path"], path, "{body}: {problem}");
        assert!(
            error["message"].as_str().unwrap().contains(message),
            "{body}: {problem}"
        );
    }
    assert_nothing_written(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalid_field_of_a_task_is_reported_at_once() {
    let app = TestApp::spawn().await;
    let body = json!({"capability": "x", "agent": "agt_01M7ZDNZAMYD1P87B7MRN4T17N", "timeout_seconds": 0, "max_attempts": 1000});
    let (status, problem) = app.post(&app.admin, "/v1/tasks", body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        paths(&problem),
        ["$.timeout_seconds", "$.max_attempts", "$.capability"]
    );

    let (status, problem) = app
        .post(&app.admin, "/v1/tasks", json!({"input": {}}))
        .await;
    assert_eq!(
        (status, paths(&problem)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["$.agent".to_string()]
        )
    );
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("capability"),
        "says how to fix it: {problem}"
    );

    let (status, problem) = app
        .post(
            &app.admin,
            "/v1/tasks",
            json!({"agent": "agt_01M7ZDNZAMYD1P87B7MRN4T17N"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an unknown agent: {problem}"
    );
    let (status, problem) = app
        .post(&app.admin, "/v1/tasks", json!({"agent": "bob"}))
        .await;
    assert_eq!(
        (status, paths(&problem)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["$.agent".to_string()]
        )
    );
    assert_nothing_written(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_and_wrong_media_types_are_refused() {
    let app = TestApp::spawn().await;
    let (status, problem) = raw(
        &app,
        "/v1/agents",
        "application/json",
        "{\"name\": \"x\",\n  oops}",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"].as_str().unwrap().contains("line 2"),
        "points at the error: {problem}"
    );
    let (status, _) = raw(&app, "/v1/agents", "application/json", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = raw(
        &app,
        "/v1/agents",
        "application/json",
        "{\"name\": \"x\"} {}",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, problem) = raw(&app, "/v1/agents", "text/plain", "{\"name\": \"x\"}").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{problem}");
    assert_nothing_written(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_and_inputs_get_413() {
    let app = TestApp::spawn().await;
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let (status, _) = raw(&app, "/v1/agents", "application/json", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let input = json!({"capability": "x", "input": {"blob": "y".repeat(300 * 1024)}});
    let (status, problem) = app.post(&app.admin, "/v1/tasks", input).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("limit is 262144"),
        "{problem}"
    );
    assert_nothing_written(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_query_parameters_and_routes_get_clear_problems() {
    let app = TestApp::spawn().await;
    let (status, problem) = app.get(&app.admin, "/v1/agents/bob").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("expected `agt_`"),
        "{problem}"
    );
    let (status, problem) = app.get(&app.admin, "/v1/tasks?status=done").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"].as_str().unwrap().contains("status"),
        "{problem}"
    );
    let (status, _) = app.get(&app.admin, "/v1/agents?limit=5000").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, problem) = app.get(&app.admin, "/v1/nothing-here").await;
    assert_problem(&problem, StatusCode::NOT_FOUND, "not-found");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, problem) = app
        .call(Method::PUT, "/v1/agents", Some(&app.admin), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_problem(&problem, status, "method-not-allowed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_info_describe_the_deployment() {
    let app = TestApp::spawn().await;
    let (status, health) = app.call(Method::GET, "/v1/health", None, None).await;
    assert_eq!(
        (status, health["status"].clone()),
        (StatusCode::OK, json!("ok"))
    );
    let (_, info) = app.call(Method::GET, "/v1/info", None, None).await;
    assert_eq!(info["adapters"]["store"], "sqlite");
    assert_eq!(info["auth"]["algorithm"], "HS256");
    assert!(info["version"].is_string());
    let response = app
        .http
        .get(format!("{}/v1/health", app.url))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers().contains_key("x-request-id"),
        "every response carries a request id"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route() {
    let app = TestApp::spawn().await;
    let (status, doc) = app.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let routes = [
        ("post", "/v1/auth/token"),
        ("get", "/.well-known/jwks.json"),
        ("post", "/v1/clients"),
        ("post", "/v1/agents"),
        ("get", "/v1/agents"),
        ("get", "/v1/agents/{id}"),
        ("patch", "/v1/agents/{id}"),
        ("delete", "/v1/agents/{id}"),
        ("post", "/v1/agents/{id}/heartbeat"),
        ("post", "/v1/agents/{id}/tasks/claim"),
        ("post", "/v1/tasks"),
        ("get", "/v1/tasks"),
        ("get", "/v1/tasks/{id}"),
        ("post", "/v1/tasks/{id}/heartbeat"),
        ("post", "/v1/tasks/{id}/complete"),
        ("post", "/v1/tasks/{id}/fail"),
        ("get", "/v1/health"),
        ("get", "/v1/info"),
    ];
    for (method, path) in routes {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is documented"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    app.stop().await;
}

/// A deployment that names its models (`SKEIN_LLM_MODELS`; on AWS with Bedrock, what the
/// role may invoke) refuses a workflow whose `llm` step names another, saying where.
#[tokio::test]
async fn an_llm_step_naming_a_model_the_deployment_does_not_allow_is_refused() {
    let app = TestApp::spawn_with(|args| {
        args.local.llm_base_url = Some("http://127.0.0.1:9/v1".into());
        args.local.llm_models = vec!["gpt-4o".into()];
    })
    .await;
    let (status, body) = app
        .apply("name: pricey\nsteps:\n  - { id: ask, builtin: llm, with: { prompt: hi, model: o1-pro } }\n")
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["path"], "$.steps[0].with.model", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "`o1-pro` is not a model this deployment may use; use one of gpt-4o-mini, gpt-4o"
        ),
        "{message}"
    );
    for model in ["gpt-4o", "gpt-4o-mini"] {
        app.apply_ok(&format!(
            "name: ok-{model}\nsteps:\n  - {{ id: ask, builtin: llm, with: {{ prompt: hi, model: {model} }} }}\n"
        ))
        .await;
    }
}
