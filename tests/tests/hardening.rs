//! The smaller ways a caller could learn or break something: no filesystem path without a
//! token, run idempotency keys checked like task keys, forged cursors refused as 400.

mod common;

use base64::Engine as _;
use common::{TestApp, assert_problem};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn the_unauthenticated_info_shows_no_path_on_the_machine() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .get(format!("{}/v1/info", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let dir = app.dir.path().to_str().unwrap();
    assert!(!text.contains(dir) && !text.contains("skein.db"), "{text}");
}

#[tokio::test]
async fn an_oversized_run_idempotency_key_is_refused_and_nothing_starts() {
    let app = TestApp::spawn().await;
    app.apply_ok("name: once\nsteps:\n  - { id: a, builtin: echo }\n")
        .await;
    let response = app
        .http
        .post(format!("{}/v1/workflows/once/runs", app.url))
        .bearer_auth(&app.admin)
        .header("idempotency-key", "k".repeat(2048))
        .json(&json!({"input": {}}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["errors"][0]["path"], "header.Idempotency-Key",
        "{body}"
    );
    let (_, runs) = app.get(&app.admin, "/v1/runs").await;
    assert_eq!(runs["items"], json!([]), "{runs}");
}

#[tokio::test]
async fn a_forged_cursor_that_decodes_is_still_a_400() {
    let app = TestApp::spawn().await;
    for position in [
        json!({"pk": "T#other#AGENT#x", "sk": "", "index_sk": "x"}),
        json!({"pk": "x".repeat(3000), "sk": "#", "index_sk": "x"}),
    ] {
        let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&position).unwrap());
        let (status, body) = app
            .get(&app.admin, &format!("/v1/agents?cursor={cursor}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_problem(&body, status, "bad-request");
    }
}

#[tokio::test]
async fn a_second_platform_on_a_data_dir_in_use_is_refused_until_the_first_stops() {
    use skein_cli::config::DevArgs;
    use skein_cli::dev::{DevError, LocalPlatform};

    let dir = tempfile::tempdir().unwrap();
    let mut args = DevArgs::for_data_dir(dir.path());
    args.local.jwt_secret = Some(common::SECRET.into());
    let first = LocalPlatform::open(&args.local).unwrap();
    let second = LocalPlatform::open(&args.local);
    match second {
        Err(error @ DevError::DataDirInUse { .. }) => {
            let said = error.to_string();
            assert!(said.contains("in use by another `skein dev`"), "{said}");
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("two platforms opened one data dir"),
    }
    drop(first);
    LocalPlatform::open(&args.local).expect("the data dir is free once the first stops");
}
