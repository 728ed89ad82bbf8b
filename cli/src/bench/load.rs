//! A lean HTTP/1.1 load generator: one keep-alive hyper connection per worker, requests
//! in sequence, latencies into an HdrHistogram.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

impl Connection {
    pub async fn open(addr: SocketAddr) -> Result<Self, LoadError> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| LoadError(format!("connect {addr}: {e}")))?;
        stream
            .set_nodelay(true)
            .map_err(|e| LoadError(e.to_string()))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| LoadError(e.to_string()))?;
        tokio::spawn(connection);
        Ok(Self {
            sender,
            host: addr.to_string(),
        })
    }

    /// One request; returns the status and the body bytes.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Bytes), LoadError> {
        let payload = body
            .map(|b| Bytes::from(serde_json::to_vec(b).unwrap_or_default()))
            .unwrap_or_default();
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header("authorization", format!("Bearer {token}"));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(Full::new(payload))
            .map_err(|e| LoadError(e.to_string()))?;
        self.sender
            .ready()
            .await
            .map_err(|e| LoadError(e.to_string()))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| LoadError(e.to_string()))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| LoadError(e.to_string()))?
            .to_bytes();
        Ok((status, bytes))
    }

    pub async fn json(
        &mut self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<Value, LoadError> {
        let (status, bytes) = self.call(method, path, token, body).await?;
        if !status.is_success() {
            return Err(LoadError(format!(
                "{path}: {status} {}",
                String::from_utf8_lossy(&bytes)
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| LoadError(format!("{path}: {e}")))
    }
}

/// What one phase of a benchmark measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Measured {
    pub name: String,
    pub operations: u64,
    pub errors: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

pub fn summarize(
    name: &str,
    histogram: &Histogram<u64>,
    errors: u64,
    elapsed: Duration,
) -> Measured {
    let operations = histogram.len();
    let seconds = elapsed.as_secs_f64();
    Measured {
        name: name.to_string(),
        operations,
        errors,
        seconds,
        per_second: operations as f64 / seconds,
        p50_us: histogram.value_at_quantile(0.50),
        p99_us: histogram.value_at_quantile(0.99),
        max_us: histogram.max(),
    }
}

/// Runs `operation` on each connection until `duration` passes; merges the latencies.
pub async fn drive<F>(
    connections: Vec<Connection>,
    duration: Duration,
    operation: F,
) -> (Histogram<u64>, u64, Duration)
where
    F: Fn(
            usize,
            &mut Connection,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>>
        + Send
        + Sync
        + Clone
        + 'static,
{
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = tokio::task::JoinSet::new();
    for (index, mut connection) in connections.into_iter().enumerate() {
        let operation = operation.clone();
        workers.spawn(async move {
            let mut histogram = new_histogram();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let begun = Instant::now();
                if operation(index, &mut connection).await {
                    let _ = histogram.record(begun.elapsed().as_micros().max(1) as u64);
                } else {
                    errors += 1;
                }
            }
            (histogram, errors)
        });
    }
    let mut merged = new_histogram();
    let mut errors = 0;
    while let Some(result) = workers.join_next().await {
        if let Ok((histogram, worker_errors)) = result {
            let _ = merged.add(&histogram);
            errors += worker_errors;
        }
    }
    (merged, errors, started.elapsed())
}
