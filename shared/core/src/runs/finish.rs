//! Ends of executions, as the engine reports them: the run's record, its event and quota,
//! its unfinished steps, and its parent's step.

use serde_json::{Value, json};

use super::Runs;
use super::model::{Run, RunError, RunStatus, StepRecord, StepStatus};
use super::service::RUNNING;
use super::values::Part;
use super::worker::set;
use crate::error::{Error, Result};
use crate::ids::{RunId, TenantId};
use crate::ports::{
    Change, Condition, ExecutionEnded, ExecutionStatus, Index, StoreError, WriteOp,
};
use crate::records::{from_item, quota_key, run_key, step_key};
use crate::workflows::Workflow;
use crate::workflows::template::render;

impl Runs {
    /// Records how the run ended; tells a parent run's step. Safe to call again: a run
    /// already recorded as ended is not written twice, but what follows its end
    /// (cancelling unfinished steps, telling the parent) is done again, in case the
    /// first call stopped before it.
    pub async fn execution_ended(&self, ended: ExecutionEnded) -> Result<()> {
        let tenant = ended
            .input
            .get("tenant")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let tenant = TenantId::parse(tenant)
            .map_err(|e| Error::Internal(format!("execution input has no tenant: {}", e.0)))?;
        let run_id = RunId::parse(&ended.run).map_err(|e| Error::Internal(e.0))?;
        let run = crate::retry::until_written("the run's record", || {
            self.record_end(&tenant, &run_id, &ended)
        })
        .await?;
        let workflow = self
            .workflows
            .compiled(&tenant, &run.workflow, run.version)
            .await?;
        self.cancel_unfinished_steps(&run, &workflow).await?;
        if let Some(parent) = &run.parent {
            self.child_ended(&tenant, parent, &run).await?;
        }
        Ok(())
    }

    /// Writes the run's end, its event and the release of its quota in one transaction,
    /// unless the run already ended; returns the ended run.
    async fn record_end(
        &self,
        tenant: &TenantId,
        run_id: &RunId,
        ended: &ExecutionEnded,
    ) -> Result<crate::retry::Try<Run>> {
        let key = run_key(tenant, run_id);
        let (mut run, version) = from_item::<Run>(
            self.ctx
                .store
                .get(&key)
                .await?
                .ok_or(Error::NotFound { what: "run" })?,
        )?;
        if run.status.is_terminal() {
            return Ok(crate::retry::Try::Done(run));
        }
        let workflow = self
            .workflows
            .compiled(tenant, &run.workflow, run.version)
            .await?;
        run.status = match ended.status {
            ExecutionStatus::Succeeded => RunStatus::Succeeded,
            ExecutionStatus::Failed => RunStatus::Failed,
            ExecutionStatus::TimedOut => RunStatus::TimedOut,
            ExecutionStatus::Aborted => RunStatus::Cancelled,
        };
        if run.status == RunStatus::Succeeded {
            let scope = self.scope_for(run.clone(), &workflow, None).await?;
            run.output = Some(match &workflow.definition.output {
                Some(template) => render(template, &scope),
                None => Value::Object(
                    scope
                        .steps
                        .iter()
                        .map(|(id, s)| (id.clone(), s.output.clone().unwrap_or(Value::Null)))
                        .collect(),
                ),
            });
        } else {
            run.error = Some(RunError {
                error: ended
                    .error
                    .clone()
                    .unwrap_or_else(|| "States.Runtime".into()),
                cause: ended.cause.clone().unwrap_or_default(),
            });
        }
        run.finished_at = Some(self.ctx.now());
        let kind = format!(
            "run.{}",
            serde_json::to_value(run.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        );
        let ops = vec![
            WriteOp::Put {
                item: self.run_store_item(&run).await?,
                condition: Condition::VersionIs(version),
            },
            // The run no longer counts against its tenant's quota of runs in flight.
            WriteOp::Update {
                key: quota_key(tenant),
                changes: vec![Change::Add(RUNNING.into(), -1)],
                condition: Condition::Always,
            },
            WriteOp::Put {
                item: self.event_item(
                    tenant,
                    &run.id,
                    &kind,
                    None,
                    json!({ "error": run.error }),
                )?,
                condition: Condition::Always,
            },
        ];
        match self.ctx.store.transact_write(ops).await {
            Ok(()) => {
                crate::metrics::run_ended(&run.workflow, run.status.as_str());
                self.ctx.events.run_changed(run.id.as_str());
                self.ctx.events.run_ended(run.id.as_str());
                Ok(crate::retry::Try::Done(run))
            }
            Err(StoreError::TransactionCanceled { .. }) => Ok(crate::retry::Try::Raced),
            Err(e) => Err(e.into()),
        }
    }

    /// The ended run as stored: a large output is kept apart (`values.rs`).
    async fn run_store_item(&self, run: &Run) -> Result<crate::ports::Item> {
        let key = run_key(&run.tenant, &run.id);
        let mut body = crate::records::to_body(run)?;
        if let Some(output) = &run.output {
            for change in self.place_value(&key, Part::Output, output).await? {
                if let Change::Set(name, value) = change {
                    body.insert(name, value);
                }
            }
        }
        let listing =
            crate::ports::IndexKey::new(crate::records::runs_list_pk(&run.tenant), run.id.as_str());
        Ok(crate::ports::Item::new(key, body).with_gsi(Index::Gsi3, Some(listing)))
    }

    async fn cancel_unfinished_steps(&self, run: &Run, workflow: &Workflow) -> Result<()> {
        for id in &workflow.dag.ids {
            let key = step_key(&run.tenant, &run.id, id);
            let Some(item) = self.ctx.store.get(&key).await? else {
                continue;
            };
            let (record, version) = from_item::<StepRecord>(item)?;
            if !record.status.is_some_and(|s| s.is_terminal()) {
                let changes = vec![
                    set("status", StepStatus::Cancelled),
                    set("finished_at", self.ctx.now()),
                ];
                let _ = self
                    .ctx
                    .store
                    .update(&key, changes, Condition::VersionIs(version))
                    .await;
            }
            if record.status == Some(StepStatus::AwaitingApproval) {
                let _ = self
                    .ctx
                    .store
                    .delete(
                        &crate::records::approval_key(&run.tenant, &run.id, id),
                        Condition::Always,
                    )
                    .await;
            }
        }
        Ok(())
    }
}
