//! Deep health (`GET /v1/health?deep=1`, admins): does each port this process depends on
//! answer? The plain health check stays a constant answer that touches nothing, so that
//! load balancers and uptime probes cost nothing; this one makes one cheap call per port.

use serde::Serialize;

use crate::Platform;
use crate::auth::{Action, Principal};
use crate::error::Result;
use crate::ports::Key;

/// What a deep check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Component {
    /// The item store (SQLite, DynamoDB).
    Store,
    /// The messages queue (SQLite, SQS).
    Queue,
    /// The workflow engine (the local engine, Step Functions).
    Engine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Health {
    Ok,
    Unavailable,
}

/// One component's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ComponentCheck {
    pub component: Component,
    pub status: Health,
    /// How long its call took.
    pub latency_ms: i64,
    /// The messages queue's depth, when the queue answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<u64>,
}

/// Every component's answer; `status` is `ok` only if all are.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthReport {
    pub status: Health,
    /// Empty unless the check was deep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<ComponentCheck>,
}

/// The store item a probe reads: never written, so the read finds nothing.
fn probe_key() -> Key {
    Key {
        pk: "health".into(),
        sk: "probe".into(),
    }
}

impl Platform {
    /// Calls each port once. A failure is logged with its detail and reported as the
    /// component being unavailable: the detail names internals callers need not see.
    pub async fn deep_health(&self, caller: &Principal) -> Result<HealthReport> {
        caller.authorize(Action::CheckHealth)?;
        let ctx = &self.runs.ctx;
        let mut checks = Vec::with_capacity(3);

        let started = ctx.now();
        let store = ctx.store.get(&probe_key()).await;
        checks.push(self.checked(Component::Store, started, store.map(|_| None)));

        let started = ctx.now();
        let queue = self.messages.ports.queue.depth().await;
        checks.push(self.checked(Component::Queue, started, queue.map(|d| Some(d.messages))));

        let started = ctx.now();
        let engine = self.runs.ports.engine.probe().await;
        checks.push(self.checked(Component::Engine, started, engine.map(|()| None)));

        let status = if checks.iter().all(|c| c.status == Health::Ok) {
            Health::Ok
        } else {
            Health::Unavailable
        };
        Ok(HealthReport { status, checks })
    }

    fn checked<E: std::fmt::Display>(
        &self,
        component: Component,
        started: chrono::DateTime<chrono::Utc>,
        outcome: std::result::Result<Option<u64>, E>,
    ) -> ComponentCheck {
        let latency_ms = (self.runs.ctx.now() - started).num_milliseconds().max(0);
        let (status, messages) = match outcome {
            Ok(messages) => (Health::Ok, messages),
            Err(error) => {
                tracing::warn!(?component, %error, "deep health check failed");
                (Health::Unavailable, None)
            }
        };
        ComponentCheck {
            component,
            status,
            latency_ms,
            messages,
        }
    }
}
