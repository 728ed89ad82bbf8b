//! The scheduler function, an EventBridge Scheduler target. A per-workflow schedule
//! sends `{"action":"start", "tenant", "workflow", "fired_at"}` and starts that run once
//! per firing; the platform's one-minute tick sends `{"action":"tick"}` and does what
//! `skein dev`'s sweeper does (`Platform::sweep`): fire the schedules kept in the table,
//! time out approvals, and re-queue or expire tasks whose lease or deadline passed.

use lambda_runtime::{LambdaEvent, service_fn};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use skein_core::Platform;
use skein_core::ids::TenantId;
use skein_core::sweep::SweepReport;

use crate::AwsPlatform;

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum SchedulerEvent {
    Start {
        tenant: String,
        workflow: String,
        /// The run's input; the workflow's `schedule.input` when absent.
        #[serde(default)]
        input: Option<Value>,
        /// The firing's time (`<aws.scheduler.scheduled-time>`): one run per firing.
        fired_at: String,
    },
    Tick,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SchedulerReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// What the tick's sweep did (`skein_core::sweep`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("the scheduler event is not valid: {0}")]
    BadEvent(String),
    #[error(transparent)]
    Platform(#[from] skein_core::Error),
    /// Every part of the sweep ran; these failed (logged) and the next tick retries them.
    #[error("{failures} part(s) of the sweep failed; see the log")]
    SweepIncomplete { failures: usize },
}

/// Stable names for the function's errors, as Lambda reports them. A start that can never
/// succeed (its workflow was deleted, its input is refused) is told apart from one the
/// next firing may get through, and from the platform's own failures.
impl From<SchedulerError> for lambda_runtime::Diagnostic {
    fn from(error: SchedulerError) -> Self {
        use skein_core::Error;
        let error_type = match &error {
            SchedulerError::BadEvent(_) => "Skein.BadEvent",
            SchedulerError::Platform(Error::NotFound { .. }) => "Skein.NotFound",
            SchedulerError::Platform(Error::Validation(_) | Error::PayloadTooLarge(_)) => {
                "Skein.BadInput"
            }
            SchedulerError::Platform(Error::QuotaExceeded(_)) => "Skein.QuotaExceeded",
            SchedulerError::Platform(e) if e.is_transient() => "Skein.Unavailable",
            SchedulerError::Platform(_) => "Skein.Internal",
            SchedulerError::SweepIncomplete { .. } => "Skein.SweepIncomplete",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

pub async fn handle(platform: &Platform, event: Value) -> Result<SchedulerReport, SchedulerError> {
    let event: SchedulerEvent =
        serde_json::from_value(event).map_err(|e| SchedulerError::BadEvent(e.to_string()))?;
    match event {
        SchedulerEvent::Start {
            tenant,
            workflow,
            input,
            fired_at,
        } => {
            let tenant = TenantId::parse(&tenant)
                .map_err(|e| SchedulerError::BadEvent(format!("tenant: {}", e.0)))?;
            let started = platform
                .runs
                .start_scheduled(&tenant, &workflow, input, &fired_at)
                .await?;
            Ok(SchedulerReport {
                run: Some(started.run.id.to_string()),
                ..SchedulerReport::default()
            })
        }
        SchedulerEvent::Tick => {
            // The same sweep as skein dev's loop: every part runs even if one fails; a
            // failed part fails the invocation afterwards, so the errors alarm sees it.
            let sweep = platform.sweep().await;
            tracing::info!(?sweep, "tick swept");
            if sweep.failures > 0 {
                return Err(SchedulerError::SweepIncomplete {
                    failures: sweep.failures,
                });
            }
            Ok(SchedulerReport {
                run: None,
                sweep: Some(sweep),
            })
        }
    }
}

/// Runs the scheduler function.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    crate::init_tracing();
    let aws = AwsPlatform::from_env(crate::no_builtins, crate::no_tokens)?;
    let platform = &aws.platform;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        crate::metrics::flushed(handle(platform, event.payload)).await
    }))
    .await
}

#[cfg(test)]
mod tests {
    use lambda_runtime::Diagnostic;
    use skein_core::Error;

    use super::SchedulerError;

    fn name(error: Error) -> String {
        Diagnostic::from(SchedulerError::Platform(error)).error_type
    }

    #[test]
    fn a_start_for_a_deleted_workflow_is_named_for_what_happened_not_internal() {
        assert_eq!(name(Error::NotFound { what: "workflow" }), "Skein.NotFound");
        assert_eq!(
            name(Error::invalid("$.input", "not an object")),
            "Skein.BadInput"
        );
        assert_eq!(
            name(Error::QuotaExceeded("runs".into())),
            "Skein.QuotaExceeded"
        );
        assert_eq!(
            name(Error::Unavailable("throttled".into())),
            "Skein.Unavailable"
        );
        assert_eq!(name(Error::Internal("bug".into())), "Skein.Internal");
    }
}
