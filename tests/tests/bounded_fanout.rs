//! One tenant cannot make the platform start runs without end: sub-workflow cycles are
//! refused when registered, nesting is bounded when a run executes, and a schedule that
//! would never fire (or fire on every tick) is refused.

mod common;

use common::{TestApp, assert_problem, step};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn workflows_that_call_each_other_in_a_cycle_are_refused_naming_the_cycle() {
    let app = TestApp::spawn().await;
    app.apply_ok("name: pong\nsteps:\n  - { id: echo, builtin: echo }\n")
        .await;
    app.apply_ok(
        "name: ping\nsteps:\n  - { id: call, type: workflow, workflow: { name: pong } }\n",
    )
    .await;
    let (status, body) = app
        .apply("name: pong\nsteps:\n  - { id: back, type: workflow, workflow: { name: ping } }\n")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_problem(&body, status, "validation");
    assert_eq!(
        body["errors"][0]["path"], "$.steps[0].workflow.name",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("pong -> ping -> pong"),
        "{body}"
    );
    let (_, versions) = app.get(&app.admin, "/v1/workflows/pong/versions").await;
    assert_eq!(
        versions.as_array().unwrap().len(),
        1,
        "nothing was written: {versions}"
    );
}

#[tokio::test]
async fn a_chain_of_sub_workflows_deeper_than_the_limit_fails_with_depth_exceeded() {
    let app = TestApp::spawn().await;
    app.apply_ok("name: level-0\nsteps:\n  - { id: leaf, builtin: echo }\n")
        .await;
    for level in 1..=10 {
        app.apply_ok(&format!(
            "name: level-{level}\nsteps:\n  - {{ id: down, type: workflow, workflow: {{ name: level-{} }} }}\n",
            level - 1
        ))
        .await;
    }
    let id = app.start_run("level-10", json!({})).await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "failed", "{run:#}");
    // The failure surfaces through each parent; the innermost names the limit.
    let cause = run["error"]["cause"].as_str().unwrap();
    assert!(
        cause.contains("Skein.DepthExceeded") && cause.contains("at most 8 deep"),
        "{cause}"
    );
    assert_eq!(step(&run, "down")["status"], "failed");
    let (_, runs) = app.get(&app.admin, "/v1/runs?limit=100").await;
    assert_eq!(
        runs["items"].as_array().unwrap().len(),
        9,
        "top-level run and 8 nested: {runs}"
    );
}

#[tokio::test]
async fn a_cron_that_never_fires_is_refused() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .apply(
            "name: never\nschedule: { cron: '0 0 30 2 *' }\nsteps:\n  - { id: a, builtin: echo }\n",
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["path"], "$.schedule.cron", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("never fire"),
        "{body}"
    );
}

#[tokio::test]
async fn a_tenant_past_its_runs_in_flight_quota_gets_429_until_one_ends() {
    let app = TestApp::spawn_with(|args| args.local.quota_runs_in_flight = 2).await;
    app.apply_ok(
        "name: waits\nsteps:\n  - { id: ok, type: approval, approval: { message: 'go?' } }\n",
    )
    .await;
    let first = app.start_run("waits", json!({})).await;
    app.start_run("waits", json!({})).await;
    let (status, body) = app
        .post(&app.admin, "/v1/workflows/waits/runs", json!({"input": {}}))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_problem(&body, status, "quota-exceeded");

    let (status, _) = app
        .post(&app.admin, &format!("/v1/runs/{first}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.run_until(&first, "cancelled", |r| r["status"] == "cancelled")
        .await;
    app.start_run("waits", json!({})).await;
}

#[tokio::test]
async fn a_map_over_more_items_than_the_quota_fails_its_step_naming_the_quota() {
    let app = TestApp::spawn_with(|args| args.local.quota_map_items = 3).await;
    app.apply_ok(
        "
name: wide
steps:
  - id: each
    type: map
    builtin: echo
    map: { over: '{{ input.items }}' }
",
    )
    .await;
    let id = app
        .start_run("wide", json!({"items": [1, 2, 3, 4, 5]}))
        .await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["error"]["error"], "Skein.QuotaExceeded", "{run:#}");
    let small = app.start_run("wide", json!({"items": [1, 2, 3]})).await;
    assert_eq!(app.finished_run(&small).await["status"], "succeeded");
}

#[tokio::test]
async fn a_schedule_more_frequent_than_the_quota_is_refused() {
    let app = TestApp::spawn_with(|args| {
        args.local.quota_schedule_interval =
            skein_core::workflows::duration::HumanDuration::parse("1m").unwrap()
    })
    .await;
    let (status, body) = app
        .apply("name: busy\nschedule: { rate: 10s }\nsteps:\n  - { id: a, builtin: echo }\n")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["path"], "$.schedule.rate", "{body}");
    app.apply_ok(
        "name: hourly\nschedule: { cron: '0 * * * *' }\nsteps:\n  - { id: a, builtin: echo }\n",
    )
    .await;
}
