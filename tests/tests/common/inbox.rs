//! Helpers for the messaging tests: send, read (long-poll) and acknowledge over HTTP.
#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{TestAgent, TestApp};

pub async fn send(app: &TestApp, from: &str, to: &TestAgent, body: Value) -> (StatusCode, Value) {
    app.post(from, &format!("/v1/agents/{}/messages", to.id), body)
        .await
}

/// Waits (long-polls) for the agent's inbox to show something.
pub async fn read(app: &TestApp, agent: &TestAgent, query: &str) -> Vec<Value> {
    let path = format!("/v1/agents/{}/inbox?{query}", agent.id);
    let (status, page) = app.get(&agent.token, &path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["messages"].as_array().unwrap().clone()
}

pub async fn ack(app: &TestApp, agent: &TestAgent, message: &Value) -> StatusCode {
    let path = format!(
        "/v1/agents/{}/inbox/{}/ack",
        agent.id,
        message["message"]["id"].as_str().unwrap()
    );
    app.post(&agent.token, &path, json!({})).await.0
}

pub async fn register(
    app: &TestApp,
    name: &str,
    capabilities: &[&str],
    tags: &[&str],
) -> TestAgent {
    let agent = app.register_agent(name, capabilities).await;
    let (status, body) = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/agents/{}", agent.id),
            Some(&app.admin),
            Some(json!({ "tags": tags })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    agent
}

/// Puts `message` (an envelope, as the send answered it) on the messages queue again, as
/// a redelivery would.
pub async fn queue_again(app: &TestApp, message: &Value) {
    use skein_core::ports::Queue;
    let body = skein_core::ports::OutgoingMessage::new(message.to_string());
    app.server()
        .local
        .messages_queue
        .send_batch(vec![body])
        .await
        .unwrap();
}
