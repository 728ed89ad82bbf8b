//! Agents and tasks over HTTP against the real dev server.

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_claims_a_task_completes_it_and_the_client_reads_the_result() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("summarizer", &["summarize"]).await;
    let task = app
        .create_task(json!({"capability": "summarize", "input": {"text": "hello"}}))
        .await;
    assert_eq!(task["status"], "queued");

    let (status, claimed) = app.claim(&agent, 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            claimed["id"].clone(),
            claimed["status"].clone(),
            claimed["attempts"].clone()
        ),
        (task["id"].clone(), json!("claimed"), json!(1))
    );
    assert_eq!(claimed["lease"]["agent"], agent.id.as_str());

    let path = format!("/v1/tasks/{}/complete", task["id"].as_str().unwrap());
    let body = json!({"result": {"summary": "hi"}, "lease_id": claimed["lease"]["id"]});
    let (status, done) = app.post(&agent.token, &path, body.clone()).await;
    assert_eq!(
        (status, done["status"].clone()),
        (StatusCode::OK, json!("succeeded"))
    );

    let (_, fetched) = app
        .get(
            &app.admin,
            &format!("/v1/tasks/{}", task["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(fetched["result"], json!({"summary": "hi"}));
    assert!(fetched["finished_at"].is_string() && fetched["lease"].is_null());

    let (status, again) = app.post(&agent.token, &path, body).await;
    assert_eq!(
        (status, again["status"].clone()),
        (StatusCode::OK, json!("succeeded")),
        "a retried completion answers the same"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_for_one_agent_is_not_offered_to_another_with_the_same_capability() {
    let app = TestApp::spawn().await;
    let alice = app.register_agent("alice", &["write"]).await;
    let bob = app.register_agent("bob", &["write"]).await;
    app.create_task(json!({"agent": alice.id, "input": 1}))
        .await;
    assert_eq!(app.claim(&bob, 0).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.claim(&alice, 0).await.0, StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_claim_returns_as_soon_as_a_task_arrives() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("waiter", &["wait"]).await;
    let started = Instant::now();
    let claim = app.claim(&agent, 20);
    let create = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.create_task(json!({"capability": "wait"})).await
    };
    let ((status, claimed), created) = tokio::join!(claim, create);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(claimed["id"], created["id"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "woke on arrival, took {:?}",
        started.elapsed()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_queue_answers_204_after_the_wait() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("idle", &[]).await;
    let (status, _) = app.claim(&agent, 1).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.claim(&agent, 21).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_requeues_the_task_until_max_attempts_then_it_fails() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("flaky", &["flaky"]).await;
    let task = app
        .create_task(json!({"capability": "flaky", "timeout_seconds": 1, "max_attempts": 2}))
        .await;
    let id = task["id"].as_str().unwrap();

    let (_, first) = app.claim(&agent, 0).await;
    let requeued = app
        .task_until(id, "queued again", |t| t["status"] == "queued")
        .await;
    assert_eq!(requeued["attempts"], 1);
    assert_eq!(requeued["error"]["code"], "lease_expired");

    let stale = json!({"result": "late", "lease_id": first["lease"]["id"]});
    let (status, body) = app
        .post(&agent.token, &format!("/v1/tasks/{id}/complete"), stale)
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "the first lease is gone: {body}"
    );
    assert_eq!(body["code"], "task-not-claimed");

    let (_, second) = app.claim(&agent, 0).await;
    assert_eq!(second["attempts"], 2);
    let failed = app
        .task_until(id, "failed", |t| t["status"] == "failed")
        .await;
    assert_eq!(failed["error"]["code"], "lease_expired");
    assert_eq!(
        app.claim(&agent, 0).await.0,
        StatusCode::NO_CONTENT,
        "a failed task is never offered again"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_a_lease_alive() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("steady", &["slow"]).await;
    let task = app
        .create_task(json!({"capability": "slow", "timeout_seconds": 2}))
        .await;
    let id = task["id"].as_str().unwrap();
    app.claim(&agent, 0).await;
    // 8 beats 400 ms apart outlast the 2 s lease several times over, with slack for a slow machine.
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let (status, body) = app
            .call(
                Method::POST,
                &format!("/v1/tasks/{id}/heartbeat"),
                Some(&agent.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, task) = app.get(&app.admin, &format!("/v1/tasks/{id}")).await;
    assert_eq!(
        (task["status"].clone(), task["attempts"].clone()),
        (json!("claimed"), json!(1))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reported_failure_is_retried_while_attempts_remain_unless_marked_final() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("worker", &["job"]).await;
    let task = app
        .create_task(json!({"capability": "job", "max_attempts": 2}))
        .await;
    let id = task["id"].as_str().unwrap();
    let fail = json!({"error": {"code": "rate_limited", "message": "try later"}});

    app.claim(&agent, 0).await;
    let (_, after_first) = app
        .post(&agent.token, &format!("/v1/tasks/{id}/fail"), fail.clone())
        .await;
    assert_eq!(after_first["status"], "queued");
    app.claim(&agent, 0).await;
    let (_, after_second) = app
        .post(&agent.token, &format!("/v1/tasks/{id}/fail"), fail)
        .await;
    assert_eq!(
        (
            after_second["status"].clone(),
            after_second["error"]["code"].clone()
        ),
        (json!("failed"), json!("rate_limited"))
    );

    let other = app
        .create_task(json!({"capability": "job", "max_attempts": 5}))
        .await;
    let other_id = other["id"].as_str().unwrap();
    app.claim(&agent, 0).await;
    let final_failure =
        json!({"error": {"code": "bad_input", "message": "cannot parse"}, "retryable": false});
    let (_, ended) = app
        .post(
            &agent.token,
            &format!("/v1/tasks/{other_id}/fail"),
            final_failure,
        )
        .await;
    assert_eq!(ended["status"], "failed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unclaimed_task_expires_at_its_deadline() {
    let app = TestApp::spawn().await;
    let task = app
        .create_task(json!({"capability": "nobody-has-this", "ttl_seconds": 1}))
        .await;
    let expired = app
        .task_until(task["id"].as_str().unwrap(), "expired", |t| {
            t["status"] == "expired"
        })
        .await;
    assert_eq!(expired["error"]["code"], "expired");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_creates_one_task_and_replays_it() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("once", &["once"]).await;
    let body = json!({"agent": agent.id, "input": {"n": 1}});
    let send = |body: serde_json::Value| {
        app.http
            .post(format!("{}/v1/tasks", app.url))
            .bearer_auth(&app.admin)
            .header("Idempotency-Key", "order-42")
            .json(&body)
            .send()
    };
    let first = send(body.clone()).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: serde_json::Value = first.json().await.unwrap();
    let replay = send(body.clone()).await.unwrap();
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replay: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(replay["id"], first["id"]);

    let reused = send(json!({"agent": agent.id, "input": {"n": 2}}))
        .await
        .unwrap();
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.count_all(&app.admin, "/v1/tasks").await,
        1,
        "exactly one task exists"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_paginate_with_opaque_cursors_and_filter() {
    let app = TestApp::spawn().await;
    for i in 0..7 {
        let caps: &[&str] = if i % 2 == 0 { &["even"] } else { &["odd"] };
        app.register_agent(&format!("agent-{i}"), caps).await;
    }
    let (_, page) = app.get(&app.admin, "/v1/agents?limit=3").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert!(page["next_cursor"].is_string());
    assert_eq!(app.count_all(&app.admin, "/v1/agents?limit=3").await, 7);
    assert_eq!(
        app.count_all(&app.admin, "/v1/agents?limit=2&capability=even")
            .await,
        4
    );

    for i in 0..5 {
        app.create_task(json!({"capability": "even", "input": i}))
            .await;
    }
    let (_, newest) = app.get(&app.admin, "/v1/tasks?limit=1").await;
    assert_eq!(newest["items"][0]["input"], 4, "tasks list newest first");
    assert_eq!(
        app.count_all(&app.admin, "/v1/tasks?limit=2&status=queued")
            .await,
        5
    );
    assert_eq!(
        app.count_all(&app.admin, "/v1/tasks?status=succeeded")
            .await,
        0
    );

    let (status, body) = app.get(&app.admin, "/v1/agents?cursor=not-a-cursor").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_are_updated_paused_heartbeated_and_deleted() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("researcher", &["search"]).await;
    let path = format!("/v1/agents/{}", agent.id);

    let (status, dup) = app
        .post(&app.admin, "/v1/agents", json!({"name": "researcher"}))
        .await;
    assert_eq!(
        (status, dup["code"].clone()),
        (StatusCode::CONFLICT, json!("agent-name-taken"))
    );

    let (status, beat) = app
        .post(&agent.token, &format!("{path}/heartbeat"), json!({}))
        .await;
    assert_eq!(
        (status, beat["online"].clone()),
        (StatusCode::OK, json!(true))
    );

    let patch =
        json!({"name": "researcher-2", "capabilities": ["search", "cite"], "status": "paused"});
    let (status, updated) = app
        .call(Method::PATCH, &path, Some(&app.admin), Some(patch))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["capabilities"], json!(["cite", "search"]));
    // Pausing stops the agent's tokens at once (credentials.rs covers resuming).
    let (status, body) = app.claim(&agent, 0).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("paused"),
        "{body}"
    );
    // The old name is free again after the rename.
    app.register_agent("researcher", &[]).await;

    let (status, _) = app
        .call(Method::DELETE, &path, Some(&app.admin), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&app.admin, &path).await.0, StatusCode::NOT_FOUND);
    let (status, _) = app.exchange(&agent.id, &agent.secret).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a deleted agent's credentials stop working"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart_of_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let app = TestApp::spawn_with(|args| args.local.data_dir = path.clone()).await;
    let agent = app.register_agent("durable", &["keep"]).await;
    let task = app
        .create_task(json!({"capability": "keep", "input": "persist me"}))
        .await;
    app.stop().await;

    let mut args = skein_cli::config::DevArgs::for_data_dir(&path);
    args.local.jwt_secret = Some(common::SECRET.into());
    let server = skein_cli::dev::DevServer::start(&args).await.unwrap();
    assert!(
        server.seeded_admin.is_none(),
        "a restart does not seed a second admin"
    );
    let url = format!("{}/v1/agents/{}/tasks/claim?wait=0", server.url(), agent.id);
    let claimed: serde_json::Value = reqwest::Client::new()
        .post(url)
        .bearer_auth(&agent.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (claimed["id"].clone(), claimed["input"].clone()),
        (task["id"].clone(), json!("persist me"))
    );
    server.shutdown().await;
}
