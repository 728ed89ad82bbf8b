//! Messaging on AWS adapters against moto: api-messages handlers called with API Gateway
//! events, the messages queue in SQS, and the test playing Lambda's SQS event source for
//! the message-router (receive, build an `SqsEvent`, call the handler, delete what it did
//! not report as failed).

mod aws;

use std::sync::atomic::Ordering;

use aws::{Cloud, MESSAGE_MAX_RECEIVES};
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use serde_json::{Value, json};
use skein_http::ApiGroup;
use skein_lambda::message_router::MessageRouterFunction;

struct Agent {
    id: String,
    token: String,
}

async fn register(cloud: &Cloud, name: &str, capabilities: &[&str]) -> Agent {
    let body = json!({"name": name, "capabilities": capabilities});
    let (status, registered) = cloud
        .post(ApiGroup::Agents, &cloud.admin, "/v1/agents", body)
        .await;
    assert_eq!(status, 201, "{registered}");
    let id = registered["agent"]["id"].as_str().unwrap().to_string();
    let secret = registered["credentials"]["client_secret"].as_str().unwrap();
    let (status, token) = cloud.exchange(&id, secret).await;
    assert_eq!(status, 200, "{token}");
    Agent {
        id,
        token: token["access_token"].as_str().unwrap().to_string(),
    }
}

