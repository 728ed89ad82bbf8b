//! Signals that get lost on the way still end the run: a task whose completion was
//! stored but never reported to its run, and a step whose answer never reached the engine.

mod common;

use chrono::Duration;
use common::{TestApp, step};
use serde_json::json;
use skein_core::Principal;
use skein_core::auth::Role;
use skein_core::ids::{AgentId, PrincipalId, TaskId, TenantId};
use skein_core::tasks::TaskCompletion;

#[tokio::test]
async fn a_finished_task_whose_run_was_never_told_is_passed_on_by_the_sweep() {
    let app = TestApp::spawn().await;
    let writer = app.register_agent("writer", &[]).await;
    app.apply_ok("name: told\nsteps:\n  - { id: draft, agent: writer }\n")
        .await;
    let id = app.start_run("told", json!({})).await;
    let run = app
        .run_until(&id, "a task for its step", |r| {
            !step(r, "draft")["task"].is_null()
        })
        .await;
    let task = step(&run, "draft")["task"].as_str().unwrap().to_string();
    let (status, claimed) = app.claim(&writer, 0).await;
    assert_eq!(status, 200, "{claimed}");

    // The completion is stored, as the HTTP handler stores it, but the process "stops"
    // before it tells the run: the platform's use case is called without the report.
    let agent = Principal {
        tenant: TenantId::parse("default").unwrap(),
        id: PrincipalId::agent(&AgentId::parse(&writer.id).unwrap()),
        roles: vec![Role::Agent],
    };
    let completion = TaskCompletion {
        result: json!({"text": "done"}),
        lease_id: None,
        usage: None,
    };
    app.server()
        .local
        .platform
        .tasks
        .complete(&agent, &TaskId::parse(&task).unwrap(), completion)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, waiting) = app.get(&app.admin, &format!("/v1/runs/{id}")).await;
    assert_eq!(
        waiting["status"], "running",
        "not reported yet: {waiting:#}"
    );

    // Past the report's grace period the sweep finds the task and tells the run.
    app.clock.advance(Duration::seconds(31));
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["output"]["draft"]["text"], "done", "{run:#}");
}

#[tokio::test]
async fn values_larger_than_a_stored_item_are_kept_apart_and_the_run_succeeds() {
    let app = TestApp::spawn().await;
    app.apply_ok(common::large_values::WORKFLOW).await;
    let id = app.start_run("big", common::large_values::input()).await;
    let run = app.finished_run(&id).await;
    common::large_values::check(&run);
    // The listing shows the output too.
    let (_, listed) = app.get(&app.admin, "/v1/runs?workflow=big").await;
    assert_eq!(listed["items"][0]["output"], run["output"]);
}
