//! Tenants cannot reach each other's workflows through the engine: state machine names
//! never collide, and an existing machine is never silently given another definition.

mod common;

use common::{SECRET, TestApp, claims, forge};
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn admin_of(tenant: &str) -> String {
    forge(
        &claims(
            tenant,
            "cli_01M7ZDNXVHNS4SDK4KZBA72F5A",
            &["admin"],
            "skein-api",
            300,
        ),
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
}

async fn apply_as(app: &TestApp, token: &str, yaml: &str) -> Value {
    let (status, body) = app.apply_as(token, yaml).await;
    assert!(status.is_success(), "apply: {status} {body}");
    body
}

async fn run_as(app: &TestApp, token: &str, workflow: &str) -> Value {
    let (status, run) = app
        .post(
            token,
            &format!("/v1/workflows/{workflow}/runs"),
            json!({"input": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let path = format!("/v1/runs/{}", run["id"].as_str().unwrap());
    loop {
        let (_, run) = app.get(token, &path).await;
        if run["status"] != "running" {
            return run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn workflows_whose_names_run_together_across_tenants_stay_apart() {
    let app = TestApp::spawn().await;
    let (acme, acme_b) = (admin_of("acme"), admin_of("acme-b"));
    let first = apply_as(
        &app,
        &acme,
        "name: b-c\nsteps:\n  - { id: who, builtin: transform, with: { program: '{tenant: \"acme\"}' } }\n",
    )
    .await;
    let second = apply_as(
        &app,
        &acme_b,
        "name: c\nsteps:\n  - { id: who, builtin: transform, with: { program: '{tenant: \"acme-b\"}' } }\n",
    )
    .await;
    assert_ne!(first["machine"], second["machine"], "{first} {second}");

    let run = run_as(&app, &acme, "b-c").await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["output"]["who"]["tenant"], "acme", "{run:#}");
    let run = run_as(&app, &acme_b, "c").await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["output"]["who"]["tenant"], "acme-b", "{run:#}");
}
