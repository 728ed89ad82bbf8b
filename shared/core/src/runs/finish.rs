//! Ends: of an execution (the engine reports it), of a remote agent's task, of a
//! sub-workflow's run; and scheduled starts.

use serde_json::{Value, json};

use super::model::{ParentStep, Run, RunError, RunStatus, StepMessage, StepRecord, StepStatus};
use super::outcome::Reply;
use super::service::{RUNNING, StartRun};
use super::worker::set;
use super::{MAX_SUB_WORKFLOW_DEPTH, Runs};
use crate::error::{Error, Result};
use crate::ids::{RunId, TenantId};
use crate::ports::{
    Change, Condition, ExecutionEnded, ExecutionStatus, Index, StoreError, WriteOp,
};
use crate::records::{from_item, quota_key, run_key, step_key};
use crate::tasks::{Task, TaskStatus};
use crate::workflows::Workflow;
use crate::workflows::compile::{StepErrorName, StepPhase};
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
                item: self.run_store_item(&run)?,
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
                self.ctx.events.run_changed(run.id.as_str());
                Ok(crate::retry::Try::Done(run))
            }
            Err(StoreError::TransactionCanceled { .. }) => Ok(crate::retry::Try::Raced),
            Err(e) => Err(e.into()),
        }
    }

    fn run_store_item(&self, run: &Run) -> Result<crate::ports::Item> {
        let listing =
            crate::ports::IndexKey::new(crate::records::runs_list_pk(&run.tenant), run.id.as_str());
        Ok(
            crate::ports::Item::new(run_key(&run.tenant, &run.id), crate::records::to_body(run)?)
                .with_gsi(Index::Gsi3, Some(listing)),
        )
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

    /// A `workflow` step: start the child run (once: the key names the parent step).
    /// Registration refuses cycles; the depth bound holds even for runs of versions
    /// registered before that check, or chains too long to be cycles.
    pub(crate) async fn start_child(
        &self,
        message: &StepMessage,
        workflow: &Workflow,
        index: usize,
        run: &Run,
        input: Value,
        reply: Reply,
    ) -> Result<std::result::Result<Value, RunError>> {
        let step = &workflow.definition.steps[index];
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
            return self
                .fail(message, workflow, index, failure, None, reply)
                .await;
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
                return self
                    .fail(message, workflow, index, failure, None, reply)
                    .await;
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

    async fn child_ended(&self, tenant: &TenantId, parent: &ParentStep, child: &Run) -> Result<()> {
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

    /// Delivers a result that arrived from outside (a task, a child run) to its step or item.
    pub(crate) async fn step_result(
        &self,
        tenant: &TenantId,
        run: &RunId,
        step: &str,
        attempt: Option<u32>,
        item: Option<u32>,
        outcome: std::result::Result<Value, RunError>,
    ) -> Result<()> {
        let record = self.run_record(tenant, run).await?;
        if record.status.is_terminal() {
            return Ok(());
        }
        let workflow = self
            .workflows
            .compiled(tenant, &record.workflow, record.version)
            .await?;
        let index = workflow
            .dag
            .index(step)
            .ok_or(Error::NotFound { what: "step" })?;
        let mut ended_record = None;
        let (token, current) = match item {
            Some(i) => {
                let item = self
                    .ctx
                    .store
                    .get(&crate::records::item_key(tenant, run, step, i))
                    .await?
                    .ok_or(Error::NotFound { what: "map item" })?;
                let (r, _) = from_item::<super::items::ItemRecord>(item)?;
                (r.token, r.attempt)
            }
            None => {
                let item = self
                    .ctx
                    .store
                    .get(&step_key(tenant, run, step))
                    .await?
                    .ok_or(Error::NotFound { what: "step" })?;
                let (r, _) = from_item::<StepRecord>(item)?;
                let current = (r.token.clone(), r.started_attempt);
                if r.status.is_some_and(|s| s.is_terminal()) {
                    ended_record = Some(r);
                }
                current
            }
        };
        if attempt.is_some() && attempt != current {
            return Ok(()); // a task from an earlier attempt; that attempt already ended
        }
        let reply = match token {
            Some(t) => Reply::Token(t),
            None => Reply::Now,
        };
        let message = StepMessage {
            v: 1,
            tenant: tenant.clone(),
            workflow: record.workflow.clone(),
            version: record.version,
            run: run.clone(),
            step: step.to_string(),
            phase: StepPhase::Run,
            attempt: current.unwrap_or(0),
            index: item,
            token: None,
        };
        if let Some(ended) = ended_record {
            // Told twice (a lost answer, a report made again by the sweep): answer again.
            return match current {
                Some(attempt) => {
                    self.resend(&message, &workflow, index, &ended, attempt, reply)
                        .await
                }
                None => Ok(()),
            };
        }
        let _step_outcome = match (item, outcome) {
            (Some(i), outcome) => {
                self.item_finished(&message, &workflow, index, i, outcome, reply)
                    .await?
            }
            (None, Ok(output)) => {
                self.complete(&message, &workflow, index, output, None, reply)
                    .await?
            }
            (None, Err(failure)) => {
                self.fail(&message, &workflow, index, failure, None, reply)
                    .await?
            }
        };
        Ok(())
    }

    pub(crate) async fn tasks_finished_now(&self, task: &Task) -> Result<()> {
        let Some(origin) = &task.origin else {
            return Ok(());
        };
        let outcome = match task.status {
            TaskStatus::Succeeded => Ok(task.result.clone().unwrap_or(Value::Null)),
            TaskStatus::Expired => Err(RunError {
                error: StepErrorName::Timeout.into(),
                cause: "no agent claimed the step's task in time".into(),
            }),
            _ => {
                let e = task.error.clone();
                let code = e.as_ref().map(|e| e.code.as_str());
                let error = match code {
                    Some("lease_expired") => StepErrorName::Timeout,
                    // Retrying cannot bring the agent back: not retried, catchable by name.
                    Some("agent_deleted") => StepErrorName::AgentGone,
                    _ => StepErrorName::AgentFailed,
                };
                let cause = e
                    .map(|e| format!("{}: {}", e.code, e.message))
                    .unwrap_or_else(|| "the agent failed the task".into());
                Err(RunError {
                    error: error.into(),
                    cause,
                })
            }
        };
        self.step_result(
            &task.tenant,
            &origin.run,
            &origin.step,
            Some(origin.attempt),
            origin.index,
            outcome,
        )
        .await
    }
}

impl Runs {
    /// Passes a finished task on to the run step it does the work of, then records that
    /// the run was told. Called right after the task's write by whoever ended it; the
    /// sweep calls it again for a task whose report was lost.
    pub async fn task_finished(&self, task: &Task) -> Result<()> {
        if !task.awaits_report() {
            return Ok(());
        }
        match self.tasks_finished_now(task).await {
            // The run or its step is gone (deleted with its workflow): nobody to tell.
            Ok(()) | Err(Error::NotFound { .. }) => self.tasks.mark_reported(task).await,
            Err(e) => Err(e),
        }
    }
}