async fn inbox(cloud: &Cloud, agent: &Agent) -> Vec<Value> {
    let path = format!("/v1/agents/{}/inbox?visibility=0", agent.id);
    let (status, page) = cloud
        .api(
            ApiGroup::Messages,
            aws::api_event("GET", &path, Some(&agent.token), None),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["messages"].as_array().unwrap().clone()
}

/// One message-router invocation with `records`; returns the ids it reported as failed,
/// after deleting the others as the event source does.
/// The queued messages, once they are all there.
async fn queued(cloud: &Cloud, count: usize, visibility: i32) -> Vec<SqsMessage> {
    let mut received: Vec<SqsMessage> = Vec::new();
    for _ in 0..20 {
        for message in cloud
            .receive_from(&cloud.message_queue, 10, visibility)
            .await
        {
            if !received.iter().any(|m| m.message_id == message.message_id) {
                received.push(message);
            }
        }
        if received.len() >= count {
            break;
        }
    }
    assert_eq!(received.len(), count, "messages on the queue");
    received
}

#[tokio::test]
async fn direct_and_broadcast_messages_reach_inboxes_once_even_when_sqs_delivers_twice() {
    let cloud = Cloud::new().await;
    let router = MessageRouterFunction::new(&cloud.aws);
    let alice = register(&cloud, "alice", &["plan"]).await;
    let bob = register(&cloud, "bob", &["plan"]).await;
    let carol = register(&cloud, "carol", &["write"]).await;

    let path = format!("/v1/agents/{}/messages", bob.id);
    let (status, direct) = cloud
        .post(
            ApiGroup::Messages,
            &alice.token,
            &path,
            json!({"kind": "hello"}),
        )
        .await;
    assert_eq!(status, 202, "{direct}");
    let body = json!({"capability": "plan", "kind": "standup"});
    let (status, broadcast) = cloud
        .post(
            ApiGroup::Messages,
            &carol.token,
            "/v1/messages/broadcast",
            body,
        )
        .await;
    assert_eq!(status, 202, "{broadcast}");

    let messages = queued(&cloud, 2, 30).await;
    // The event source hands the same messages over twice (at-least-once delivery).
    assert!(cloud.route(&router, messages.clone()).await.is_empty());
    assert!(cloud.route(&router, messages).await.is_empty());

    let kinds = |entries: Vec<Value>| {
        let mut kinds: Vec<String> = entries
            .iter()
            .map(|e| e["message"]["kind"].as_str().unwrap().into())
            .collect();
        kinds.sort();
        kinds
    };
    assert_eq!(kinds(inbox(&cloud, &bob).await), ["hello", "standup"]);
    assert_eq!(kinds(inbox(&cloud, &alice).await), ["standup"]);
    assert!(
        inbox(&cloud, &carol).await.is_empty(),
        "the sender and non-matching agents get nothing"
    );
}

#[tokio::test]
async fn a_batch_reports_only_its_failed_messages_and_poison_ends_as_a_dead_letter_that_redrives() {
    let cloud = Cloud::new().await;
    let router = MessageRouterFunction::new(&cloud.aws);
    let bob = register(&cloud, "bob", &[]).await;
    let path = format!("/v1/agents/{}/messages", bob.id);
    let (status, sent) = cloud
        .post(
            ApiGroup::Messages,
            &cloud.admin,
            &path,
            json!({"kind": "job"}),
        )
        .await;
    assert_eq!(status, 202, "{sent}");
    aws_sdk_sqs::Client::new(&cloud.sdk)
        .send_message()
        .queue_url(&cloud.message_queue)
        .message_body("not an envelope")
        .send()
        .await
        .unwrap();

    // DynamoDB refuses the inbox writes: the good message fails too, alone in its report.
    cloud
        .store_calls
        .fail_transactions
        .store(true, Ordering::SeqCst);
    let batch = queued(&cloud, 2, 1).await;
    let failed = cloud.route(&router, batch.clone()).await;
    assert_eq!(failed.len(), 2, "both fail: {failed:?}");
    for _ in 1..MESSAGE_MAX_RECEIVES {
        let again: Vec<SqsMessage> = queued(&cloud, 2, 1).await;
        cloud.route(&router, again).await;
    }
    // At the last allowed receive the router keeps the message as a dead letter and lets
    // SQS delete it; the malformed one stays for the queue's own dead-letter queue.
    let left = queued(&cloud, 1, 30).await;
    assert_eq!(left[0].body.as_deref(), Some("not an envelope"));

    let (status, letters) = cloud.get(ApiGroup::Messages, "/v1/dead-letters").await;
    assert_eq!(status, 200, "{letters}");
    let letters = letters["items"].as_array().unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["message"]["id"], sent["id"]);
    assert_eq!(letters[0]["receives"], MESSAGE_MAX_RECEIVES);
    assert!(
        letters[0]["error"]
            .as_str()
            .unwrap()
            .contains("injected outage")
    );
    assert!(inbox(&cloud, &bob).await.is_empty());

    cloud
        .store_calls
        .fail_transactions
        .store(false, Ordering::SeqCst);
    let redrive = format!("/v1/dead-letters/{}/redrive", sent["id"].as_str().unwrap());
    let (status, redriven) = cloud
        .post(ApiGroup::Messages, &cloud.admin, &redrive, json!({}))
        .await;
    assert_eq!(
        (status, &redriven["attempt"]),
        (202, &json!(2)),
        "{redriven}"
    );
    // (The malformed one is still hidden by the receive above.)
    let redelivered = queued(&cloud, 1, 30).await;
    assert!(cloud.route(&router, redelivered).await.is_empty());
    let entries = inbox(&cloud, &bob).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["message"]["id"], sent["id"]);
    let (_, letters) = cloud.get(ApiGroup::Messages, "/v1/dead-letters").await;
    assert!(letters["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_sample_batch_for_an_agent_that_does_not_exist_becomes_a_dead_letter() {
    let cloud = Cloud::new().await;
    let router = MessageRouterFunction::new(&cloud.aws);
    let mut batch: SqsEvent =
        serde_json::from_value(aws::sample("message-router/batch.json")).unwrap();
    let mut body: Value = serde_json::from_str(batch.records[0].body.as_deref().unwrap()).unwrap();
    body["tenant"] = json!(aws::TENANT);
    batch.records[0].body = Some(body.to_string());
    let response = router.handle_batch(batch).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "retrying cannot help: not a failure"
    );
    let (_, letters) = cloud.get(ApiGroup::Messages, "/v1/dead-letters").await;
    let letters = letters["items"].as_array().unwrap();
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0]["error"]
            .as_str()
            .unwrap()
            .contains("no longer exists")
    );
}

#[tokio::test]
async fn a_message_past_its_ttl_is_dropped_by_the_router() {
    let cloud = Cloud::new().await;
    let router = MessageRouterFunction::new(&cloud.aws);
    let bob = register(&cloud, "bob", &[]).await;
    let path = format!("/v1/agents/{}/messages", bob.id);
    let body = json!({"kind": "flash", "ttl_seconds": 1});
    assert_eq!(
        cloud
            .post(ApiGroup::Messages, &cloud.admin, &path, body)
            .await
            .0,
        202
    );
    let messages = queued(&cloud, 1, 30).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(
        cloud.route(&router, messages).await.is_empty(),
        "expired: deleted, not retried"
    );
    assert!(inbox(&cloud, &bob).await.is_empty());
}
