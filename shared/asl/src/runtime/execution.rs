//! Executions: configure, run to an outcome, and steer from outside (stop, task tokens).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{Notify, mpsc};

use super::clock::{Clock, SystemClock};
use super::history::{EventType, History, HistoryEvent};
use super::recorded::Payload;
use super::scope::ExecutionInfo;
use super::{Failure, Resources};
use crate::StateMachine;
use crate::machine::StateId;

/// Step Functions' payload limit for inputs, outputs and results.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// Step Functions' cap on one execution's history.
pub const DEFAULT_MAX_HISTORY_EVENTS: usize = 25_000;

/// How to run one execution.
#[derive(Clone)]
pub struct ExecutionConfig {
    pub name: String,
    pub state_machine_name: String,
    pub resources: Arc<Resources>,
    pub clock: Arc<dyn Clock>,
    /// `States.DataLimitExceeded` above this many bytes of JSON.
    pub max_payload_bytes: usize,
    /// `States.Runtime` once the history holds this many events (stops runaway loops too).
    pub max_history_events: usize,
    /// Record state inputs and outputs in the history (turn off to save memory on huge runs).
    pub record_payloads: bool,
    /// Seeds retry jitter; fixed seeds make runs reproducible.
    pub seed: u64,
    /// Task tokens are derived from this secret and the position of the task in the run, so a
    /// replayed execution issues the same tokens. Defaults to a random value.
    pub token_secret: String,
    /// `$$.Execution.Id`, `$$.StateMachine.Id` and `$$.Execution.RoleArn` as a host names
    /// them (e.g. `skein asl serve`); local ARNs under `arn:aws:states:local:000000000000`
    /// when unset.
    pub execution_arn: Option<String>,
    pub state_machine_arn: Option<String>,
    pub role_arn: Option<String>,
    /// Workflow variables already set when the run starts (TestState's `variables`, or a run
    /// forked from the middle of another).
    pub variables: serde_json::Map<String, Value>,
    /// Fields laid over the `$$` context object (TestState's `context`): objects are merged
    /// key by key into the ones skein-asl builds, anything else replaces.
    pub context: Option<serde_json::Map<String, Value>>,
}

impl ExecutionConfig {
    pub fn new(resources: Arc<Resources>) -> ExecutionConfig {
        ExecutionConfig {
            name: uuid::Uuid::new_v4().to_string(),
            state_machine_name: "local".into(),
            resources,
            clock: Arc::new(SystemClock),
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            max_history_events: DEFAULT_MAX_HISTORY_EVENTS,
            record_payloads: true,
            seed: rand::random(),
            token_secret: uuid::Uuid::new_v4().to_string(),
            execution_arn: None,
            state_machine_arn: None,
            role_arn: None,
            variables: serde_json::Map::new(),
            context: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

/// How an execution ended.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
    pub start_date: DateTime<Utc>,
    pub stop_date: DateTime<Utc>,
    pub history: History,
}

pub(crate) enum TokenSignal {
    Success(Value),
    Failure(Failure),
    Heartbeat,
}

/// Why a task-token call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("task token is unknown, or its task already finished, timed out or was stopped")]
    TaskDoesNotExist,
}

pub(crate) struct Shared {
    pub(crate) config: ExecutionConfig,
    pub(crate) info: ExecutionInfo,
    pub(crate) history: Mutex<History>,
    pub(crate) tokens: Mutex<HashMap<String, mpsc::UnboundedSender<TokenSignal>>>,
    pub(crate) rng: Mutex<StdRng>,
    stop: Notify,
    stop_reason: Mutex<Option<Failure>>,
}

impl Shared {
    /// Appends an event after `previous` and returns its id.
    pub(crate) fn record(&self, previous: u64, event: HistoryEvent) -> u64 {
        self.history
            .lock()
            .expect("history lock")
            .push(previous, event)
    }

    /// Records state `exited` handing over to state `entered` at `at` (see
    /// [`History::push_handover`]) and returns the entered event's id.
    pub(crate) fn record_handover(
        &self,
        previous: u64,
        at: DateTime<Utc>,
        exited: (EventType, StateId),
        entered: (EventType, StateId),
        payload: Option<Payload>,
    ) -> u64 {
        self.history
            .lock()
            .expect("history lock")
            .push_handover(previous, at, exited, entered, payload)
    }

    pub(crate) fn event_count(&self) -> usize {
        self.history.lock().expect("history lock").len()
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.config.clock.now()
    }

