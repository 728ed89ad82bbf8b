//! A standard step's message arriving at the worker: its token is recorded, and the step
//! starts once its dependencies are done (exactly once per attempt: a redelivery finds
//! the attempt started, or finished and only answers again).

use chrono::Utc;

use super::Runs;
use super::call::StepCall;
use super::model::{StepMessage, StepRecord, StepStatus};
use super::outcome::Reply;
use super::worker::{done_flag, read_step, set, write_condition};
use crate::error::{Error, Result};
use crate::ports::{Change, StoreError};
use crate::records::step_key;

/// The conflict a step message meets while its attempt runs on another worker, within
/// the step's lease: a wait, not a failure (the message comes back after the lease).
pub const STEP_RUNNING: &str = "step-running";

/// Whether `error` says the step is running on another worker (see [`STEP_RUNNING`]).
pub fn running_elsewhere(error: &Error) -> bool {
    matches!(error, Error::Conflict { code, .. } if *code == STEP_RUNNING)
}

impl Runs {
    /// Records the step's token; starts the step if its dependencies are done.
    pub(super) async fn on_dispatch(
        &self,
        call: StepCall<'_>,
        run: super::model::Run,
        reply: Reply,
    ) -> Result<()> {
        let StepCall {
            message,
            workflow,
            index,
            ..
        } = call;
        let Reply::Token(token) = &reply else {
            return Err(Error::Internal("dispatch without a token".into()));
        };
        let key = step_key(&message.tenant, &message.run, &message.step);
        let mut started = None;
        for _ in crate::retry::races() {
            let (record, version, body) = read_step(self, &key).await?;
            if let Some(attempt) = finished_attempt(&record, message.attempt) {
                return self.resend(call, &record, attempt, reply).await;
            }
            // Started and not finished: a redelivery after the first try failed, or a
            // duplicate while it still runs elsewhere. Within the step's lease it is left to
            // the worker running it (the queue brings the message back later); after it,
            // this delivery runs the step again, under the same idempotency key.
            if let Some(started_at) = started_with(&record, token, message.attempt)
                && self.ctx.now() < started_at + self.ports.step_lease
            {
                return Err(Error::conflict(
                    STEP_RUNNING,
                    format!(
                        "step `{}` attempt {} is running on another worker; retry after its lease",
                        message.step,
                        message.attempt + 1
                    ),
                ));
            }
            let ready = workflow.dag.deps[index]
                .iter()
                .all(|&d| body.contains_key(&done_flag(&workflow.dag.ids[d])));
            let mut changes = vec![set("token", token), set("token_attempt", message.attempt)];
            if record.queued_at.is_none() {
                changes.push(set("queued_at", self.ctx.now()));
            }
            let mut starting = None;
            if !ready {
                if record.status.is_none() {
                    changes.push(set("status", StepStatus::Waiting));
                }
            } else {
                let (prepared, start) = self.prepare(call, &record, Some(run.clone())).await?;
                changes.extend(start);
                starting = Some(prepared);
            }
            let written = match &starting {
                // Parked: nothing waits on this write but this message, so it may share
                // the commit of the next write (often the start of the step it waits on).
                None => self
                    .ctx
                    .store
                    .update_unhurried(&key, changes, write_condition(version))
                    .await
                    .map(drop),
                Some(starting) => {
                    self.write_start(message, starting, changes, write_condition(version))
                        .await
                }
            };
            match written {
                Ok(()) => match starting {
                    Some(starting) => {
                        started = Some(starting);
                        break;
                    }
                    None => {
                        // Held until its dependencies are done; a later message runs it.
                        tracing::Span::current().record("skein.outcome", "waiting");
                        return Ok(());
                    }
                },
                Err(StoreError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let starting = started.ok_or_else(|| crate::retry::lost_every_race("the step's record"))?;
        let executed = self.execute(call, starting, reply).await;
        if let Err(e) = &executed
            && e.is_transient()
        {
            self.abandon_start(message).await;
        }
        executed.map(drop)
    }

    /// Gives up this worker's start of a step whose try failed for a passing reason, so
    /// that the redelivery runs it at once instead of waiting out the step lease meant
    /// for a worker that may still be running it. If this write fails too, the lease
    /// still ends.
    pub(super) async fn abandon_start(&self, message: &StepMessage) {
        let key = step_key(&message.tenant, &message.run, &message.step);
        let Ok((record, version, _)) = read_step(self, &key).await else {
            return;
        };
        let ours = record.started_attempt == Some(message.attempt)
            && record.started_by.as_deref() == Some(self.ports.worker_instance.as_str())
            && !record.status.is_some_and(|s| s.is_terminal());
        if ours {
            let release = vec![Change::Remove("started_attempt".into())];
            let _ = self
                .ctx
                .store
                .update(&key, release, write_condition(version))
                .await;
        }
    }
}

/// When this token's attempt was started, if it was: a redelivered message finds it so.
fn started_with(record: &StepRecord, token: &str, attempt: u32) -> Option<chrono::DateTime<Utc>> {
    if record.token.as_deref() != Some(token) || record.started_attempt != Some(attempt) {
        return None;
    }
    record
        .attempts
        .iter()
        .find(|a| a.number == attempt + 1)
        .map(|a| a.started_at)
}

/// The attempt (retry count) if it already finished: its outcome only needs resending.
pub(super) fn finished_attempt(record: &StepRecord, attempt: u32) -> Option<u32> {
    record
        .attempts
        .iter()
        .find(|a| a.number == attempt + 1 && a.finished_at.is_some())
        .map(|_| attempt)
}
