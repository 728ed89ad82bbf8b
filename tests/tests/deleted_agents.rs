//! Deleting an agent does not leave work waiting for it: the steps and tasks addressed to
//! it fail with a cause that names it.

mod common;

use common::{TestApp, step};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn deleting_the_agent_a_step_waits_for_ends_the_run_with_a_cause_naming_it() {
    let app = TestApp::spawn().await;
    let queued_for = app.register_agent("writer", &["write"]).await;
    app.apply_ok("name: waits\nsteps:\n  - { id: draft, agent: writer }\n")
        .await;
    let id = app.start_run("waits", json!({})).await;
    app.run_until(&id, "a task for its step", |r| {
        !step(r, "draft")["task"].is_null()
    })
    .await;
    assert_eq!(
        app.delete(&app.admin, &format!("/v1/agents/{}", queued_for.id))
            .await,
        StatusCode::NO_CONTENT
    );
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["error"]["error"], "Skein.AgentGone", "{run:#}");
    let cause = run["error"]["cause"].as_str().unwrap();
    assert!(
        cause.contains(queued_for.id.as_str()) && cause.contains("deleted"),
        "{cause}"
    );
}

#[tokio::test]
async fn a_task_the_deleted_agent_had_claimed_fails_when_its_lease_ends() {
    let app = TestApp::spawn().await;
    let holder = app.register_agent("holder", &[]).await;
    let task = app
        .create_task(json!({"agent": holder.id, "timeout_seconds": 1, "max_attempts": 3}))
        .await;
    let (status, _) = app.claim(&holder, 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.delete(&app.admin, &format!("/v1/agents/{}", holder.id))
            .await,
        StatusCode::NO_CONTENT
    );
    let id = task["id"].as_str().unwrap();
    let ended = app
        .task_until(id, "failed", |t| t["status"] == "failed")
        .await;
    assert_eq!(ended["error"]["code"], "agent_deleted", "{ended}");
}
