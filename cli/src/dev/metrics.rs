//! `skein dev`'s metrics: the platform's series (`skein_core::metrics`) in Prometheus text
//! at `GET /metrics`, on a listener of its own (`--metrics-addr`, default
//! 127.0.0.1:9464), as Restate and Temporal keep theirs apart from the API: the series
//! name every tenant's workflows, so they are for whoever runs the server, not for API
//! callers. Queue depths are sampled at each scrape.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use skein_core::metrics::{Kind, Metric};
use skein_core::ports::Queue;
use skein_local::SqliteQueue;
use tokio::net::TcpListener;

use crate::config::{AddrOrOff, DEFAULT_METRICS_ADDR};

/// Prometheus' text exposition format, version 0.0.4.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot record metrics: {0}")]
    Recorder(String),
    #[error(
        "cannot listen for metrics on {addr}: {source} (is another `skein dev` running? pass --metrics-addr, or `off`)"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The process's Prometheus recorder, installed on first use: a process has one global
/// recorder, so servers started in one process (tests) share it.
fn recorder() -> Result<PrometheusHandle, MetricsError> {
    static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    let mut installed = HANDLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    let mut builder = PrometheusBuilder::new();
    for metric in Metric::ALL
        .into_iter()
        .filter(|m| m.kind() == Kind::Histogram)
    {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(metric.name().into()), metric.buckets())
            .map_err(|e| MetricsError::Recorder(e.to_string()))?;
    }
    let handle = builder
        .install_recorder()
        .map_err(|e| MetricsError::Recorder(e.to_string()))?;
    skein_core::metrics::describe_all();
    *installed = Some(handle.clone());
    Ok(handle)
}

#[derive(Clone)]
struct Scrape {
    handle: PrometheusHandle,
    /// Sampled at each scrape: SQS publishes these itself on AWS.
    queues: Arc<[Arc<SqliteQueue>]>,
}

/// A bound metrics listener, not yet serving.
pub struct MetricsEndpoint {
    listener: TcpListener,
    scrape: Scrape,
}

impl MetricsEndpoint {
    /// Installs the recorder and binds `addr`.
    pub async fn bind(
        addr: SocketAddr,
        queues: Vec<Arc<SqliteQueue>>,
    ) -> Result<MetricsEndpoint, MetricsError> {
        let handle = recorder()?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| MetricsError::Bind { addr, source })?;
        Ok(MetricsEndpoint {
            listener,
            scrape: Scrape {
                handle,
                queues: queues.into(),
            },
        })
    }

    /// Binds where the user said (`Some`: failing if it cannot), else the default
    /// address, or a free port beside it when another process holds the default.
    pub async fn bind_or_default(
        addr: Option<AddrOrOff>,
        queues: Vec<Arc<SqliteQueue>>,
    ) -> Result<MetricsEndpoint, MetricsError> {
        match addr.and_then(|a| a.0) {
            Some(addr) => Self::bind(addr, queues).await,
            None => match Self::bind(DEFAULT_METRICS_ADDR, queues.clone()).await {
                Err(MetricsError::Bind { .. }) => {
                    let mut free = DEFAULT_METRICS_ADDR;
                    free.set_port(0);
                    Self::bind(free, queues).await
                }
                bound => bound,
            },
        }
    }

    pub fn addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves `GET /metrics` until the task is dropped.
    pub async fn serve(self) -> std::io::Result<()> {
        let app = axum::Router::new()
            .route("/metrics", get(render))
            .with_state(self.scrape);
        axum::serve(self.listener, app).await
    }
}

async fn render(State(scrape): State<Scrape>) -> impl IntoResponse {
    for queue in scrape.queues.iter() {
        match queue.depth().await {
            Ok(depth) => {
                skein_core::metrics::queue_sampled(queue.name(), depth.messages, depth.oldest)
            }
            Err(e) => tracing::warn!(queue = queue.name(), error = %e, "could not sample a queue"),
        }
    }
    scrape.handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, TEXT_FORMAT)],
        scrape.handle.render(),
    )
}
