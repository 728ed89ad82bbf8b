//! Approvals, cancellation and live events, over HTTP against the real dev server.

mod common;

use std::time::Duration;

use common::{TestApp, step};
use reqwest::StatusCode;
use serde_json::json;

const REVIEWED: &str = "
name: reviewed
steps:
  - { id: draft, builtin: template, with: { template: 'Report on {{ input.topic }}' }, input: '{{ input }}' }
  - id: review
    type: approval
    approval: { message: 'Publish \"{{ steps.draft.output }}\"?', timeout: TIMEOUT }
    depends_on: [draft]
  - { id: publish, builtin: echo, input: { text: '{{ steps.draft.output }}', by: '{{ steps.review.output.by }}' } }
";

async fn waiting_for_review(app: &TestApp) -> String {
    app.apply_ok(&REVIEWED.replace("TIMEOUT", "1h")).await;
    let id = app.start_run("reviewed", json!({"topic": "tides"})).await;
    app.run_until(&id, "awaiting approval", |r| {
        step(r, "review")["status"] == "awaiting_approval"
    })
    .await;
    id
}

#[tokio::test]
async fn an_approved_step_lets_the_run_go_on() {
    let app = TestApp::spawn().await;
    let id = waiting_for_review(&app).await;
    let (_, pending) = app.get(&app.admin, "/v1/approvals").await;
    let pending = pending.as_array().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["message"], "Publish \"Report on tides\"?");
    assert!(
        pending[0].get("token").is_none(),
        "the task token must not leak"
    );
    let graph = app
        .http
        .get(format!("{}/v1/runs/{id}/graph", app.url))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        graph.contains("class s0 succeeded") && graph.contains("class s1 awaiting_approval"),
        "{graph}"
    );
    let (status, _) = app
        .post(
            &app.admin,
            &format!("/v1/runs/{id}/steps/review/approve"),
            json!({"comment": "ship it"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(step(&run, "review")["output"]["comment"], "ship it");
    assert_eq!(
        run["output"]["publish"]["by"],
        app.seeded_admin.client_id.as_str()
    );
    let (status, body) = app
        .post(
            &app.admin,
            &format!("/v1/runs/{id}/steps/review/approve"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a second decision: {body}");
    assert!(
        app.get(&app.admin, "/v1/approvals")
            .await
            .1
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_rejected_step_fails_the_run_with_the_comment() {
    let app = TestApp::spawn().await;
    let id = waiting_for_review(&app).await;
    let (status, _) = app
        .post(
            &app.admin,
            &format!("/v1/runs/{id}/steps/review/reject"),
            json!({"comment": "wrong numbers"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error"]["error"], "Skein.ApprovalRejected");
    assert!(
        run["error"]["cause"]
            .as_str()
            .unwrap()
            .ends_with(": wrong numbers")
    );
    assert_eq!(step(&run, "publish")["status"], "cancelled");
}

#[tokio::test]
async fn an_undecided_approval_times_out() {
    let app = TestApp::spawn().await;
    app.apply_ok(&REVIEWED.replace("TIMEOUT", "1s")).await;
    let id = app.start_run("reviewed", json!({"topic": "tides"})).await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error"]["error"], "Skein.ApprovalTimedOut");
}

#[tokio::test]
async fn only_an_assignee_may_decide_an_assigned_approval() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("reviewer", &["review"]).await;
    app.apply_ok(&format!(
        "
name: assigned
steps:
  - {{ id: ok, type: approval, approval: {{ assignees: ['{}'] }} }}
",
        agent.id
    ))
    .await;
    let id = app.start_run("assigned", json!({})).await;
    app.run_until(&id, "awaiting approval", |r| {
        step(r, "ok")["status"] == "awaiting_approval"
    })
    .await;
    let other = app.register_agent("bystander", &["x"]).await;
    assert!(
        app.get(&other.token, "/v1/approvals")
            .await
            .1
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (status, _) = app
        .post(
            &other.token,
            &format!("/v1/runs/{id}/steps/ok/approve"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get(&agent.token, "/v1/approvals")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (status, body) = app
        .post(
            &agent.token,
            &format!("/v1/runs/{id}/steps/ok/approve"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.finished_run(&id).await["status"], "succeeded");
}

#[tokio::test]
async fn a_cancelled_run_ends_cancelled_and_so_do_its_waiting_steps() {
    let app = TestApp::spawn().await;
    let id = waiting_for_review(&app).await;
    let (status, body) = app
        .post(&app.admin, &format!("/v1/runs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "cancelled");
    assert_eq!(step(&run, "review")["status"], "cancelled");
    assert!(
        app.get(&app.admin, "/v1/approvals")
            .await
            .1
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (status, _) = app
        .post(&app.admin, &format!("/v1/runs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

/// Reads an SSE stream until it ends, returning (id, event type) pairs.
async fn read_events(
    app: &TestApp,
    id: &str,
    last_event_id: Option<&str>,
) -> Vec<(String, String)> {
    let mut request = app
        .http
        .get(format!("{}/v1/runs/{id}/events", app.url))
        .bearer_auth(&app.admin);
    if let Some(last) = last_event_id {
        request = request.header("last-event-id", last);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = String::new();
    let mut response = response;
    let read = async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            body.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("the stream ends when the run does");
    body.split("\n\n")
        .filter_map(|frame| {
            let field = |name: &str| {
                frame
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim().to_string())
            };
            Some((field("id:")?, field("event:")?))
        })
        .collect()
}

#[tokio::test]
async fn run_events_stream_live_and_resume_after_last_event_id() {
    let app = TestApp::spawn().await;
    let id = waiting_for_review(&app).await;
    let approve = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.post(
            &app.admin,
            &format!("/v1/runs/{id}/steps/review/approve"),
            json!({}),
        )
        .await
    };
    let (events, _) = tokio::join!(read_events(&app, &id, None), approve);
    let kinds: Vec<&str> = events.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"run.started"));
    assert_eq!(kinds.last(), Some(&"run.succeeded"), "{kinds:?}");
    for expected in [
        "step.started",
        "step.succeeded",
        "approval.requested",
        "approval.decided",
    ] {
        assert!(
            kinds.contains(&expected),
            "{expected} missing from {kinds:?}"
        );
    }
    let (middle_id, _) = &events[events.len() / 2];
    let resumed = read_events(&app, &id, Some(middle_id)).await;
    assert_eq!(resumed, events[events.len() / 2 + 1..].to_vec());
}

/// A decision is recorded on its approval before it is acted on: when the process stops
/// in between (simulated here by recording one the way `decide` does, without acting),
/// the approvals sweep carries it out instead of losing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_decision_that_was_not_acted_on_is_carried_out_by_the_sweep() {
    use skein_core::ports::{Condition, Index, IndexKey, ItemStore};
    let app = TestApp::spawn().await;
    app.apply_ok(
        "name: gate\nsteps:\n  - { id: ok, type: approval }\n  - { id: after, builtin: echo, depends_on: [ok] }\n",
    )
    .await;
    let id = app.start_run("gate", json!({})).await;
    app.run_until(&id, "awaiting approval", |r| {
        step(r, "ok")["status"] == "awaiting_approval"
    })
    .await;
    let store = app.server().local.store.clone();
    let tenant = skein_core::ids::TenantId::parse("default").unwrap();
    let run = skein_core::ids::RunId::parse(&id).unwrap();
    let key = skein_core::records::approval_key(&tenant, &run, "ok");
    let item = store
        .get(&key)
        .await
        .unwrap()
        .expect("the approval is pending");
    let mut marked = skein_core::ports::Item::new(key.clone(), item.body.clone());
    marked.body.insert(
        "decision".into(),
        json!({"outcome": "approved", "by": "cli_01M7ZDNXVHNS4SDK4KZBA72F5A"}),
    );
    let due = IndexKey::new(
        skein_core::records::APPROVALS_DUE_PK,
        format!("0000000000000#{}#ok", key.pk),
    );
    marked = marked.with_gsi(Index::Gsi2, Some(due));
    store
        .put(marked, Condition::VersionIs(item.version))
        .await
        .unwrap();

    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert!(
        store.get(&key).await.unwrap().is_none(),
        "removed once acted on"
    );
    let (status, _) = app
        .post(
            &app.admin,
            &format!("/v1/runs/{id}/steps/ok/approve"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing left to decide");
}
