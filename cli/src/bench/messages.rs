//! `skein bench messages`: how fast the message router drains the SQLite messages queue
//! into inboxes, and how long a message takes from `POST .../messages` to the receiver's
//! waiting long-poll returning it, on a fresh `skein dev`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use skein_core::auth::{Principal, Role};
use skein_core::ids::{ClientId, PrincipalId};
use skein_core::messages::NewMessage;
use skein_core::ports::{MAX_BATCH, Queue};

use crate::config::DevArgs;
use crate::dev::{DevServer, LocalPlatform};

#[derive(Debug, Serialize)]
pub struct MessagesReport {
    pub routed: usize,
    pub routed_per_second: f64,
    pub round_trips: usize,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
}

/// Routes `messages` queued direct messages with the router's own batch loop, no HTTP.
pub async fn router_throughput(
    data_dir: &std::path::Path,
    messages: usize,
    progress: &dyn Fn(u64),
) -> Result<(usize, Duration), String> {
    let args = DevArgs::for_data_dir(data_dir);
    let local = LocalPlatform::open(&args.local).map_err(|e| e.to_string())?;
    let platform = &local.platform;
    platform
        .access
        .bootstrap_tenant(&args.local.tenant)
        .await
        .map_err(|e| e.to_string())?;
    let admin = Principal {
        tenant: args.local.tenant.clone(),
        id: PrincipalId::client(&ClientId::from_ulid(ulid::Ulid::new())),
        roles: vec![Role::Admin],
    };
    let new =
        serde_json::from_value(json!({ "name": "bench-receiver" })).map_err(|e| e.to_string())?;
    let receiver = platform
        .agents
        .register(&admin, new)
        .await
        .map_err(|e| e.to_string())?;
    for i in 0..messages {
        let message = NewMessage {
            kind: "bench".into(),
            payload: json!({ "i": i }),
            correlation_id: None,
            ttl_seconds: None,
        };
        platform
            .messages
            .send(&admin, &receiver.agent.id, message)
            .await
            .map_err(|e| e.to_string())?;
    }
    let router = platform.message_router();
    let queue: Arc<dyn Queue> = local.messages_queue.clone();
    let started = Instant::now();
    let mut routed = 0;
    while routed < messages {
        let batch = queue
            .receive(
                MAX_BATCH,
                Duration::from_secs(30),
                Duration::from_millis(100),
            )
            .await
            .map_err(|e| e.to_string())?;
        if batch.is_empty() {
            return Err(format!("the queue ran dry after {routed} of {messages}"));
        }
        routed += batch.len();
        skein_local::route_batch(&router, &queue, batch, Duration::from_millis(200)).await;
        progress(routed as u64);
    }
    Ok((routed, started.elapsed()))
}

/// Send -> long-poll return, `rounds` times, over HTTP against a running dev server.
pub async fn inbox_latency(
    server: &DevServer,
    admin_token: &str,
    rounds: usize,
    progress: &dyn Fn(u64),
) -> Result<Vec<Duration>, String> {
    let http = reqwest::Client::new();
    let base = server.url();
    let call = |method: reqwest::Method, path: String, token: String, body: Option<Value>| {
        let mut request = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                return Err(format!("{status}: {body}"));
            }
            Ok(body)
        }
    };
    let registered = call(
        reqwest::Method::POST,
        "/v1/agents".into(),
        admin_token.into(),
        Some(json!({ "name": "bench-inbox" })),
    )
    .await?;
    let id = registered["agent"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let secret = registered["credentials"]["client_secret"].clone();
    let token = http
        .post(format!("{base}/v1/auth/token"))
        .json(&json!({ "client_id": id, "client_secret": secret }))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json::<Value>()
        .await
        .map_err(|e| e.to_string())?["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut latencies = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let poll = tokio::spawn(call(
            reqwest::Method::GET,
            format!("/v1/agents/{id}/inbox?wait=20"),
            token.clone(),
            None,
        ));
        // Let the long-poll reach the server and wait before the message is sent.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let sent_at = Instant::now();
        call(
            reqwest::Method::POST,
            format!("/v1/agents/{id}/messages"),
            admin_token.into(),
            Some(json!({ "kind": "ping", "payload": round })),
        )
        .await?;
        let page = poll.await.map_err(|e| e.to_string())??;
        latencies.push(sent_at.elapsed());
        for entry in page["messages"].as_array().cloned().unwrap_or_default() {
            let message = entry["message"]["id"].as_str().unwrap_or_default();
            call(
                reqwest::Method::POST,
                format!("/v1/agents/{id}/inbox/{message}/ack"),
                token.clone(),
                Some(json!({})),
            )
            .await?;
        }
        progress(round as u64 + 1);
    }
    Ok(latencies)
}

/// The `q` quantile of `samples` in milliseconds.
pub fn quantile_ms(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}
