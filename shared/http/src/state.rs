use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use skein_core::Platform;

use crate::bell::TaskBell;

/// What `GET /v1/info` reports about this deployment.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceInfo {
    pub version: &'static str,
    pub build: String,
    /// Which adapters back the ports, e.g. `{"store": "sqlite", ...}`.
    pub adapters: serde_json::Value,
    pub jwt_algorithm: String,
}

/// Shared by every handler. axum clones the state for every request and again for every
/// middleware, so it is one `Arc`: cloning the platform's service graph field by field
/// (dozens of reference counts) was most of the cost of a request that did nothing.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What `AppState` holds: the platform and the HTTP layer's own settings.
pub struct Shared {
    pub platform: Platform,
    pub bell: Arc<TaskBell>,
    pub info: Arc<ServiceInfo>,
    /// How often a long-polling claim re-checks the store when nothing rang the bell
    /// (tasks created by another process, leases expired by the sweeper elsewhere).
    pub claim_recheck: Duration,
    /// Token buckets per principal and per tenant (unlimited when none is configured).
    pub limiter: skein_core::limits::RateLimiter,
    /// Buckets per source address for requests without a token (None: unlimited).
    pub sources: Option<Arc<crate::SourceLimiter>>,
}
