//! A real HTTP service for workflow steps to call: it sleeps on request, fails on
//! request, and counts every call by the Idempotency-Key the `http` builtin sends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

#[derive(Default)]
pub struct Calls {
    /// Idempotency-Key -> how many requests carried it.
    pub by_key: Mutex<HashMap<String, u32>>,
}

impl Calls {
    pub fn count(&self, key_prefix: &str) -> u32 {
        let calls = self.by_key.lock().unwrap();
        calls
            .iter()
            .filter(|(k, _)| k.starts_with(key_prefix))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn keys(&self) -> Vec<(String, u32)> {
        let mut keys: Vec<_> = self
            .by_key
            .lock()
            .unwrap()
            .iter()
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        keys.sort();
        keys
    }
}

pub struct Upstream {
    pub url: String,
    pub calls: Arc<Calls>,
}

#[derive(serde::Deserialize)]
struct Params {
    #[serde(default)]
    ms: u64,
}

fn key(headers: &HeaderMap) -> String {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

impl Upstream {
    pub async fn start() -> Upstream {
        let calls = Arc::new(Calls::default());
        let app = axum::Router::new()
            // Sleeps `ms`, then answers with the body it got.
            .route(
                "/work",
                post(
                    |State(calls): State<Arc<Calls>>,
                     Query(p): Query<Params>,
                     headers: HeaderMap,
                     Json(body): Json<Value>| async move {
                        *calls
                            .by_key
                            .lock()
                            .unwrap()
                            .entry(key(&headers))
                            .or_default() += 1;
                        tokio::time::sleep(Duration::from_millis(p.ms)).await;
                        Json(json!({ "done": body }))
                    },
                ),
            )
            // Fails the first attempt of every step (keys end in `:0`), then succeeds.
            .route(
                "/flaky",
                post(
                    |State(calls): State<Arc<Calls>>, headers: HeaderMap| async move {
                        let key = key(&headers);
                        *calls.by_key.lock().unwrap().entry(key.clone()).or_default() += 1;
                        if key.ends_with(":0") {
                            (
                                StatusCode::SERVICE_UNAVAILABLE,
                                Json(json!({ "error": "warming up" })),
                            )
                        } else {
                            (StatusCode::OK, Json(json!({ "ok": true })))
                        }
                    },
                ),
            )
            .with_state(calls.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Upstream { url, calls }
    }
}
