//! Starting a step: what it starts with is read and its input rendered, so that one write
//! records the start, the attempt and the input together; a step whose builtin only
//! computes is run first, and that write records its end as well.

use chrono::Utc;
use serde_json::{Value, json};

use super::Runs;
use super::call::StepCall;
use super::model::{Attempt, RunError, StepMessage, StepRecord, StepStatus};
use super::values::Part;
use super::worker::set;
use crate::error::Result;
use crate::ports::{Change, Condition};
use crate::records::step_key;
use crate::workflows::definition::StepKind;

impl Runs {
    /// Reads what the step starts with and renders its input, so that one write records
    /// the start, the attempt and the input together. A step whose builtin only computes
    /// is run here, and when it succeeds that write records its end too.
    pub(super) async fn prepare(
        &self,
        call: StepCall<'_>,
        record: &StepRecord,
        run: Option<super::model::Run>,
    ) -> Result<(Starting, Vec<Change>)> {
        let StepCall {
            message,
            workflow,
            index,
            ..
        } = call;
        let step = call.step();
        let started_at = self.ctx.now();
        let run = match run {
            Some(run) => run,
            None => self.run_record(&message.tenant, &message.run).await?,
        };
        let scope = self.scope_for(run.clone(), workflow, Some(index)).await?;
        let rendered = match (step.kind, &step.input) {
            (StepKind::Map, _) | (_, None) => Ok(Value::Null),
            (_, Some(template)) => super::scope::render_step_input(&step.id, template, &scope),
        };
        let (input, refused) = match rendered {
            Ok(input) => (input, None),
            Err(failure) => (Value::Null, Some(failure)),
        };
        let computed = match self.only_computes(call) {
            Some(name) if refused.is_none() => {
                Some(self.run_builtin(call, name, input.clone(), None).await?)
            }
            _ => None,
        };
        let ended_at = match &computed {
            Some(Ok(_)) => Some(self.ctx.now()),
            _ => None,
        };
        let mut changes = start_changes(
            record,
            message,
            &self.ports.worker_instance,
            started_at,
            ended_at,
        );
        let attempts = match changes.last() {
            Some(Change::Set(_, value)) => {
                serde_json::from_value(value.clone()).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let key = step_key(&message.tenant, &message.run, &message.step);
        if step.kind != StepKind::Map {
            changes.extend(self.place_value(&key, Part::Input, &input).await?);
        }
        if let (Some(Ok(output)), Some(ended_at)) = (&computed, ended_at) {
            changes.extend(self.success_changes(&key, ended_at, output).await?);
        }
        Ok((
            Starting {
                run,
                scope,
                input,
                refused,
                attempts,
                computed,
                span: tracing::Span::current(),
            },
            changes,
        ))
    }

    /// The step's builtin, if it only computes (see
    /// [`BuiltinAgents::only_computes`](crate::ports::BuiltinAgents::only_computes)).
    fn only_computes<'a>(&self, call: StepCall<'a>) -> Option<&'a str> {
        let step = call.step();
        let builtins = self.ports.builtins.as_ref()?;
        let name = step.builtin.as_deref()?;
        let computes = step.kind == StepKind::Task
            && call.message.index.is_none()
            && builtins.only_computes(name);
        computes.then_some(name)
    }

    /// Writes a step's start as `prepare` made it, with the events it logs.
    pub(super) async fn write_start(
        &self,
        message: &StepMessage,
        starting: &Starting,
        changes: Vec<Change>,
        condition: Condition,
    ) -> std::result::Result<(), crate::ports::StoreError> {
        let data = json!({ "attempt": message.attempt + 1 });
        let mut events = vec![("step.started", data.clone())];
        if starting.ends_with_start() {
            events.push(("step.succeeded", data));
        }
        self.update_logging(message, changes, condition, events)
            .await
    }
}

/// What a started step needs: read once, before its start is recorded.
pub(crate) struct Starting {
    pub(super) run: super::model::Run,
    pub(super) scope: super::scope::StepScope,
    pub(super) input: Value,
    /// Why the step fails without running (its input rendered too large).
    pub(super) refused: Option<RunError>,
    /// The attempts as the start recorded them.
    pub(super) attempts: Vec<Attempt>,
    /// The step's outcome, when its builtin only computes and ran before the start was
    /// written. A success is written with the start, as the step's end.
    pub(super) computed: Option<std::result::Result<Value, RunError>>,
    /// The step's span (current when it was prepared), where the rest of the attempt runs.
    pub(super) span: tracing::Span,
}

impl Starting {
    /// Whether the start's write records the step's end too.
    pub(crate) fn ends_with_start(&self) -> bool {
        matches!(self.computed, Some(Ok(_)))
    }

    /// How long attempt `attempt` ran, when its start recorded its end.
    pub(super) fn took(&self, attempt: u32) -> Option<std::time::Duration> {
        self.ends_with_start()
            .then(|| super::outcome::attempt_duration(&self.attempts, attempt))
            .flatten()
    }
}

/// The changes that mark the step running for this message's attempt (attempts last),
/// or, when it `ended` already, succeeded.
fn start_changes(
    record: &StepRecord,
    message: &StepMessage,
    worker: &str,
    now: chrono::DateTime<Utc>,
    ended: Option<chrono::DateTime<Utc>>,
) -> Vec<Change> {
    let number = message.attempt + 1;
    let mut attempts: Vec<Attempt> = record
        .attempts
        .iter()
        .filter(|a| a.number < number)
        .cloned()
        .collect();
    attempts.push(Attempt {
        number,
        started_at: now,
        finished_at: ended,
        error: None,
    });
    let status = match ended {
        Some(_) => StepStatus::Succeeded,
        None => StepStatus::Running,
    };
    vec![
        set("started_attempt", message.attempt),
        set("started_by", worker),
        set("status", status),
        set("attempts", attempts),
    ]
}
