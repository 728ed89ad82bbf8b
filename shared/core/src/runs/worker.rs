//! The step-worker: takes a step message, waits for the step's dependencies, starts it
//! exactly once per attempt (a redelivered message finds the attempt started and leased),
//! and runs it.

use serde_json::{Map, Value};
use tracing::Instrument;

use super::Runs;
use super::call::{NextStep, Ready, StepCall};
use super::model::{RunError, StepMessage, StepRecord};
use super::outcome::Reply;
use super::start::Starting;
use crate::error::{Error, Result};
use crate::ports::{Change, Condition, Key};
use crate::records::{from_item, step_key};
use crate::workflows::compile::{StepErrorName, StepPhase};
use crate::workflows::definition::StepKind;

/// The attribute a step's record gets when dependency `dep` is done.
pub(crate) fn done_flag(dep: &str) -> String {
    format!("done:{dep}")
}

pub(crate) fn set<T: serde::Serialize>(name: &str, value: T) -> Change {
    Change::Set(
        name.to_string(),
        serde_json::to_value(value).unwrap_or(Value::Null),
    )
}

pub(crate) fn write_condition(version: u64) -> Condition {
    if version == 0 {
        Condition::NotExists
    } else {
        Condition::VersionIs(version)
    }
}

/// A step's record, its store version (0 when absent) and its raw attributes.
pub(crate) async fn read_step(
    runs: &Runs,
    key: &Key,
) -> Result<(StepRecord, u64, Map<String, Value>)> {
    match runs.ctx.store.get(key).await? {
        None => Ok((StepRecord::default(), 0, Map::new())),
        Some(item) => {
            let body = item.body.clone();
            let (record, version) = from_item::<StepRecord>(item)?;
            Ok((record, version, body))
        }
    }
}

/// The span of one step message's handling, named for the step, with what identifies
/// it; `outcome` is recorded when the attempt ends.
fn new_step_span(message: &StepMessage) -> tracing::Span {
    tracing::info_span!(
        "step",
        otel.name = %format!("step {}", message.step),
        skein.tenant = %message.tenant,
        skein.workflow = %message.workflow,
        skein.run = %message.run,
        skein.step = %message.step,
        skein.attempt = message.attempt + 1,
        skein.phase = message.phase.as_str(),
        skein.item = message.index,
        skein.outcome = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        error = tracing::field::Empty,
    )
}

impl Runs {
    /// The span of one step message's handling, in `run`'s trace.
    pub(super) fn step_span(
        &self,
        message: &StepMessage,
        run: &super::model::Run,
    ) -> tracing::Span {
        let span = new_step_span(message);
        if let Some(parent) = &run.trace {
            self.ctx.traces.continue_from(&span, parent);
        }
        span
    }

    /// Handles one step message of a standard workflow (the SQS consumer's job), then,
    /// for up to `inline_for`, the steps it made ready: the next step of a chain runs in
    /// this call rather than costing another message and invocation, and its start is
    /// recorded in the write that marks its dependency done (see `release`). Other ready
    /// steps (parallel branches) go to the dispatcher, and so does the next step once the
    /// time is up or if running it here fails (its start given up first, so that the
    /// delivery need not wait out the step's lease).
    pub async fn handle_step(&self, message: StepMessage) -> Result<()> {
        if self.ports.inline_for <= chrono::Duration::zero() {
            return self.handle_one(message, None).await;
        }
        let next = NextStep::until(self.ctx.now() + self.ports.inline_for);
        if let Err(e) = self.handle_one(message, Some(&next)).await {
            if let Some(ready) = next.take() {
                self.give_back(ready).await?;
            }
            return Err(e);
        }
        while let Some(ready) = next.take() {
            let handled = match ready {
                Ready::Message(woken) if next.is_past(self.ctx.now()) => {
                    self.wake(woken).await?;
                    break;
                }
                Ready::Message(woken) => self
                    .handle_one(woken.clone(), Some(&next))
                    .await
                    .map_err(|e| (e, woken)),
                // A failed try gives its start up itself (see `run_started`).
                Ready::Started(woken, starting) => self
                    .run_started(woken.clone(), *starting, &next)
                    .await
                    .map_err(|e| (e, woken)),
            };
            if let Err((e, woken)) = handled {
                tracing::warn!(error = %e, step = %woken.step, "running a ready step in this call failed; it goes to the queue");
                self.wake(woken).await?;
                if let Some(also) = next.take() {
                    self.give_back(also).await?;
                }
                break;
            }
        }
        Ok(())
    }

    /// Hands a kept step to the step queue, after giving up its start if this call
    /// recorded one, so that the delivery runs it at once instead of after the lease.
    pub(super) async fn give_back(&self, ready: Ready) -> Result<()> {
        let message = match ready {
            Ready::Message(message) => message,
            Ready::Started(message, _) => {
                self.abandon_start(&message).await;
                message
            }
        };
        self.wake(message).await
    }

