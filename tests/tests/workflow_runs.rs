//! Workflows end to end over HTTP against the real dev server: DAG shapes, retries,
//! failures, map fan-out, sub-workflows, cancellation, idempotent starts.

mod common;

use common::upstream::Upstream;
use common::{TestApp, step, time_of};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn a_diamond_joins_both_branches_after_they_finish() {
    let app = TestApp::spawn().await;
    app.apply_ok(
        "
name: diamond
steps:
  - id: start
    builtin: echo
    input: { n: '{{ input.n }}' }
  - id: left
    builtin: transform
    with: { program: '.n * 2' }
    input: '{{ steps.start.output }}'
  - id: right
    builtin: transform
    with: { program: '.n + 1' }
    input: '{{ steps.start.output }}'
  - id: join
    builtin: template
    with: { template: 'left={{ input.l }} right={{ input.r }}' }
    input: { l: '{{ steps.left.output }}', r: '{{ steps.right.output }}' }
",
    )
    .await;
    let id = app.start_run("diamond", json!({"n": 5})).await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["output"], json!({"join": "left=10 right=6"}));
    let join = step(&run, "join");
    assert_eq!(join["depends_on"], json!(["left", "right"]));
    for branch in ["left", "right"] {
        assert!(time_of(&join["started_at"]) >= time_of(&step(&run, branch)["finished_at"]));
    }
}

#[tokio::test]
async fn a_wide_fan_out_runs_its_branches_at_the_same_time() {
    let app = TestApp::spawn().await;
    let upstream = Upstream::start().await;
    let mut yaml = String::from("name: wide\nsteps:\n  - id: root\n    builtin: echo\n");
    for i in 0..30 {
        yaml += &format!(
            "  - id: w{i}\n    builtin: http\n    with: {{ url: '{}/work?ms=300' }}\n    input: {{ i: {i}, from: '{{{{ steps.root.output }}}}' }}\n",
            upstream.url
        );
    }
    let joined: Vec<String> = (0..30).map(|i| format!("w{i}")).collect();
    yaml += &format!(
        "  - id: join\n    builtin: echo\n    depends_on: [{}]\n",
        joined.join(", ")
    );
    app.apply_ok(&yaml).await;
    let id = app.start_run("wide", json!({})).await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    // 30 steps of 300 ms each: in parallel they take about 300 ms, in series 9 s.
    let started = time_of(&step(&run, "w0")["started_at"]);
    let finished = (0..30)
        .map(|i| time_of(&step(&run, &format!("w{i}"))["finished_at"]))
        .max()
        .unwrap();
    assert!(
        (finished - started).num_milliseconds() < 3000,
        "the branches did not overlap: {run:#}"
    );
    assert_eq!(upstream.calls.count(""), 30);
}

#[tokio::test]
async fn a_step_starts_when_its_own_dependencies_finish_not_its_level() {
    // a -> c, a -> d, b -> d: not series-parallel. b is slow; c needs only a, so c must
    // start long before b finishes (level-by-level scheduling would hold c back for b).
    let app = TestApp::spawn().await;
    let upstream = Upstream::start().await;
    let url = &upstream.url;
    app.apply_ok(&format!(
        "
name: nshape
steps:
  - {{ id: a, builtin: echo }}
  - {{ id: b, builtin: http, with: {{ url: '{url}/work?ms=800' }} }}
  - {{ id: c, builtin: echo, depends_on: [a] }}
  - {{ id: d, builtin: echo, depends_on: [a, b] }}
"
    ))
    .await;
    let id = app.start_run("nshape", json!({})).await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let b_done = time_of(&step(&run, "b")["finished_at"]);
    assert!(
        time_of(&step(&run, "c")["finished_at"]) < b_done,
        "c waited for b: {run:#}"
    );
    assert!(time_of(&step(&run, "d")["started_at"]) >= b_done);
}

#[tokio::test]
async fn a_step_that_fails_then_succeeds_on_retry_shows_both_attempts() {
    let app = TestApp::spawn().await;
    let upstream = Upstream::start().await;
    app.apply_ok(&format!(
        "
name: flaky
steps:
  - id: call
    builtin: http
    with: {{ url: '{}/flaky', retries: 0 }}
    retry: {{ max_attempts: 3, backoff: 1s }}
",
        upstream.url
    ))
    .await;
    let id = app.start_run("flaky", json!({})).await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let attempts = step(&run, "call")["attempts"].as_array().unwrap().clone();
    assert_eq!(attempts.len(), 2, "{run:#}");
    assert_eq!(attempts[0]["error"]["error"], "Skein.AgentFailed");
    assert!(attempts[1].get("error").is_none());
    let gap = time_of(&attempts[1]["started_at"]) - time_of(&attempts[0]["finished_at"]);
    assert!(
        gap.num_milliseconds() >= 900,
        "the retry did not back off: {gap}"
    );
}

