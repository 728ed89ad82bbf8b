//! Messages between agents on `skein dev`: the API, the router on the SQLite messages
//! queue, inboxes with leases and acknowledgements, and a workflow that asks and waits.

mod common;

use std::time::{Duration, Instant};

use common::inbox::{ack, read, register, send};
use common::{TestApp, assert_problem};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_message_reaches_the_inbox_once_and_is_gone_after_its_ack() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (
        app.register_agent("alice", &[]).await,
        app.register_agent("bob", &[]).await,
    );
    let (status, sent) = send(
        &app,
        &alice.token,
        &bob,
        json!({"kind": "hello", "payload": {"n": 1}, "correlation_id": "c-1"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");

    let inbox = read(&app, &bob, "wait=10").await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let message = &inbox[0]["message"];
    assert_eq!(
        (
            &message["id"],
            &message["sender"],
            &message["kind"],
            &message["payload"],
            &message["correlation_id"]
        ),
        (
            &sent["id"],
            &json!(alice.id),
            &json!("hello"),
            &json!({"n": 1}),
            &json!("c-1")
        )
    );
    assert_eq!(inbox[0]["receives"], 1);
    assert_eq!(ack(&app, &bob, &inbox[0]).await, StatusCode::NO_CONTENT);
    assert_eq!(
        ack(&app, &bob, &inbox[0]).await,
        StatusCode::NO_CONTENT,
        "acking twice is fine"
    );
    assert!(read(&app, &bob, "wait=1&visibility=0").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_reaches_every_matching_agent_except_its_sender() {
    let app = TestApp::spawn().await;
    let sender = register(&app, "sender", &["research"], &["eu"]).await;
    let eu = register(&app, "eu-researcher", &["research"], &["eu"]).await;
    let us = register(&app, "us-researcher", &["research"], &["us"]).await;
    let writer = register(&app, "writer", &["write"], &["eu"]).await;

    let (status, sent) = app
        .post(
            &sender.token,
            "/v1/messages/broadcast",
            json!({"capability": "research", "kind": "news"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    let (status, tagged) = app
        .post(
            &sender.token,
            "/v1/messages/broadcast",
            json!({"capability": "research", "tags": ["eu"], "kind": "eu-news"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{tagged}");

    let kinds = |messages: Vec<Value>| {
        let mut kinds: Vec<String> = messages
            .iter()
            .map(|m| m["message"]["kind"].as_str().unwrap().to_string())
            .collect();
        kinds.sort();
        kinds
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut eu_kinds = Vec::new();
    while eu_kinds.len() < 2 && Instant::now() < deadline {
        eu_kinds.extend(kinds(read(&app, &eu, "wait=2&visibility=600").await));
    }
    eu_kinds.sort();
    assert_eq!(eu_kinds, ["eu-news", "news"]);
    assert_eq!(kinds(read(&app, &us, "wait=2").await), ["news"]);
    assert!(
        read(&app, &writer, "wait=0").await.is_empty(),
        "writer lacks the capability"
    );
    assert!(
        read(&app, &sender, "wait=0").await.is_empty(),
        "a sender does not get its own broadcast"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_message_comes_back_after_its_visibility_timeout() {
    let app = TestApp::spawn().await;
    let bob = app.register_agent("bob", &[]).await;
    send(&app, &app.admin, &bob, json!({"kind": "job"})).await;

    let first = read(&app, &bob, "wait=10&visibility=1").await;
    assert_eq!(first.len(), 1);
    assert!(
        read(&app, &bob, "wait=0").await.is_empty(),
        "leased: hidden from the next read"
    );
    let again = read(&app, &bob, "wait=10").await;
    assert_eq!(again.len(), 1, "back after the lease");
    assert_eq!(again[0]["message"]["id"], first[0]["message"]["id"]);
    assert_eq!(again[0]["receives"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_message_is_no_longer_shown() {
    let app = TestApp::spawn().await;
    let bob = app.register_agent("bob", &[]).await;
    send(
        &app,
        &app.admin,
        &bob,
        // Long enough to be delivered and read under a loaded test run, short enough to wait out.
        json!({"kind": "flash", "ttl_seconds": 3}),
    )
    .await;
    assert_eq!(read(&app, &bob, "wait=10&visibility=0").await.len(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !read(&app, &bob, "visibility=0").await.is_empty() {
        assert!(Instant::now() < deadline, "the message outlived its TTL");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_payloads_and_bad_fields_are_refused_and_nothing_is_sent() {
    let app = TestApp::spawn().await;
    let bob = app.register_agent("bob", &[]).await;
    let big = "x".repeat(70 * 1024);
    let (status, body) = send(
        &app,
        &app.admin,
        &bob,
        json!({"kind": "big", "payload": big}),
    )
    .await;
    assert_problem(&body, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large");
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        body["detail"].as_str().unwrap().contains("at most 65536"),
        "{body}"
    );

    let (status, body) = send(
        &app,
        &app.admin,
        &bob,
        json!({"kind": "", "ttl_seconds": 0}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app
        .post(
            &app.admin,
            "/v1/agents/agt_01JD8X3Q4W5E6R7T8Y9V0K1M2N/messages",
            json!({"kind": "hi"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(read(&app, &bob, "wait=1").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cannot_read_or_acknowledge_another_agents_inbox() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (
        app.register_agent("alice", &[]).await,
        app.register_agent("bob", &[]).await,
    );
    send(&app, &alice.token, &bob, json!({"kind": "secret"})).await;
    let inbox = read(&app, &bob, "wait=10&visibility=0").await;
    let (status, body) = app
        .get(&alice.token, &format!("/v1/agents/{}/inbox", bob.id))
        .await;
    assert_problem(&body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(status, StatusCode::FORBIDDEN);
    let path = format!(
        "/v1/agents/{}/inbox/{}/ack",
        bob.id,
        inbox[0]["message"]["id"].as_str().unwrap()
    );
    assert_eq!(
        app.post(&alice.token, &path, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(read(&app, &bob, "").await.len(), 1, "still there for bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_engages_per_principal_and_per_tenant_and_recovers() {
    let app = TestApp::spawn_with(|args| {
        args.rate_principal = Some("2/s".parse().unwrap());
        args.rate_tenant = Some("3/s".parse().unwrap());
    })
    .await;
    let (alice, bob) = (
        app.register_agent("alice", &[]).await,
        app.register_agent("bob", &[]).await,
    );
    // Registering used the admin's tokens; wait until the tenant's bucket is full again.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    // Each agent reads its own record.
    let get = |agent: &common::TestAgent| {
        let request = app
            .http
            .get(format!("{}/v1/agents/{}", app.url, agent.id))
            .bearer_auth(&agent.token);
        async move { request.send().await.unwrap() }
    };
    let first = get(&alice).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["ratelimit-limit"], "2");
    assert_eq!(get(&alice).await.status(), StatusCode::OK);
    let refused = get(&alice).await;
    assert_eq!(
        refused.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "alice's own bucket is empty"
    );
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(refused.headers()["ratelimit-remaining"], "0");
    assert!(
        refused.headers()["ratelimit-policy"]
            .to_str()
            .unwrap()
            .contains("name=\"tenant\"")
    );

    assert_eq!(
        get(&bob).await.status(),
        StatusCode::OK,
        "bob's first request"
    );
    let tenant_refused = get(&bob).await;
    assert_eq!(
        tenant_refused.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the tenant's 3 are spent"
    );
    let body: Value = tenant_refused.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("your tenant"),
        "{body}"
    );

    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(
        get(&alice).await.status(),
        StatusCode::OK,
        "recovered after Retry-After"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_asks_an_agent_and_waits_for_its_reply() {
    let app = TestApp::spawn().await;
    let reviewer = app.register_agent("reviewer", &[]).await;
    app.apply_ok(
        "name: ask-reviewer
steps:
  - { id: ask, builtin: message.send, input: { to: reviewer, kind: question, payload: '{{ input }}' } }
  - { id: answer, builtin: message.await, depends_on: [ask], timeout: 30s }
",
    )
    .await;
    let run = app.start_run("ask-reviewer", json!({"draft": "v1"})).await;
    let question = read(&app, &reviewer, "wait=10").await;
    assert_eq!(question.len(), 1);
    assert_eq!(question[0]["message"]["payload"], json!({"draft": "v1"}));
    assert_eq!(question[0]["message"]["correlation_id"], json!(run));
    let path = format!(
        "/v1/agents/{}/inbox/{}/reply",
        reviewer.id,
        question[0]["message"]["id"].as_str().unwrap()
    );
    let (status, reply) = app
        .post(
            &reviewer.token,
            &path,
            json!({"kind": "answer", "payload": {"approved": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    assert_eq!(reply["to"], json!({"type": "run", "run": run}));

    let finished = app.finished_run(&run).await;
    assert_eq!(finished["status"], "succeeded", "{finished:#}");
    let answer = common::step(&finished, "answer");
    assert_eq!(answer["output"]["payload"], json!({"approved": true}));
    assert_eq!(answer["output"]["sender"], json!(reviewer.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_never_comes_fails_the_waiting_step_at_its_timeout() {
    let app = TestApp::spawn().await;
    app.register_agent("silent", &[]).await;
    app.apply_ok(
        "name: unanswered
steps:
  - { id: ask, builtin: message.send, input: { to: silent, kind: question } }
  - { id: answer, builtin: message.await, depends_on: [ask], timeout: 1s, retry: { max_attempts: 1 } }
",
    )
    .await;
    let run = app.start_run("unanswered", json!({})).await;
    let finished = app.finished_run(&run).await;
    assert_eq!(finished["status"], "failed", "{finished:#}");
    let answer = common::step(&finished, "answer");
    assert_eq!(answer["error"]["error"], "Skein.Timeout", "{answer:#}");
}

/// A reply is recorded next to its waiting step before the step is ended: when the process
/// stops in between (simulated by recording one without ending the step), the replies
/// sweep ends the step with it instead of losing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_reply_that_did_not_end_its_step_is_carried_out_by_the_sweep() {
    use skein_core::ports::{Condition, Index, IndexKey, Item, ItemStore};
    let app = TestApp::spawn().await;
    let reviewer = app.register_agent("reviewer", &[]).await;
    app.apply_ok(
        "name: ask
steps:
  - { id: ask, builtin: message.send, input: { to: reviewer, kind: question } }
  - { id: answer, builtin: message.await, depends_on: [ask], timeout: 30s }
",
    )
    .await;
    let run = app.start_run("ask", json!({})).await;
    app.run_until(&run, "waiting for the reply", |r| {
        common::step(r, "answer")["status"] == "running"
    })
    .await;
    let store = app.server().local.store.clone();
    let tenant = skein_core::ids::TenantId::parse("default").unwrap();
    let run_id = skein_core::ids::RunId::parse(&run).unwrap();
    let key = skein_core::records::reply_key(&tenant, &run_id, &run);
    let meeting = loop {
        if let Some(item) = store.get(&key).await.unwrap() {
            break item;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut marked = Item::new(key.clone(), meeting.body.clone());
    marked.body.insert(
        "reply".into(),
        json!({
            "id": "msg_01JD8X3Q4W5E6R7T8Y9V0K1M2N", "tenant": "default", "sender": reviewer.id,
            "to": {"type": "run", "run": run}, "kind": "answer", "payload": {"approved": true},
            "correlation_id": run, "sent_at": "2026-12-01T00:00:00Z",
            "expires_at": "2099-01-01T00:00:00Z", "attempt": 1,
        }),
    );
    let due = IndexKey::new(
        skein_core::records::REPLIES_DUE_PK,
        format!("0000000000000#{}", key.pk),
    );
    store
        .put(
            marked.with_gsi(Index::Gsi2, Some(due)),
            Condition::VersionIs(meeting.version),
        )
        .await
        .unwrap();

    let finished = app.finished_run(&run).await;
    assert_eq!(finished["status"], "succeeded", "{finished:#}");
    let answer = common::step(&finished, "answer");
    assert_eq!(answer["output"]["payload"], json!({"approved": true}));
    assert!(
        store.get(&key).await.unwrap().is_none(),
        "removed once acted on"
    );
}
