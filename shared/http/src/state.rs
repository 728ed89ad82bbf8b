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

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
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
