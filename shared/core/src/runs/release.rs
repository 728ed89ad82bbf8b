//! What a step's end sets going: each dependent is marked done, and one made ready is
//! started in that same write and kept for the worker call to run next, or handed to
//! the step queue.

use serde_json::Value;
use tracing::Instrument;

use super::Runs;
use super::call::{Ready, StepCall};
use super::dispatch::finished_attempt;
use super::model::{StepMessage, StepRecord};
use super::start::Starting;
use super::worker::{done_flag, read_step, set, write_condition};
use crate::error::{Error, Result};
use crate::ports::{Condition, StoreError};
use crate::records::step_key;
use crate::workflows::compile::StepPhase;

impl Runs {
    /// Marks this step done in each dependent's record; a dependent whose dependencies
    /// are now all done and whose message has arrived is woken: the first one is left
    /// for this worker call to run next (see `handle_step`), started in the same write
    /// as its flag when it can be, and the others are dispatched.
    pub(crate) async fn release(&self, call: StepCall<'_>) -> Result<()> {
        let StepCall {
            message,
            workflow,
            index,
            ..
        } = call;
        let flag = done_flag(&workflow.dag.ids[index]);
        for &dependent in &workflow.dag.dependents[index] {
            if let Some(next) = call.next
                && next.has_room(self.ctx.now())
                && let Some((woken, starting)) = self.start_released(call, dependent).await?
            {
                if let Some(back) = next.keep(Ready::Started(woken, Box::new(starting))) {
                    self.give_back(back).await?;
                }
                continue;
            }
            let id = &workflow.dag.ids[dependent];
            let key = step_key(&message.tenant, &message.run, id);
            let item = self
                .ctx
                .store
                .update(
                    &key,
                    vec![crate::ports::Change::Set(flag.clone(), Value::Bool(true))],
                    Condition::Always,
                )
                .await?;
            let ready = workflow.dag.deps[dependent]
                .iter()
                .all(|&d| item.body.contains_key(&done_flag(&workflow.dag.ids[d])));
            let record: StepRecord =
                serde_json::from_value(Value::Object(item.body)).unwrap_or_default();
            let (Some(token), Some(attempt)) = (record.token, record.token_attempt) else {
                continue;
            };
            // Not started yet: it can start now. Already ended: its answer may have been
            // lost (a redelivery brought us here), and waking it sends the answer again.
            let ended = record.status.is_some_and(|s| s.is_terminal());
            if ready && (record.started_attempt != Some(attempt) || ended) {
                let wake = woken_message(call, dependent, attempt, token);
                let wake = match call.next {
                    Some(next) => next.offer(wake),
                    None => Some(wake),
                };
                if let Some(wake) = wake {
                    self.wake(wake).await?;
                }
            }
        }
        Ok(())
    }

    /// Starts `dependent` in the write that marks this step done in its record, when that
    /// makes it ready and its message is parked there waiting; `None` (nothing written)
    /// when it is not, or when its record changed meanwhile: the flag alone is written
    /// then, as usual.
    async fn start_released(
        &self,
        call: StepCall<'_>,
        dependent: usize,
    ) -> Result<Option<(StepMessage, Starting)>> {
        let StepCall {
            message,
            workflow,
            index,
            ..
        } = call;
        let key = step_key(&message.tenant, &message.run, &workflow.dag.ids[dependent]);
        let (record, version, body) = read_step(self, &key).await?;
        let (Some(token), Some(attempt)) = (record.token.clone(), record.token_attempt) else {
            return Ok(None);
        };
        let ready = workflow.dag.deps[dependent]
            .iter()
            .all(|&d| d == index || body.contains_key(&done_flag(&workflow.dag.ids[d])));
        let untouched = record.started_attempt != Some(attempt)
            && !record.status.is_some_and(|s| s.is_terminal())
            && finished_attempt(&record, attempt).is_none();
        if !ready || !untouched {
            return Ok(None);
        }
        let run = self.run_record(&message.tenant, &message.run).await?;
        if run.status.is_terminal() {
            return Ok(None);
        }
        let woken = woken_message(call, dependent, attempt, token);
        let dependent_call = StepCall::new(&woken, workflow, dependent);
        // Prepared in its own span: a builtin that only computes runs in it.
        let span = self.step_span(&woken, &run);
        let (starting, mut changes) = self
            .prepare(dependent_call, &record, Some(run))
            .instrument(span)
            .await?;
        changes.push(set(&done_flag(&workflow.dag.ids[index]), true));
        let written = self
            .write_start(&woken, &starting, changes, write_condition(version))
            .await;
        match written {
            Ok(()) => Ok(Some((woken, starting))),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(e) => {
                // The write may have happened with its answer lost: then nobody else would
                // run the step (a redelivered release finds it started). It goes to the
                // queue with its start given up, which runs it, or parks it again if the
                // write did not happen.
                self.give_back(Ready::Started(woken, Box::new(starting)))
                    .await?;
                Err(e.into())
            }
        }
    }

    /// Hands a ready step to the dispatcher (the step queue). Its own message was parked
    /// when it arrived before its dependencies were done, so nobody else would send it:
    /// a failure is the caller's, whose message is then delivered again and releases it
    /// again.
    pub(crate) async fn wake(&self, wake: StepMessage) -> Result<()> {
        self.ports.dispatch.dispatch(wake).await.map_err(|e| {
            Error::Unavailable(format!(
                "could not hand a ready step to the step queue: {e}"
            ))
        })
    }
}

/// The message that runs `dependent`, made ready by `call`'s step, for its parked
/// `attempt` and `token`.
fn woken_message(call: StepCall<'_>, dependent: usize, attempt: u32, token: String) -> StepMessage {
    let workflow = call.workflow;
    StepMessage {
        step: workflow.dag.ids[dependent].clone(),
        phase: if workflow.definition.steps[dependent].kind == crate::workflows::StepKind::Map {
            StepPhase::Items
        } else {
            StepPhase::Run
        },
        attempt,
        index: None,
        token: Some(token),
        ..call.message.clone()
    }
}