    /// The workflow version a message's step belongs to, and the step's place in it.
    async fn step_of(
        &self,
        message: &StepMessage,
    ) -> Result<(std::sync::Arc<crate::workflows::Workflow>, usize)> {
        let workflow = self
            .workflows
            .compiled(&message.tenant, &message.workflow, message.version)
            .await?;
        let index = workflow
            .dag
            .index(&message.step)
            .ok_or(Error::NotFound { what: "step" })?;
        Ok((workflow, index))
    }

    /// Runs a step whose start `release` recorded (see [`Ready::Started`]).
    async fn run_started(
        &self,
        message: StepMessage,
        starting: Starting,
        next: &NextStep,
    ) -> Result<()> {
        let token = message.token.clone().ok_or_else(|| {
            Error::invalid("$.token", "a standard step message carries its task token")
        })?;
        let (workflow, index) = self.step_of(&message).await?;
        let span = starting.span.clone();
        let call = StepCall {
            next: Some(next),
            ..StepCall::new(&message, &workflow, index)
        };
        let executed = self
            .execute(call, starting, Reply::Token(token))
            .instrument(span.clone())
            .await;
        if let Err(e) = &executed {
            span.record("otel.status_code", "ERROR");
            span.record("error", tracing::field::display(e));
            if e.is_transient() {
                self.abandon_start(&message).await;
            }
        }
        executed.map(drop)
    }

    async fn handle_one(&self, message: StepMessage, next: Option<&NextStep>) -> Result<()> {
        let token = message.token.clone().ok_or_else(|| {
            Error::invalid("$.token", "a standard step message carries its task token")
        })?;
        let workflow = self
            .workflows
            .compiled(&message.tenant, &message.workflow, message.version)
            .await?;
        let Some(index) = workflow.dag.index(&message.step) else {
            let cause = format!(
                "workflow {} v{} has no step `{}`",
                message.workflow, message.version, message.step
            );
            return self
                .send_failure(&token, StepErrorName::Internal.as_str(), &cause)
                .await;
        };
        let run = self.run_record(&message.tenant, &message.run).await?;
        if run.status.is_terminal() {
            return Ok(());
        }
        let span = self.step_span(&message, &run);
        let reply = Reply::Token(token);
        let call = StepCall {
            next,
            ..StepCall::new(&message, &workflow, index)
        };
        let handled = async {
            match message.phase {
                StepPhase::Run | StepPhase::Items => self.on_dispatch(call, run, reply).await,
                StepPhase::Item => self.run_item(call, reply).await.map(drop),
                StepPhase::Collect => self.collect(call, reply).await.map(drop),
            }
        }
        .instrument(span.clone())
        .await;
        if let Err(e) = &handled {
            span.record("otel.status_code", "ERROR");
            span.record("error", tracing::field::display(e));
        }
        handled
    }

    /// Runs one step message of an express workflow to its result, with no token.
    pub async fn run_step_now(
        &self,
        message: StepMessage,
    ) -> Result<std::result::Result<Value, RunError>> {
        let (workflow, index) = self.step_of(&message).await?;
        match message.phase {
            StepPhase::Item => {
                self.run_item(StepCall::new(&message, &workflow, index), Reply::Now)
                    .await
            }
            StepPhase::Collect => {
                self.collect(StepCall::new(&message, &workflow, index), Reply::Now)
                    .await
            }
            StepPhase::Run | StepPhase::Items => {
                let key = step_key(&message.tenant, &message.run, &message.step);
                let (record, version, _) = read_step(self, &key).await?;
                let (starting, changes) = self
                    .prepare(StepCall::new(&message, &workflow, index), &record, None)
                    .await?;
                self.write_start(&message, &starting, changes, write_condition(version))
                    .await?;
                self.execute(
                    StepCall::new(&message, &workflow, index),
                    starting,
                    Reply::Now,
                )
                .await
            }
        }
    }

    /// Does the step's work, or sets it going (remote agents, approvals, sub-workflows
    /// and map fan-outs finish later).
    pub(super) async fn execute(
        &self,
        call: StepCall<'_>,
        starting: Starting,
        reply: Reply,
    ) -> Result<std::result::Result<Value, RunError>> {
        let step = call.step();
        let took = starting.took(call.message.attempt);
        let Starting {
            run,
            scope,
            input,
            refused,
            attempts,
            computed,
            span: _,
        } = starting;
        if let Some(failure) = refused {
            return self.fail(call, failure, Some(&attempts), reply).await;
        }
        if step.kind == StepKind::Map {
            return self.fan_out(call, &scope, reply).await;
        }
        match step.kind {
            StepKind::Approval => {
                self.request_approval(call, &scope, reply).await?;
                Ok(Ok(Value::Null))
            }
            StepKind::Workflow => self.start_child(call, &run, input, reply).await,
            _ => match computed {
                // Its end was written with its start.
                Some(Ok(_)) => self.completed_with_start(call, took, reply).await,
                Some(Err(failure)) => self.fail(call, failure, Some(&attempts), reply).await,
                None => match self.perform(call, input, None).await? {
                    Some(Ok(output)) => self.complete(call, output, Some(&attempts), reply).await,
                    Some(Err(failure)) => self.fail(call, failure, Some(&attempts), reply).await,
                    None => Ok(Ok(Value::Null)),
                },
            },
        }
    }
}
