//! Clients that watch a run's events: Server-Sent Events over reqwest, and a WebSocket.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use skein_cli::sse::FrameReader;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// One event as a watcher received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub id: String,
    pub kind: String,
    pub at: Instant,
}

/// An open SSE stream of a run's events.
pub struct SseWatcher {
    response: reqwest::Response,
    frames: FrameReader,
}

impl SseWatcher {
    pub async fn open(
        http: &reqwest::Client,
        url: &str,
        token: &str,
        last_event_id: Option<&str>,
    ) -> Result<SseWatcher, (u16, String)> {
        let mut request = http
            .get(url)
            .bearer_auth(token)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        if response.status() != 200 {
            let status = response.status().as_u16();
            return Err((status, response.text().await.unwrap_or_default()));
        }
        Ok(SseWatcher {
            response,
            frames: FrameReader::default(),
        })
    }

    /// The next event, or None when the stream ended (or nothing came within `wait`).
    pub async fn next(&mut self, wait: Duration) -> Option<Seen> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(frame) = self.frames.next_frame() {
                match (frame.id, frame.event) {
                    (Some(id), Some(kind)) => {
                        return Some(Seen {
                            id,
                            kind,
                            at: Instant::now(),
                        });
                    }
                    _ => continue,
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.frames.push(&bytes),
                _ => return None,
            }
        }
    }

    /// Every event until the run's last one (or the stream ends).
    pub async fn until_run_ends(&mut self, seen: &mut Vec<Seen>) {
        while let Some(event) = self.next(Duration::from_secs(60)).await {
            let ended = ends_run(&event.kind);
            seen.push(event);
            if ended {
                return;
            }
        }
    }
}

pub fn ends_run(kind: &str) -> bool {
    skein_core::runs::ends_run(kind)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket watching a run's events; each message is one `RunEvent` as JSON.
pub struct WsWatcher {
    socket: Socket,
}

impl WsWatcher {
    pub async fn open(url: &str, token: &str) -> Result<WsWatcher, String> {
        let mut request = url
            .replace("http://", "ws://")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(WsWatcher { socket }),
            Err(e) => Err(e.to_string()),
        }
    }

    pub async fn until_run_ends(&mut self, seen: &mut Vec<Seen>) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout_at(deadline, self.socket.next()).await
        {
            let Message::Text(text) = message else {
                continue;
            };
            let event: Value = serde_json::from_str(&text).unwrap();
            let kind = event["type"].as_str().unwrap().to_string();
            seen.push(Seen {
                id: event["id"].as_str().unwrap().to_string(),
                kind: kind.clone(),
                at: Instant::now(),
            });
            if ends_run(&kind) {
                return;
            }
        }
    }
}
