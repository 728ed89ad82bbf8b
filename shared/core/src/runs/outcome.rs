//! How a step ends: record the outcome, release the steps waiting on it (see
//! `release.rs`), answer the engine. Recording comes first, so a crash before the answer
//! is repaired by the engine's re-dispatch finding the recorded outcome.

use serde_json::{Value, json};

use super::Runs;
use super::call::StepCall;
use super::model::{Attempt, RunError, StepMessage, StepRecord, StepStatus};
use super::values::Part;
use super::worker::{read_step, set, write_condition};
use crate::error::{Error, Result};
use crate::metrics::AttemptOutcome;
use crate::ports::{Change, Condition, StoreError};
use crate::records::step_key;
use crate::steps::{MAX_CAUSE_CHARS, MAX_ERROR_CHARS, clip};
use crate::workflows::compile::StepErrorName;
use crate::workflows::definition::OnFailure;

/// Where a step's outcome goes: the engine's task token (standard), or straight back to
/// the caller (express: the synchronous invoke's result).
pub(crate) enum Reply {
    Token(String),
    Now,
}

type Outcome = std::result::Result<Value, RunError>;

fn retryable(error: &str) -> bool {
    StepErrorName::is_retried(error)
}

impl Runs {
    pub(crate) async fn complete(
        &self,
        call: StepCall<'_>,
        output: Value,
        started: Option<&[Attempt]>,
        reply: Reply,
    ) -> Result<Outcome> {
        let message = call.message;
        let key = step_key(&message.tenant, &message.run, &message.step);
        let mut changes = vec![set("status", StepStatus::Succeeded)];
        changes.extend(self.success_changes(&key, self.ctx.now(), &output).await?);
        let data = json!({ "attempt": message.attempt + 1 });
        self.record_attempt(
            message,
            started,
            None,
            changes,
            (AttemptOutcome::Succeeded, data),
        )
        .await?;
        self.succeeded(call, reply).await
    }

    /// What a step's record gets, its status and attempts apart, when it succeeded with
    /// `output` at `now`.
    pub(crate) async fn success_changes(
        &self,
        key: &crate::ports::Key,
        now: chrono::DateTime<chrono::Utc>,
        output: &Value,
    ) -> Result<Vec<Change>> {
        let mut changes = vec![set("error", Value::Null), set("finished_at", now)];
        changes.extend(self.place_value(key, Part::Output, output).await?);
        Ok(changes)
    }

    /// A step whose end its start's write recorded (see `prepare`): what `complete` does
    /// once the end is recorded.
    pub(crate) async fn completed_with_start(
        &self,
        call: StepCall<'_>,
        took: Option<std::time::Duration>,
        reply: Reply,
    ) -> Result<Outcome> {
        let outcome = AttemptOutcome::Succeeded;
        tracing::Span::current().record("skein.outcome", outcome.as_str());
        crate::metrics::step_attempt_ended(outcome, took);
        self.succeeded(call, reply).await
    }

    /// Releases a succeeded step's dependents and answers for it.
    async fn succeeded(&self, call: StepCall<'_>, reply: Reply) -> Result<Outcome> {
        self.release(call).await?;
        let answer = json!({ "step": call.step().id, "status": "succeeded" });
        self.answer(reply, Ok(answer)).await
    }

    /// A failed attempt: retried by the engine while attempts remain and the error is
    /// retryable; otherwise the step fails, and the run with it unless `on_failure: continue`.
    pub(crate) async fn fail(
        &self,
        call: StepCall<'_>,
        failure: RunError,
        started: Option<&[Attempt]>,
        reply: Reply,
    ) -> Result<Outcome> {
        let message = call.message;
        let step = call.step();
        // An agent's error message can be long: the record and the engine get what Step
        // Functions accepts, so that every attempt's error fits the step's record.
        let failure = RunError {
            error: clip(&failure.error, MAX_ERROR_CHARS),
            cause: clip(&failure.cause, MAX_CAUSE_CHARS),
        };
        let last = !retryable(&failure.error) || message.attempt + 1 >= step.max_attempts();
        let now = self.ctx.now();
        let mut changes = vec![set("error", &failure)];
        if last {
            changes.push(set("status", StepStatus::Failed));
            changes.push(set("finished_at", now));
        } else {
            changes.push(set("status", StepStatus::Waiting));
        }
        let outcome = if last {
            AttemptOutcome::Failed
        } else {
            AttemptOutcome::Retrying
        };
        let data = json!({ "attempt": message.attempt + 1, "error": failure.error, "cause": failure.cause });
        self.record_attempt(
            message,
            started,
            Some(failure.clone()),
            changes,
            (outcome, data),
        )
        .await?;
        if last && step.on_failure == OnFailure::Continue {
            self.release(call).await?;
            return self
                .answer(reply, Ok(json!({ "step": step.id, "status": "failed" })))
                .await;
        }
        self.answer(reply, Err(failure)).await
    }