const FAILING: &str = "
name: failing
steps:
  - id: bad
    builtin: transform
    with: { program: 'error(\"the data is bad\")' }
    on_failure: ON_FAILURE
  - id: after
    builtin: echo
    input: { status: '{{ steps.bad.status }}', error: '{{ steps.bad.error.cause }}' }
";

#[tokio::test]
async fn a_failing_step_fails_the_run_and_its_dependents_never_start() {
    let app = TestApp::spawn().await;
    app.apply_ok(&FAILING.replace("ON_FAILURE", "fail_run"))
        .await;
    let id = app.start_run("failing", json!({})).await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["error"]["error"], "Skein.NonRetryable");
    assert!(
        run["error"]["cause"]
            .as_str()
            .unwrap()
            .contains("the data is bad"),
        "{run:#}"
    );
    assert_eq!(step(&run, "bad")["status"], "failed");
    assert_eq!(step(&run, "after")["status"], "cancelled");
    assert!(
        step(&run, "after")["attempts"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn on_failure_continue_lets_dependents_run_and_see_the_failure() {
    let app = TestApp::spawn().await;
    app.apply_ok(&FAILING.replace("ON_FAILURE", "continue"))
        .await;
    let id = app.start_run("failing", json!({})).await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(step(&run, "bad")["status"], "failed");
    let seen = &step(&run, "after")["output"];
    assert_eq!(seen["status"], "failed");
    assert!(seen["error"].as_str().unwrap().contains("the data is bad"));
}

const MAP: &str = "
name: fanout
steps:
  - id: list
    builtin: echo
    input: '{{ input.items }}'
  - id: each
    type: map
    builtin: transform
    with: { program: 'if .item == \"bad\" then error(\"cannot use \\(.item)\") else {n: .index, up: (.item | ascii_upcase)} end' }
    map: { over: '{{ steps.list.output }}', max_concurrency: 2, tolerated_failures: 2 }
    input: { item: '{{ item }}', index: '{{ index }}' }
";

#[tokio::test]
async fn a_map_step_tolerates_failures_up_to_its_limit() {
    let app = TestApp::spawn().await;
    app.apply_ok(MAP).await;
    let id = app
        .start_run("fanout", json!({"items": ["a", "bad", "c", "bad", "e"]}))
        .await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let each = step(&run, "each");
    assert_eq!(
        each["items"],
        json!({"total": 5, "succeeded": 3, "failed": 2})
    );
    assert_eq!(
        each["output"],
        json!([{"n": 0, "up": "A"}, null, {"n": 2, "up": "C"}, null, {"n": 4, "up": "E"}])
    );

    let id = app
        .start_run("fanout", json!({"items": ["bad", "bad", "bad", "d"]}))
        .await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(
        run["error"]["error"],
        "States.ExceedToleratedFailureThreshold"
    );
}

#[tokio::test]
async fn a_map_over_something_that_is_not_a_list_fails_clearly() {
    let app = TestApp::spawn().await;
    app.apply_ok(MAP).await;
    let id = app.start_run("fanout", json!({"items": {"a": 1}})).await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "failed");
    assert!(
        run["error"]["cause"]
            .as_str()
            .unwrap()
            .contains("is an object, not a list"),
        "{run:#}"
    );
}

#[tokio::test]
async fn a_sub_workflow_runs_as_a_step_and_hands_back_its_output() {
    let app = TestApp::spawn().await;
    app.apply_ok(
        "
name: child
output: '{{ steps.double.output }}'
steps:
  - { id: double, builtin: transform, with: { program: '. * 2' }, input: '{{ input.n }}' }
",
    )
    .await;
    app.apply_ok(
        "
name: parent
steps:
  - { id: sub, type: workflow, workflow: { name: child }, input: { n: '{{ input.n }}' } }
  - { id: after, builtin: echo, input: '{{ steps.sub.output }}' }
",
    )
    .await;
    let id = app.start_run("parent", json!({"n": 21})).await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["output"], json!({"after": 42}));
    let child_id = step(&run, "sub")["child_run"].as_str().unwrap().to_string();
    let (_, child) = app.get(&app.admin, &format!("/v1/runs/{child_id}")).await;
    assert_eq!(child["workflow"], "child");
    assert_eq!(
        child["parent"],
        json!({"run": id, "step": "sub", "depth": 1})
    );
}

