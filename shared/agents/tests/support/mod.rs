//! What the builtins' test files share: a call as a step makes it, a local server, and a
//! sink that collects what a streaming call hands on.
#![allow(dead_code)]

use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use skein_core::ports::BuiltinCall;

pub fn call(name: &str, config: Value, input: Value) -> BuiltinCall {
    BuiltinCall {
        name: name.into(),
        config,
        input,
        idempotency_key: "run1:step1:0".into(),
        timeout: Some(Duration::from_secs(5)),
        trace: None,
        deltas: None,
    }
}

pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Collects what a streaming call hands on.
#[derive(Default)]
pub struct Collected(pub Mutex<Vec<String>>);

#[async_trait::async_trait]
impl skein_core::ports::DeltaSink for Collected {
    async fn delta(&self, text: &str) {
        self.0.lock().unwrap().push(text.to_string());
    }
}
