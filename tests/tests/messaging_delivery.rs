//! Messages delivered more than once, and messages that cannot be delivered: the router on
//! the SQLite queue of a real dev server, its dead letters and their redrive.

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use common::inbox::{ack, queue_again, read, send};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_message_never_makes_a_second_inbox_entry_even_after_its_ack() {
    let app = TestApp::spawn().await;
    let bob = app.register_agent("bob", &[]).await;
    let (_, sent) = send(&app, &app.admin, &bob, json!({"kind": "once"})).await;
    assert_eq!(read(&app, &bob, "wait=10&visibility=0").await.len(), 1);
    queue_again(&app, &sent).await;
    queue_again(&app, &sent).await;
    let marker = send(&app, &app.admin, &bob, json!({"kind": "marker"}))
        .await
        .1;
    // Once the later message is in, the queue has routed the copies before it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut inbox = read(&app, &bob, "visibility=0").await;
    while !inbox.iter().any(|e| e["message"]["id"] == marker["id"]) {
        assert!(Instant::now() < deadline);
        inbox = read(&app, &bob, "wait=1&visibility=0").await;
    }
    assert_eq!(inbox.len(), 2, "one entry per message: {inbox:?}");
    let once = inbox
        .iter()
        .find(|e| e["message"]["id"] == sent["id"])
        .unwrap();
    assert_eq!(ack(&app, &bob, once).await, StatusCode::NO_CONTENT);
    queue_again(&app, &sent).await;
    let again = send(&app, &app.admin, &bob, json!({"kind": "marker-2"}))
        .await
        .1;
    let mut kinds = Vec::new();
    while !kinds.iter().any(|k| k == "marker-2") {
        assert!(Instant::now() < deadline);
        kinds = read(&app, &bob, "wait=1&visibility=0")
            .await
            .iter()
            .map(|e| e["message"]["kind"].as_str().unwrap().to_string())
            .collect();
    }
    kinds.sort();
    assert_eq!(
        kinds,
        ["marker", "marker-2"],
        "the acknowledged message stays gone ({again})"
    );
}

/// A process that stops while it routes a message (a crash, `kill -9`) leaves it received
/// and hidden; the next process on the data dir routes it at once, not once the dead
/// receive's visibility timeout (30 s) runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_being_routed_when_the_server_stopped_is_routed_at_the_next_start() {
    use skein_core::ports::{OutgoingMessage, Queue};
    use skein_local::{MESSAGES_QUEUE, QueueSettings, SqliteDb, SqliteQueue};

    let mut app = TestApp::spawn().await;
    let bob = app.register_agent("bob", &[]).await;
    let (_, mut unrouted) = send(&app, &app.admin, &bob, json!({"kind": "first"})).await;
    unrouted["id"] = json!(skein_core::ids::MessageId::from_ulid(ulid::Ulid::new()));
    unrouted["kind"] = json!("cut-off");
    app.restart_after(|data_dir| async move {
        // As the router had it: received, under a 30 s visibility, never deleted.
        let db = std::sync::Arc::new(SqliteDb::open_dir(&data_dir).unwrap());
        let queue = SqliteQueue::new(db, MESSAGES_QUEUE, QueueSettings::default());
        let body = unrouted.to_string();
        queue
            .send_batch(vec![OutgoingMessage::new(body.clone())])
            .await
            .unwrap();
        // The first message may still be in the queue too (the stop can cut off its
        // routing or its delete); it is taken alike, and must be routed alike.
        let taken = queue
            .receive(10, Duration::from_secs(30), Duration::ZERO)
            .await
            .unwrap();
        assert!(taken.iter().any(|m| m.body == body), "{taken:?}");
    })
    .await;

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut kinds = Vec::new();
    while !["first", "cut-off"]
        .iter()
        .all(|kind| kinds.iter().any(|k| k == kind))
    {
        assert!(
            Instant::now() < deadline,
            "a message cut off by the stop was not routed: {kinds:?}"
        );
        kinds = read(&app, &bob, "wait=1&visibility=0")
            .await
            .iter()
            .map(|e| {
                e["message"]["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_for_a_deleted_agent_becomes_a_dead_letter_admins_see_and_redrive() {
    let app = TestApp::spawn().await;
    let bob = app.register_agent("bob", &[]).await;
    let (_, sent) = send(&app, &app.admin, &bob, json!({"kind": "late"})).await;
    read(&app, &bob, "wait=10").await;
    let (status, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/agents/{}", bob.id),
            Some(&app.admin),
            None,
        )
        .await;
    assert!(status.is_success(), "{status}");
    queue_again(&app, &sent).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let letters = loop {
        let (status, page) = app.get(&app.admin, "/v1/dead-letters").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        if !page["items"].as_array().unwrap().is_empty() {
            break page["items"].as_array().unwrap().clone();
        }
        assert!(Instant::now() < deadline, "no dead letter");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(letters[0]["message"]["id"], sent["id"]);
    assert!(
        letters[0]["error"]
            .as_str()
            .unwrap()
            .contains("no longer exists"),
        "{letters:?}"
    );
    let agent = app.register_agent("carol", &[]).await;
    let (status, body) = app.get(&agent.token, "/v1/dead-letters").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "agents do not see dead letters: {body}"
    );

    let path = format!("/v1/dead-letters/{}/redrive", sent["id"].as_str().unwrap());
    let (status, redriven) = app.post(&app.admin, &path, json!({})).await;
    assert_eq!(
        (status, &redriven["attempt"]),
        (StatusCode::ACCEPTED, &json!(2)),
        "{redriven}"
    );
}