    /// Writes `changes` with the attempt closed. The worker that started the attempt knows
    /// the attempts (`started`) and writes at once; anyone else reads them first.
    async fn record_attempt(
        &self,
        message: &StepMessage,
        started: Option<&[Attempt]>,
        error: Option<RunError>,
        mut changes: Vec<Change>,
        (outcome, data): (AttemptOutcome, Value),
    ) -> Result<()> {
        let now = self.ctx.now();
        let attempt = message.attempt;
        // The step's span, when this is the worker that ran the attempt.
        let span = tracing::Span::current();
        span.record("skein.outcome", outcome.as_str());
        if outcome != AttemptOutcome::Succeeded {
            span.record("otel.status_code", "ERROR");
        }
        let kind = match outcome {
            AttemptOutcome::Succeeded => "step.succeeded",
            AttemptOutcome::Retrying => "step.retrying",
            AttemptOutcome::Failed => "step.failed",
        };
        if let Some(started) = started {
            let record = StepRecord {
                attempts: started.to_vec(),
                ..StepRecord::default()
            };
            let attempts = close_attempt(&record, attempt, now, error);
            let took = attempt_duration(&attempts, attempt);
            changes.push(set("attempts", attempts));
            self.update_logged(message, changes, Condition::Exists, kind, data)
                .await?;
            crate::metrics::step_attempt_ended(outcome, took);
            return Ok(());
        }
        let key = step_key(&message.tenant, &message.run, &message.step);
        for _ in crate::retry::races() {
            let (record, version, _) = read_step(self, &key).await?;
            let mut all = changes.clone();
            let attempts = close_attempt(&record, attempt, now, error.clone());
            let took = attempt_duration(&attempts, attempt);
            all.push(set("attempts", attempts));
            match self
                .update_logged(message, all, write_condition(version), kind, data.clone())
                .await
            {
                Ok(()) => {
                    crate::metrics::step_attempt_ended(outcome, took);
                    return Ok(());
                }
                Err(StoreError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(crate::retry::lost_every_race("the step's record"))
    }

    /// Answers again for an attempt that already ended (a redelivered message, a result
    /// reported twice), and releases its dependents again: the first try may have
    /// stopped after recording the end but before it released them or reached the engine.
    pub(crate) async fn resend(
        &self,
        call: StepCall<'_>,
        record: &StepRecord,
        attempt: u32,
        reply: Reply,
    ) -> Result<()> {
        let step = call.step();
        let error = record
            .attempts
            .iter()
            .find(|a| a.number == attempt + 1)
            .and_then(|a| a.error.clone());
        let last = error
            .as_ref()
            .is_none_or(|e| !retryable(&e.error) || attempt + 1 >= step.max_attempts());
        let releases = error.is_none() || (last && step.on_failure == OnFailure::Continue);
        if releases {
            self.release(call).await?;
        }
        let outcome = match error {
            None => Ok(json!({ "step": step.id, "status": "succeeded" })),
            Some(_) if last && step.on_failure == OnFailure::Continue => {
                Ok(json!({ "step": step.id, "status": "failed" }))
            }
            Some(e) => Err(e),
        };
        self.answer(reply, outcome).await.map(drop)
    }

    pub(crate) async fn answer(&self, reply: Reply, outcome: Outcome) -> Result<Outcome> {
        if let Reply::Token(token) = &reply {
            match &outcome {
                Ok(value) => self.send_success(token, value).await?,
                Err(e) => self.send_failure(token, &e.error, &e.cause).await?,
            }
        }
        Ok(outcome)
    }

    /// Tells the engine the step succeeded. An engine that no longer waits (the run ended
    /// or was stopped) is fine; one that cannot be reached is an error, so that the caller
    /// tries again (the queue redelivers, the API answers 503) rather than the run waiting
    /// for an answer that was dropped. The step's outcome is already recorded, so a retry
    /// only sends it again.
    pub(crate) async fn send_success(&self, token: &str, value: &Value) -> Result<()> {
        let sent = self.ports.engine.send_task_success(token, value).await;
        engine_answered(sent)
    }

    pub(crate) async fn send_failure(&self, token: &str, error: &str, cause: &str) -> Result<()> {
        let sent = self
            .ports
            .engine
            .send_task_failure(token, error, cause)
            .await;
        engine_answered(sent)
    }
}

/// The attempts with this one closed (and given its error, if any).
/// How long the closed attempt ran, from its start to its close.
pub(super) fn attempt_duration(attempts: &[Attempt], attempt: u32) -> Option<std::time::Duration> {
    let closed = attempts.iter().find(|a| a.number == attempt + 1)?;
    (closed.finished_at? - closed.started_at).to_std().ok()
}

fn close_attempt(
    record: &StepRecord,
    attempt: u32,
    now: chrono::DateTime<chrono::Utc>,
    error: Option<RunError>,
) -> Vec<Attempt> {
    let number = attempt + 1;
    let mut attempts = record.attempts.clone();
    match attempts.iter_mut().find(|a| a.number == number) {
        Some(a) => {
            a.finished_at = Some(now);
            a.error = error;
        }
        None => attempts.push(Attempt {
            number,
            started_at: now,
            finished_at: Some(now),
            error,
        }),
    }
    attempts
}

/// Whether an answer reached the engine, or there was nobody left waiting for it.
fn engine_answered(sent: std::result::Result<(), crate::ports::EngineError>) -> Result<()> {
    use crate::ports::EngineError;
    match sent {
        Ok(()) => Ok(()),
        Err(e @ (EngineError::TaskDoesNotExist | EngineError::NotFound(_))) => {
            tracing::info!(error = %e, "the engine no longer waits for this step (run ended or stopped)");
            Ok(())
        }
        Err(EngineError::Unavailable(detail)) => Err(Error::Unavailable(format!(
            "the workflow engine did not take a step's answer: {detail}"
        ))),
        Err(other) => Err(Error::Internal(format!(
            "the workflow engine refused a step's answer: {other}"
        ))),
    }
}
