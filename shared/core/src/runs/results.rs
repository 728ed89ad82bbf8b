//! Results that arrive from outside a step's own worker call: a remote agent's task, a
//! child run. Delivered to the step (or map item) they belong to, idempotently.

use serde_json::Value;

use super::Runs;
use super::call::StepCall;
use super::model::{RunError, StepMessage, StepRecord};
use super::outcome::Reply;
use crate::error::{Error, Result};
use crate::ids::{RunId, TenantId};
use crate::records::{from_item, step_key};
use crate::tasks::{Task, TaskOrigin, TaskStatus};
use crate::usage::{Call, Purpose, Reservation, UsageSource};
use crate::workflows::compile::{StepErrorName, StepPhase};

impl Runs {
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
                // The attempt the step's token is for: the one started or, while a try
                // that failed for a passing reason has given its start up
                // (`abandon_start`) and its redelivery has not started it again, the one
                // dispatched. What that try set going (a task, a reply wait) is its work.
                let current = (r.token.clone(), r.started_attempt.or(r.token_attempt));
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
        let call = StepCall::new(&message, &workflow, index);
        if let Some(ended) = ended_record {
            // Told twice (a lost answer, a report made again by the sweep): answer again.
            return match current {
                Some(attempt) => self.resend(call, &ended, attempt, reply).await,
                None => Ok(()),
            };
        }
        let _step_outcome = match (item, outcome) {
            (Some(i), outcome) => self.item_finished(call, i, outcome, reply).await?,
            (None, Ok(output)) => self.complete(call, output, None, reply).await?,
            (None, Err(failure)) => self.fail(call, failure, None, reply).await?,
        };
        Ok(())
    }

    pub(crate) async fn tasks_finished_now(&self, task: &Task) -> Result<()> {
        let Some(origin) = &task.origin else {
            return Ok(());
        };
        let outcome = match task.status {
            TaskStatus::Succeeded => match self.record_reported_usage(task, Some(origin)).await? {
                Some(cause) => Err(RunError {
                    error: StepErrorName::BudgetExceeded.into(),
                    cause,
                }),
                None => Ok(task.result.clone().unwrap_or(Value::Null)),
            },
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
    /// Records the usage an agent reported with a task, once however often it is told,
    /// and says whether the task's run or its tenant has now passed its budget.
    async fn record_reported_usage(
        &self,
        task: &Task,
        origin: Option<&TaskOrigin>,
    ) -> Result<Option<String>> {
        let Some(reported) = &task.usage else {
            return Ok(None);
        };
        let run = match origin {
            Some(origin) => Some(self.run_record(&task.tenant, &origin.run).await?),
            None => None,
        };
        let agent = task
            .claimed_by
            .as_ref()
            .map_or_else(|| "-".to_string(), |a| a.to_string());
        let purpose = Purpose {
            tenant: &task.tenant,
            workflow: run.as_ref().map(|r| r.workflow.as_str()),
            run: origin.map(|o| &o.run),
            run_budget: run.as_ref().and_then(|r| r.budget),
            step: origin.map(|o| o.step.as_str()),
            item: origin.and_then(|o| o.index),
            agent: &agent,
            task: Some(&task.id),
        };
        let call = Call {
            source: UsageSource::Agent,
            provider: reported
                .provider
                .clone()
                .unwrap_or_else(|| "unknown".into()),
            model: reported.model.clone(),
            tokens: reported.tokens(),
            latency: None,
            cost_micros: reported.cost_micros(),
        };
        self.usage
            .record(&purpose, call, &Reservation::default())
            .await?;
        match origin {
            Some(_) => self.usage.passed(&purpose).await,
            None => Ok(None),
        }
    }

    /// Passes a finished task on to the run step it does the work of, then records that
    /// the run was told. Called right after the task's write by whoever ended it; the
    /// sweep calls it again for a task whose report was lost.
    pub async fn task_finished(&self, task: &Task) -> Result<()> {
        if task.origin.is_none() && task.status == TaskStatus::Succeeded {
            self.record_reported_usage(task, None).await?;
            return Ok(());
        }
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
