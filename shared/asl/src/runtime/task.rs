//! Task states: call the resource's handler, or dispatch a task token and wait for it, with
//! TimeoutSeconds and HeartbeatSeconds.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::clock::Sleep;
use super::data_flow::{context, fill};
use super::engine::{Frame, Step};
use super::execution::{Shared, TokenSignal};
use super::history::{EventType, HistoryEvent};
use super::recovery::{self, Work};
use super::{Failure, TaskCall, payload};
use crate::errors;
use crate::machine::{self, State};

pub(crate) async fn run(
    shared: &Arc<Shared>,
    state: &State,
    task: &machine::Task,
    input: Value,
    entered: DateTime<Utc>,
    frame: &mut Frame,
) -> Result<Step, Failure> {
    recovery::run(shared, state, Work::Task(task), input, entered, frame).await
}

/// Deterministic for a given secret and position, so a replayed execution issues the same
/// tokens; unguessable without the secret.
fn mint_token(shared: &Shared, frame: &Frame, state: &State, retry_count: u32) -> String {
    let mut hash = Sha256::new();
    for part in [
        shared.config.token_secret.as_bytes(),
        shared.info.name.as_bytes(),
        frame.location.as_bytes(),
        state.name.as_bytes(),
    ] {
        hash.update(part);
        hash.update([0u8]);
    }
    hash.update(frame.steps.to_be_bytes());
    hash.update(retry_count.to_be_bytes());
    URL_SAFE_NO_PAD.encode(hash.finalize())
}

fn sleep_for(shared: &Shared, duration: Option<Duration>) -> Sleep {
    match duration {
        Some(duration) => shared.config.clock.deadline(duration),
        None => Box::pin(std::future::pending()),
    }
}

fn left(shared: &Shared, since: DateTime<Utc>, limit: Option<f64>) -> Option<Duration> {
    let limit = limit?;
    let spent = (shared.now() - since)
        .to_std()
        .unwrap_or_default()
        .as_secs_f64();
    Some(Duration::from_secs_f64((limit - spent).max(0.0)))
}

pub(crate) async fn attempt(
    shared: &Arc<Shared>,
    state: &State,
    task: &machine::Task,
    effective: &Value,
    entered: DateTime<Utc>,
    retry_count: u32,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    let token = task
        .wait_for_token
        .then(|| mint_token(shared, frame, state, retry_count));
    let (parameters, timeout, heartbeat) = {
        let mut ctx = context(shared, state, entered, retry_count);
        ctx.task_token = token.as_deref();
        let parameters = match &task.parameters {
            Some(template) => fill(template, effective, &ctx, &frame.variables)?,
            None => effective.clone(),
        };
        let seconds = |n: &Option<machine::Number>, field| {
            n.as_ref()
                .map(|n| payload::number(n, effective, &ctx, &frame.variables, field))
                .transpose()
        };
        (
            parameters,
            seconds(&task.timeout, "TimeoutSecondsPath")?,
            seconds(&task.heartbeat, "HeartbeatSecondsPath")?,
        )
    };

    let scheduled = HistoryEvent::new(EventType::TaskScheduled, shared.now())
        .state(&state.name)
        .task(&task.resource, shared.payload(&parameters));
    frame.previous = shared.record(frame.previous, scheduled);

    let Some(handler) = shared.config.resources.resolve(&task.resource).cloned() else {
        return Err(Failure::runtime(format!(
            "No handler is registered for Task resource '{}' (state '{}'). Register one with Resources::register, or give `skein asl run` a --task-output for it.",
            task.resource, state.name
        )));
    };
    frame.previous = shared.record(
        frame.previous,
        HistoryEvent::new(EventType::TaskStarted, shared.now())
            .state(&state.name)
            .task(&task.resource, None),
    );

    let call = TaskCall {
        resource: task.resource.clone(),
        parameters,
        task_token: token.clone(),
        credentials: task.credentials.clone(),
        execution_name: shared.info.name.clone(),
        state_name: state.name.clone(),
        retry_count,
    };
    let started = shared.now();
    let result = match token {
        None if timeout.is_none() => handler.call(call).await.map_err(Failure::from),
        None => tokio::select! {
            result = handler.call(call) => result.map_err(Failure::from),
            _ = sleep_for(shared, left(shared, started, timeout)) => Err(timed_out(errors::TIMEOUT, state)),
        },
        Some(token) => {
            let (sender, receiver) = mpsc::unbounded_channel();
            shared
                .tokens
                .lock()
                .expect("token lock")
                .insert(token.clone(), sender);
            let result = wait_for_token(
                shared,
                state,
                handler.call(call),
                receiver,
                timeout,
                heartbeat,
                frame,
            )
            .await;
            shared.tokens.lock().expect("token lock").remove(&token);
            result
        }
    };
    let result = result.and_then(|output| {
        payload::check_size(
            shared,
            &output,
            format_args!("The result of state '{}'", state.name),
        )
        .map(|_| output)
    });
    let event = match &result {
        Ok(output) => {
            HistoryEvent::new(EventType::TaskSucceeded, shared.now()).output(shared.payload(output))
        }
        Err(f) if f.error == errors::TIMEOUT || f.error == errors::HEARTBEAT_TIMEOUT => {
            HistoryEvent::new(EventType::TaskTimedOut, shared.now()).failure(&f.error, &f.cause)
        }
        Err(f) => {
            HistoryEvent::new(EventType::TaskFailed, shared.now()).failure(&f.error, &f.cause)
        }
    };
    let event = event.state(&state.name).task(&task.resource, None);
    frame.previous = shared.record(frame.previous, event);
    result
}

fn timed_out(error: &str, state: &State) -> Failure {
    let what = if error == errors::HEARTBEAT_TIMEOUT {
        "sent no heartbeat within HeartbeatSeconds"
    } else {
        "did not finish within TimeoutSeconds"
    };
    Failure::new(error, format!("The task of state '{}' {what}", state.name))
}

async fn wait_for_token(
    shared: &Shared,
    state: &State,
    dispatch: impl std::future::Future<Output = Result<Value, super::TaskError>>,
    mut receiver: mpsc::UnboundedReceiver<TokenSignal>,
    timeout: Option<f64>,
    heartbeat: Option<f64>,
    frame: &mut Frame,
) -> Result<Value, Failure> {
    let started = shared.now();
    tokio::select! {
        dispatched = dispatch => { dispatched.map_err(Failure::from)?; }
        _ = sleep_for(shared, left(shared, started, timeout)) => return Err(timed_out(errors::TIMEOUT, state)),
    }
    let mut submitted =
        HistoryEvent::new(EventType::TaskSubmitted, shared.now()).state(&state.name);
    if let machine::Kind::Task(task) = &state.kind {
        submitted = submitted.task(&task.resource, None);
    }
    frame.previous = shared.record(frame.previous, submitted);
    let mut last_beat = started;
    loop {
        tokio::select! {
            signal = receiver.recv() => match signal {
                Some(TokenSignal::Success(output)) => return Ok(output),
                Some(TokenSignal::Failure(failure)) => return Err(failure),
                Some(TokenSignal::Heartbeat) => last_beat = shared.now(),
                None => return Err(Failure::runtime("the task token was withdrawn")),
            },
            _ = sleep_for(shared, left(shared, started, timeout)) => return Err(timed_out(errors::TIMEOUT, state)),
            _ = sleep_for(shared, left(shared, last_beat, heartbeat)) => return Err(timed_out(errors::HEARTBEAT_TIMEOUT, state)),
        }
    }
}
