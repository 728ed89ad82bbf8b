//! Sub-workflows: a `workflow` step starts a child run, and the child's end is its
//! parent step's result.

use serde_json::Value;

use super::call::StepCall;
use super::model::{ParentStep, Run, RunError, RunStatus};
use super::outcome::Reply;
use super::service::StartRun;
use super::worker::set;
use super::{MAX_SUB_WORKFLOW_DEPTH, Runs};
use crate::error::{Error, Result};
use crate::ids::TenantId;
use crate::ports::Condition;
use crate::records::step_key;
use crate::workflows::compile::StepErrorName;

impl Runs {
    /// A `workflow` step: start the child run (once: the key names the parent step).
    /// Registration refuses cycles; the depth bound holds even for runs of versions
    /// registered before that check, or chains too long to be cycles.
    pub(crate) async fn start_child(
        &self,
        call: StepCall<'_>,
        run: &Run,
        input: Value,
        reply: Reply,
    ) -> Result<std::result::Result<Value, RunError>> {
        let message = call.message;
        let step = call.step();
        let sub = step
            .workflow
            .clone()
            .ok_or_else(|| Error::Internal("workflow step without its spec".into()))?;
        let parent = ParentStep {
            run: message.run.clone(),
            step: step.id.clone(),
            depth: run.parent.as_ref().map_or(0, |p| p.depth) + 1,
        };
        if parent.depth > MAX_SUB_WORKFLOW_DEPTH {
            let failure = RunError {
                error: StepErrorName::DepthExceeded.into(),
                cause: format!(
                    "workflow `{}` would run {} levels below its top-level run; sub-workflows nest at most {MAX_SUB_WORKFLOW_DEPTH} deep",
                    sub.name, parent.depth
                ),
            };
            return self.fail(call, failure, None, reply).await;
        }
        let key = format!("child:{}:{}:{}", message.run, step.id, message.attempt);
        let request = StartRun {
            input,
            version: sub.version,
        };
        let started = Box::pin(self.start_as(
            &message.tenant,
            &run.started_by,
            &sub.name,
            request,
            Some(&key),
            Some(parent.clone()),
        ))
        .await;
        let child = match started {
            Ok(started) => started.run,
            // Redelivered: the start is idempotent under the step's key.
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => {
                let failure = RunError {
                    error: StepErrorName::SubWorkflowFailed.into(),
                    cause: format!("could not start workflow `{}`: {e}", sub.name),
                };
                return self.fail(call, failure, None, reply).await;
            }
        };
        self.ctx
            .store
            .update(
                &step_key(&message.tenant, &message.run, &step.id),
                vec![set("child_run", &child.id)],
                Condition::Exists,
            )
            .await?;
        if child.status.is_terminal() {
            self.child_ended(&message.tenant, &parent, &child).await?;
        }
        Ok(Ok(Value::Null))
    }

    pub(super) async fn child_ended(
        &self,
        tenant: &TenantId,
        parent: &ParentStep,
        child: &Run,
    ) -> Result<()> {
        let outcome = match child.status {
            RunStatus::Succeeded => Ok(child.output.clone().unwrap_or(Value::Null)),
            status => {
                let why = child
                    .error
                    .as_ref()
                    .map(|e| format!(": {} {}", e.error, e.cause))
                    .unwrap_or_default();
                Err(RunError {
                    error: StepErrorName::SubWorkflowFailed.into(),
                    cause: format!(
                        "run {} of `{}` ended {}{why}",
                        child.id,
                        child.workflow,
                        status.as_str()
                    ),
                })
            }
        };
        self.step_result(tenant, &parent.run, &parent.step, None, None, outcome)
            .await
    }
}