    pub(crate) fn payload(&self, value: &Value) -> Option<Payload> {
        self.config.record_payloads.then(|| Payload::copy_of(value))
    }
}

/// A prepared execution. `run` drives it to an [`Outcome`]; a [`ExecutionHandle`] taken
/// beforehand steers it while it runs.
pub struct Execution {
    shared: Arc<Shared>,
    machine: StateMachine,
}

/// Steers a running execution from another task: stop it, or answer its task tokens.
#[derive(Clone)]
pub struct ExecutionHandle {
    shared: Arc<Shared>,
}

impl Execution {
    pub fn new(machine: &StateMachine, input: Value, config: ExecutionConfig) -> Execution {
        let start_time = config.clock.now();
        let machine_name = config.state_machine_name.clone();
        let info = ExecutionInfo {
            id: config.execution_arn.clone().unwrap_or_else(|| {
                format!(
                    "arn:aws:states:local:000000000000:execution:{machine_name}:{}",
                    config.name
                )
            }),
            name: config.name.as_str().into(),
            input: Arc::new(input),
            start_time,
            state_machine_id: config.state_machine_arn.clone().unwrap_or_else(|| {
                format!("arn:aws:states:local:000000000000:stateMachine:{machine_name}")
            }),
            state_machine_name: machine_name,
            context_overrides: config.context.clone(),
            role_arn: config
                .role_arn
                .clone()
                .unwrap_or_else(|| "arn:aws:iam::000000000000:role/skein-local".into()),
        };
        let shared = Arc::new(Shared {
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            config,
            info,
            // Every state records an entry or two: sized for one pass through the machine,
            // so the history of most runs is never copied to grow.
            history: Mutex::new(History::new(
                machine.state_names.clone(),
                (2 * machine.state_count() + 8).min(4096),
            )),
            tokens: Mutex::new(HashMap::new()),
            stop: Notify::new(),
            stop_reason: Mutex::new(None),
        });
        Execution {
            shared,
            machine: machine.clone(),
        }
    }

    pub fn handle(&self) -> ExecutionHandle {
        ExecutionHandle {
            shared: self.shared.clone(),
        }
    }

    pub async fn run(self) -> Outcome {
        let shared = self.shared;
        let input = Value::clone(&shared.info.input);
        let start_date = shared.info.start_time;
        let recorded_input = shared
            .config
            .record_payloads
            .then(|| Payload::shared(shared.info.input.clone()));
        let started = HistoryEvent::new(EventType::ExecutionStarted, start_date)
            .input(recorded_input.clone());
        let first = shared.record(0, started);

        let timeout = self
            .machine
            .timeout_seconds
            .map(|s| shared.config.clock.deadline(Duration::from_secs(s)));
        let body = super::engine::run_machine(&shared, &self.machine, input, recorded_input, first);
        let result = tokio::select! {
            biased;
            _ = shared.stop.notified() => Err((Status::Aborted, shared.stop_reason.lock().expect("stop lock").clone().unwrap_or_else(|| Failure::new("", "")))),
            _ = async { match timeout { Some(t) => t.await, None => std::future::pending().await } } =>
                Err((Status::TimedOut, Failure::new(crate::errors::TIMEOUT, "The execution exceeded its TimeoutSeconds"))),
            result = body => result.map_err(|failure| (Status::Failed, failure)),
        };
        shared.tokens.lock().expect("token lock").clear();

        let last = shared.event_count() as u64;
        let now = shared.now();
        let (status, output, error, event) = match result {
            Ok((output, recorded_output)) => {
                let recorded_output = recorded_output.or_else(|| shared.payload(&output));
                let event =
                    HistoryEvent::new(EventType::ExecutionSucceeded, now).output(recorded_output);
                (Status::Succeeded, Some(output), None, event)
            }
            Err((status, failure)) => {
                let event_type = match status {
                    Status::Aborted => EventType::ExecutionAborted,
                    Status::TimedOut => EventType::ExecutionTimedOut,
                    _ => EventType::ExecutionFailed,
                };
                let event =
                    HistoryEvent::new(event_type, now).failure(&failure.error, &failure.cause);
                (status, None, Some(failure), event)
            }
        };
        shared.record(last, event);
        let history = std::mem::replace(
            &mut *shared.history.lock().expect("history lock"),
            History::new(self.machine.state_names.clone(), 0),
        );
        Outcome {
            status,
            output,
            error,
            start_date,
            stop_date: now,
            history,
        }
    }
}

impl ExecutionHandle {
    pub fn name(&self) -> &str {
        &self.shared.info.name
    }

    /// Stops the execution: it ends ABORTED with this error and cause.
    pub fn stop(&self, error: Option<String>, cause: Option<String>) {
        *self.shared.stop_reason.lock().expect("stop lock") = Some(Failure::new(
            error.unwrap_or_default(),
            cause.unwrap_or_default(),
        ));
        self.shared.stop.notify_one();
    }

    pub fn send_task_success(&self, token: &str, output: Value) -> Result<(), TokenError> {
        self.signal(token, TokenSignal::Success(output))
    }

    pub fn send_task_failure(
        &self,
        token: &str,
        error: impl Into<String>,
        cause: impl Into<String>,
    ) -> Result<(), TokenError> {
        self.signal(token, TokenSignal::Failure(Failure::new(error, cause)))
    }

    pub fn send_task_heartbeat(&self, token: &str) -> Result<(), TokenError> {
        self.signal(token, TokenSignal::Heartbeat)
    }

    /// Tokens of the tasks currently waiting for a callback.
    pub fn pending_tokens(&self) -> Vec<String> {
        self.shared
            .tokens
            .lock()
            .expect("token lock")
            .keys()
            .cloned()
            .collect()
    }

    /// A copy of the history so far.
    pub fn history(&self) -> Vec<HistoryEvent> {
        self.shared.history.lock().expect("history lock").events()
    }

    fn signal(&self, token: &str, signal: TokenSignal) -> Result<(), TokenError> {
        let tokens = self.shared.tokens.lock().expect("token lock");
        let sender = tokens.get(token).ok_or(TokenError::TaskDoesNotExist)?;
        sender
            .send(signal)
            .map_err(|_| TokenError::TaskDoesNotExist)
    }
}
