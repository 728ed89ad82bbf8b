//! What a failed step says: an agent's long error message reaches the run clipped to
//! Step Functions' limits (32,768 characters of cause), the same on `skein dev` as on AWS.

mod common;

use common::{TestApp, step};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn an_agents_40_kib_error_message_fails_the_run_with_the_cause_clipped() {
    let app = TestApp::spawn().await;
    let writer = app.register_agent("writer", &[]).await;
    app.apply_ok("name: waits\nsteps:\n  - { id: draft, agent: writer }\n")
        .await;
    let id = app.start_run("waits", json!({})).await;
    let (status, task) = app.claim(&writer, 10).await;
    assert_eq!(status, StatusCode::OK, "{task}");
    let message = "e".repeat(40 * 1024);
    let (status, failed) = app
        .post(
            &writer.token,
            &format!("/v1/tasks/{}/fail", task["id"].as_str().unwrap()),
            json!({"error": {"code": "boom", "message": message}, "retryable": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{failed}");
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error"]["error"], "Skein.AgentFailed");
    for cause in [
        &run["error"]["cause"],
        &step(&run, "draft")["error"]["cause"],
    ] {
        let cause = cause.as_str().unwrap();
        assert_eq!(cause.chars().count(), skein_core::steps::MAX_CAUSE_CHARS);
        assert!(cause.ends_with(" [truncated]"));
    }
}