#[tokio::test]
async fn starting_a_run_twice_with_one_idempotency_key_starts_it_once() {
    let app = TestApp::spawn().await;
    app.apply_ok("name: once\nsteps:\n  - { id: a, builtin: echo }\n")
        .await;
    let start = || {
        app.http
            .post(format!("{}/v1/workflows/once/runs", app.url))
            .bearer_auth(&app.admin)
            .header("idempotency-key", "nightly-2026-11-21")
            .json(&json!({"input": {"x": 1}}))
            .send()
    };
    let first = start().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let second = start().await.unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    assert_eq!(app.count_all(&app.admin, "/v1/runs?workflow=once").await, 1);
}

#[tokio::test]
async fn express_workflows_run_level_by_level_without_tokens() {
    let app = TestApp::spawn().await;
    let version = app
        .apply_ok(
            "
name: quick
mode: express
steps:
  - { id: a, builtin: echo, input: '{{ input }}' }
  - { id: b, builtin: transform, with: { program: '.x + 1' }, input: '{{ steps.a.output }}' }
  - { id: c, builtin: transform, with: { program: '.x * 10' }, input: '{{ steps.a.output }}' }
",
        )
        .await;
    assert!(!version["asl"].to_string().contains("waitForTaskToken"));
    let id = app.start_run("quick", json!({"x": 4})).await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["output"], json!({"b": 5, "c": 40}));
}

#[tokio::test]
async fn a_remote_agent_completes_its_step_by_completing_the_task() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("writer", &["write"]).await;
    app.apply_ok(
        "
name: remote
steps:
  - { id: draft, capability: write, input: { topic: '{{ input.topic }}' }, timeout: 30s }
  - { id: publish, builtin: echo, input: '{{ steps.draft.output.text }}' }
",
    )
    .await;
    let id = app.start_run("remote", json!({"topic": "tides"})).await;
    let (status, task) = app.claim(&agent, 10).await;
    assert_eq!(status, StatusCode::OK, "{task}");
    assert_eq!(task["input"], json!({"topic": "tides"}));
    assert_eq!(task["origin"]["step"], "draft");
    let task_id = task["id"].as_str().unwrap();
    let (status, _) = app
        .post(
            &agent.token,
            &format!("/v1/tasks/{task_id}/complete"),
            json!({"result": {"text": "Tides follow the moon."}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["output"], json!({"publish": "Tides follow the moon."}));
    assert_eq!(step(&run, "draft")["task"], task["id"]);
}

#[tokio::test]
async fn a_step_fails_clearly_when_its_agent_was_deleted_or_its_output_is_too_big() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("writer", &["write"]).await;
    app.apply_ok("name: gone\nsteps:\n  - { id: draft, agent: writer }\n")
        .await;
    assert_eq!(
        app.delete(&app.admin, &format!("/v1/agents/{}", agent.id))
            .await,
        StatusCode::NO_CONTENT
    );
    let run = app
        .finished_run(&app.start_run("gone", json!({})).await)
        .await;
    assert_eq!(run["status"], "failed");
    assert!(
        run["error"]["cause"]
            .as_str()
            .unwrap()
            .contains("agent `writer` no longer exists"),
        "{run:#}"
    );

    app.apply_ok("name: huge\nsteps:\n  - { id: big, builtin: transform, with: { program: '[range(0; 40000)] | map(\"0123456789\")' } }\n").await;
    let run = app
        .finished_run(&app.start_run("huge", json!({})).await)
        .await;
    assert_eq!(run["status"], "failed");
    assert!(
        run["error"]["cause"]
            .as_str()
            .unwrap()
            .contains("a step output is at most 262144"),
        "{run:#}"
    );
}

#[tokio::test]
async fn starting_with_wait_answers_with_the_finished_run_or_202_while_it_runs() {
    let app = TestApp::spawn().await;
    app.apply_ok("name: quick\nsteps:\n  - { id: double, builtin: transform, input: '{{ input }}', with: { program: '.n * 2' } }\n")
        .await;
    let (status, run) = app
        .post(
            &app.admin,
            "/v1/workflows/quick/runs?wait=10",
            json!({"input": {"n": 21}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"], json!({"double": 42}));

    app.apply_ok("name: gated\nsteps:\n  - { id: ok, type: approval }\n")
        .await;
    let (status, run) = app
        .post(
            &app.admin,
            "/v1/workflows/gated/runs?wait=1",
            json!({"input": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert_eq!(run["status"], "running");

    let (status, body) = app
        .post(
            &app.admin,
            "/v1/workflows/quick/runs?wait=21",
            json!({"input": {"n": 1}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, runs) = app.get(&app.admin, "/v1/runs?workflow=quick").await;
    assert_eq!(
        runs["items"].as_array().unwrap().len(),
        1,
        "a refused wait starts nothing"
    );
}
