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
