//! Agents over WebSocket at the edge: messages and task offers pushed as they arrive,
//! acknowledged and completed over the same socket.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::stack::Stack;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An agent registered through the origin, with a token of its own.
pub struct Agent {
    pub id: String,
    pub token: String,
}

pub async fn register(stack: &Stack, name: &str) -> Agent {
    let (_, registered) = stack
        .call(
            Method::POST,
            &stack.url(&stack.origin, "/v1/agents"),
            &stack.admin,
            Some(json!({"name": name, "capabilities": ["summarize"]})),
        )
        .await;
    let credentials = json!({
        "grant_type": "client_credentials",
        "client_id": registered["credentials"]["client_id"],
        "client_secret": registered["credentials"]["client_secret"],
    });
    let token_url = stack.url(&stack.origin, "/v1/auth/token");
    let (_, token) = stack
        .call(Method::POST, &token_url, "", Some(credentials))
        .await;
    Agent {
        id: registered["agent"]["id"].as_str().unwrap().to_string(),
        token: token["access_token"].as_str().unwrap().to_string(),
    }
}

pub async fn open_stream(stack: &Stack, agent: &str, token: &str) -> Result<Socket, String> {
    let url = stack
        .url(&stack.edge, &format!("/v1/agents/{agent}/stream"))
        .replace("http://", "ws://");
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
        .map_err(|e| e.to_string())
}

/// The next JSON object of this type down the socket, and when it came.
pub async fn next_of(socket: &mut Socket, kind: &str) -> (Value, Instant) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} came down the agent's stream"))
            .expect("the agent's stream closed")
            .unwrap();
        let at = Instant::now();
        if let Message::Text(text) = message
            && let Ok(value) = serde_json::from_str::<Value>(&text)
            && value["type"] == kind
        {
            return (value, at);
        }
    }
}

pub async fn send(socket: &mut Socket, command: Value) {
    socket
        .send(Message::Text(command.to_string().into()))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_gets_messages_and_tasks_over_its_stream_and_answers_on_it() {
    let stack = Stack::start("1000/s", "10000/s").await;
    let agent = register(&stack, "streamer").await;
    let other = register(&stack, "bystander").await;

    // Only the agent itself may open its stream.
    let refused = open_stream(&stack, &agent.id, &other.token).await;
    assert!(
        refused.unwrap_err().contains("403"),
        "another agent opened the stream"
    );
    let refused = open_stream(&stack, &agent.id, &stack.admin).await;
    assert!(
        refused.unwrap_err().contains("403"),
        "a client opened an agent's stream"
    );
    let mut socket = open_stream(&stack, &agent.id, &agent.token).await.unwrap();
    // Let the object's long polls reach the origin before sending.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A message: pushed down the socket, acknowledged up it.
    let sent_at = Instant::now();
    let sent = stack
        .http
        .post(stack.url(&stack.edge, &format!("/v1/agents/{}/messages", agent.id)))
        .bearer_auth(&other.token)
        .json(&json!({"kind": "note", "payload": {"hello": "over the stream"}}))
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success(), "{:?}", sent.text().await);
    let (pushed, arrived) = next_of(&mut socket, "message").await;
    eprintln!(
        "edge: a message reached its agent's stream {:?} after it was sent",
        arrived - sent_at
    );
    // An inbox entry, as GET /v1/agents/{id}/inbox gives it.
    let message = &pushed["message"]["message"];
    assert_eq!(
        message["payload"],
        json!({"hello": "over the stream"}),
        "{pushed}"
    );
    let message_id = message["id"].as_str().unwrap().to_string();
    send(&mut socket, json!({"op": "ack", "id": message_id})).await;
    let (acked, _) = next_of(&mut socket, "result").await;
    assert_eq!(acked["status"], 204, "{acked}");
    let inbox_url = stack.url(&stack.origin, &format!("/v1/agents/{}/inbox", agent.id));
    let (_, inbox) = stack
        .call(Method::GET, &inbox_url, &agent.token, None)
        .await;
    assert_eq!(
        inbox["messages"],
        json!([]),
        "the acknowledged message is still there"
    );

    // A task offer: pushed leased, completed up the socket.
    let offered_at = Instant::now();
    let (_, task) = stack
        .call(
            Method::POST,
            &stack.url(&stack.edge, "/v1/tasks"),
            &stack.admin,
            Some(json!({"agent": agent.id, "input": {"text": "stream me"}})),
        )
        .await;
    let (offer, arrived) = next_of(&mut socket, "task").await;
    eprintln!(
        "edge: a task offer reached its agent's stream {:?} after it was created",
        arrived - offered_at
    );
    assert_eq!(offer["task"]["id"], task["id"], "{offer}");
    let lease = offer["task"]["lease_id"].clone();
    send(
        &mut socket,
        json!({"op": "complete", "id": task["id"], "body": {"result": {"summary": "done"}, "lease_id": lease}}),
    )
    .await;
    let (completed, _) = next_of(&mut socket, "result").await;
    assert_eq!(completed["status"], 200, "{completed}");
    let task_url = stack.url(
        &stack.origin,
        &format!("/v1/tasks/{}", task["id"].as_str().unwrap()),
    );
    let (_, finished) = stack.call(Method::GET, &task_url, &stack.admin, None).await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(finished["result"], json!({"summary": "done"}));

    // A command naming something that is not a task's id is refused at the edge.
    send(
        &mut socket,
        json!({"op": "complete", "id": "../../agents", "body": {}}),
    )
    .await;
    let (error, _) = next_of(&mut socket, "error").await;
    assert!(
        error["detail"].as_str().unwrap().contains("task id"),
        "{error}"
    );
}
