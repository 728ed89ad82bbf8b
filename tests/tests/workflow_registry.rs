//! Registering workflows (versions, ASL, graph, schema), every way a definition or a run
//! input can be refused, and schedules, over HTTP against the real dev server.

mod common;

use std::time::Duration;

use common::TestApp;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

#[tokio::test]
async fn a_rate_schedule_starts_runs_by_itself() {
    let app = TestApp::spawn().await;
    app.apply_ok(
        "
name: ticker
schedule: { rate: 1s, input: { source: schedule } }
steps:
  - { id: tick, builtin: echo, input: '{{ input.source }}' }
",
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, page) = app
            .get(&app.admin, "/v1/runs?workflow=ticker&status=succeeded")
            .await;
        if page["items"].as_array().unwrap().len() >= 2 {
            assert_eq!(page["items"][0]["output"], json!({"tick": "schedule"}));
            assert_eq!(page["items"][0]["started_by"], "skein:scheduler");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scheduled runs: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[derive(Deserialize)]
struct InvalidCase {
    name: String,
    path: String,
    message: String,
    workflow: Value,
}

#[tokio::test]
async fn every_invalid_definition_is_refused_with_its_step_and_field() {
    let app = TestApp::spawn().await;
    app.register_agent("writer", &["summarize"]).await;
    app.apply_ok("name: child\nsteps:\n  - { id: a, builtin: echo }\n")
        .await;
    let cases: Vec<InvalidCase> = serde_norway::from_str(include_str!(
        "../../shared/core/tests/workflows/invalid.yaml"
    ))
    .unwrap();
    for case in cases {
        let (status, body) = app
            .apply(&serde_json::to_string(&case.workflow).unwrap())
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}: {body}",
            case.name
        );
        let errors = body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: {body}", case.name));
        assert!(
            errors.iter().any(|e| e["path"] == case.path.as_str()
                && e["message"].as_str().unwrap().contains(&case.message)),
            "{}: wanted {} {:?}, got {body:#}",
            case.name,
            case.path,
            case.message
        );
        let name = case.workflow["name"].as_str().unwrap_or("w");
        let (status, _) = app.get(&app.admin, &format!("/v1/workflows/{name}")).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{}: nothing is written",
            case.name
        );
    }
}

#[tokio::test]
async fn a_run_input_that_fails_the_input_schema_is_refused_with_its_path() {
    let app = TestApp::spawn().await;
    app.apply_ok(
        "
name: typed
input_schema:
  type: object
  required: [topic]
  properties:
    topic: { type: string, minLength: 3 }
    depth: { type: integer, maximum: 5 }
steps:
  - { id: a, builtin: echo }
",
    )
    .await;
    let (status, body) = app
        .post(
            &app.admin,
            "/v1/workflows/typed/runs",
            json!({"input": {"topic": "ab", "depth": 9}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let paths: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"$.input.topic") && paths.contains(&"$.input.depth"),
        "{body:#}"
    );
    assert_eq!(
        app.count_all(&app.admin, "/v1/runs?workflow=typed").await,
        0,
        "nothing is started"
    );
    let (status, _) = app
        .post(
            &app.admin,
            "/v1/workflows/typed/runs",
            json!({"input": {"topic": "tides"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn an_input_schema_that_is_not_json_schema_is_refused_at_registration() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .apply("name: mistyped\ninput_schema: { type: stringg }\nsteps:\n  - { id: a, builtin: echo }\n")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let error = &body["errors"][0];
    assert_eq!(error["path"], "$.input_schema", "{body:#}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("not a valid JSON Schema"),
        "{body:#}"
    );
    let (status, _) = app.get(&app.admin, "/v1/workflows/mistyped").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing is stored");
}

#[tokio::test]
async fn registering_again_makes_a_version_only_when_the_definition_changed() {
    let app = TestApp::spawn().await;
    let yaml = "name: versioned\nsteps:\n  - { id: a, builtin: echo }\n";
    assert_eq!(app.apply(yaml).await.0, StatusCode::CREATED);
    assert_eq!(app.apply(yaml).await.0, StatusCode::OK);
    let (status, v2) = app
        .apply(&yaml.replace("echo", "transform, with: { program: '.' }"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(v2["version"], 2);
    let (_, versions) = app
        .get(&app.admin, "/v1/workflows/versioned/versions")
        .await;
    assert_eq!(versions.as_array().unwrap().len(), 2);
    let (_, asl) = app
        .get(&app.admin, "/v1/workflows/versioned/versions/1/asl")
        .await;
    assert_eq!(asl["States"]["Run steps"]["Branches"][0]["StartAt"], "a");
    let graph = app
        .http
        .get(format!("{}/v1/workflows/versioned/graph", app.url))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert!(graph.text().await.unwrap().starts_with("flowchart TD"));
    let schema: Value = app
        .http
        .get(format!("{}/v1/schemas/workflow.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(schema["title"], "Skein workflow");
}
