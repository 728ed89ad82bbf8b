//! The local workflow engine: runs compiled ASL with skein-asl, checkpoints every
//! execution in SQLite, and resumes running executions when `skein dev` starts again.
//!
//! Steps leave the engine through a [`StepOutbox`]; the platform answers through the
//! [`WorkflowEngine`] port. The engine is built first and knows nothing of the platform.

mod journal;
mod outbox;
mod resources;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;
use skein_asl::StateMachine;
use skein_asl::{Execution, ExecutionConfig, ExecutionHandle, Status, TokenError};
use skein_core::ports::{EngineError, ExecutionEnded, ExecutionStatus, WorkflowEngine};
use skein_core::steps::{MAX_CAUSE_CHARS, MAX_ERROR_CHARS, clip};
use skein_core::workflows::Mode;

pub use journal::JournalError;
pub use outbox::{EndReceipt, EngineWork, InvokeFailure, StepInbox, StepOutbox, step_channel};

use crate::SqliteDb;
use journal::{ExecutionRow, Recorded};

/// The executions in flight, by name.
type Running = Arc<Mutex<HashMap<String, Live>>>;

/// An execution in flight.
#[derive(Clone)]
struct Live {
    handle: ExecutionHandle,
    /// Started again from its input after a restart: the journal may hold the results of
    /// tasks it asks for again. A new execution's journal holds none, so its tasks are
    /// sent without looking.
    resumed: bool,
}
/// Which execution waits for each outstanding token.
type Tokens = Arc<Mutex<HashMap<String, String>>>;

pub struct LocalEngine {
    db: Arc<SqliteDb>,
    machines: Mutex<HashMap<String, Arc<StateMachine>>>,
    running: Running,
    tokens: Tokens,
    resources: Arc<skein_asl::Resources>,
    outbox: StepOutbox,
    /// The tasks running executions, so that `halt` can stop them all.
    tasks: Mutex<tokio::task::JoinSet<()>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn unavailable(e: JournalError) -> EngineError {
    EngineError::Unavailable(e.to_string())
}

impl LocalEngine {
    /// An engine whose steps go to `outbox`.
    pub fn new(db: Arc<SqliteDb>, outbox: StepOutbox) -> Arc<LocalEngine> {
        let running = Running::default();
        let tokens = Tokens::default();
        let resources =
            resources::build(db.clone(), running.clone(), tokens.clone(), outbox.clone());
        Arc::new(LocalEngine {
            db,
            machines: Mutex::default(),
            running,
            tokens,
            resources: Arc::new(resources),
            outbox,
            tasks: Mutex::default(),
        })
    }

    /// Stops every execution where it is, journaling nothing: they resume from their
    /// last checkpoint when an engine on the same database starts (`resume_all`). What a
    /// process that stops does to them, without stopping the process.
    pub fn halt(&self) {
        lock(&self.tasks).abort_all();
        lock(&self.running).clear();
        lock(&self.tokens).clear();
    }

    /// Restarts every execution that was running when the process stopped, and sends
    /// again the ends that were never recorded on their runs.
    pub fn resume_all(&self) -> Result<usize, EngineError> {
        for ended in journal::unreported_ends(&self.db).map_err(unavailable)? {
            let status = ExecutionStatus::parse(&ended.status).unwrap_or(ExecutionStatus::Failed);
            let end = ExecutionEnded {
                run: ended.row.name.clone(),
                input: ended.row.input,
                status,
                error: ended.error,
                cause: ended.cause,
            };
            let receipt = EndReceipt {
                db: self.db.clone(),
                execution: ended.row.name,
            };
            self.outbox.send(EngineWork::Ended(end, receipt))?;
        }
        let names = journal::running_executions(&self.db).map_err(unavailable)?;
        for name in &names {
            let row = journal::load_execution(&self.db, name)
                .map_err(unavailable)?
                .ok_or_else(|| EngineError::NotFound(format!("execution {name}")))?;
            self.launch(row, true)?;
        }
        Ok(names.len())
    }

    fn machine(&self, name: &str) -> Result<Arc<StateMachine>, EngineError> {
        if let Some(found) = lock(&self.machines).get(name) {
            return Ok(found.clone());
        }
        let asl = journal::load_machine(&self.db, name)
            .map_err(unavailable)?
            .ok_or_else(|| EngineError::NotFound(format!("state machine {name}")))?;
        let machine = Arc::new(
            StateMachine::from_value(&asl)
                .map_err(|e| EngineError::InvalidDefinition(e.to_string()))?,
        );
        lock(&self.machines).insert(name.to_string(), machine.clone());
        Ok(machine)
    }

    /// Runs the execution `row` from its input; `resumed` when it ran before this process.
    fn launch(&self, row: ExecutionRow, resumed: bool) -> Result<(), EngineError> {
        let machine = self.machine(&row.machine)?;
        let mut config = ExecutionConfig::new(self.resources.clone());
        config.name = row.name.clone();
        config.state_machine_name = row.machine.clone();
        config.token_secret = row.secret.clone();
        config.record_payloads = false;
        let execution = Execution::new(&machine, row.input.clone(), config);
        let live = Live {
            handle: execution.handle(),
            resumed,
        };
        lock(&self.running).insert(row.name.clone(), live);
        let ending = Ending {
            db: self.db.clone(),
            running: self.running.clone(),
            tokens: self.tokens.clone(),
            outbox: self.outbox.clone(),
        };
        let mut tasks = lock(&self.tasks);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            let outcome = execution.run().await;
            let status = match outcome.status {
                Status::Succeeded => ExecutionStatus::Succeeded,
                Status::Failed => ExecutionStatus::Failed,
                Status::TimedOut => ExecutionStatus::TimedOut,
                Status::Aborted => ExecutionStatus::Aborted,
            };
            let (error, cause) = match &outcome.error {
                Some(f) => (Some(f.error.clone()), Some(f.cause.clone())),
                None => (None, None),
            };
            ending.record(&row, status, error, cause);
        });
        Ok(())
    }

    pub(crate) fn handle(&self, execution: &str) -> Option<ExecutionHandle> {
        lock(&self.running)
            .get(execution)
            .map(|live| live.handle.clone())
    }

    /// Hands a task's outcome to its execution: once per token (the first answer takes
    /// it), noted in the journal first.
    async fn complete(&self, token: &str, outcome: Recorded) -> Result<(), EngineError> {
        let execution = lock(&self.tokens)
            .remove(token)
            .ok_or(EngineError::TaskDoesNotExist)?;
        let handle = self
            .handle(&execution)
            .ok_or(EngineError::TaskDoesNotExist)?;
        journal::note_result(&self.db, &execution, token, &outcome);
        deliver(&handle, token, outcome)
    }
}

/// What an execution's task needs to record its end: journal it, forget it, tell the
/// step-worker (as EventBridge's status-change event does on AWS).
struct Ending {
    db: Arc<SqliteDb>,
    running: Running,
    tokens: Tokens,
    outbox: StepOutbox,
}

impl Ending {
    fn record(
        &self,
        row: &ExecutionRow,
        status: ExecutionStatus,
        error: Option<String>,
        cause: Option<String>,
    ) {
        let now = chrono::Utc::now().timestamp_millis();
        journal::finish_execution(
            &self.db,
            &row.name,
            status.as_str(),
            error.as_deref(),
            cause.as_deref(),
            now,
        );
        lock(&self.running).remove(&row.name);
        lock(&self.tokens).retain(|_, execution| execution != &row.name);
        let ended = ExecutionEnded {
            run: row.name.clone(),
            input: row.input.clone(),
            status,
            error,
            cause,
        };
        let receipt = EndReceipt {
            db: self.db.clone(),
            execution: row.name.clone(),
        };
        if let Err(e) = self.outbox.send(EngineWork::Ended(ended, receipt)) {
            tracing::error!(execution = %row.name, error = %e, "nobody heard that an execution ended");
        }
    }
}

pub(crate) fn deliver(
    handle: &ExecutionHandle,
    token: &str,
    outcome: Recorded,
) -> Result<(), EngineError> {
    let result = match outcome {
        Recorded::Success(output) => handle.send_task_success(token, output),
        Recorded::Failure { error, cause } => handle.send_task_failure(token, &error, &cause),
    };
    result.map_err(|TokenError::TaskDoesNotExist| EngineError::TaskDoesNotExist)
}

#[async_trait]
impl WorkflowEngine for LocalEngine {
    async fn register(&self, machine: &str, _mode: Mode, asl: &Value) -> Result<(), EngineError> {
        let parsed = StateMachine::from_value(asl)
            .map_err(|e| EngineError::InvalidDefinition(e.to_string()))?;
        let saved = journal::save_machine(&self.db, machine, asl)
            .await
            .map_err(unavailable)?;
        if !saved {
            return Err(EngineError::Conflict(machine.to_string()));
        }
        lock(&self.machines)
            .entry(machine.to_string())
            .or_insert_with(|| Arc::new(parsed));
        Ok(())
    }

    async fn start(&self, machine: &str, run: &str, input: &Value) -> Result<(), EngineError> {
        self.machine(machine)?;
        let row = ExecutionRow {
            name: run.to_string(),
            machine: machine.to_string(),
            input: input.clone(),
            secret: ulid::Ulid::new().to_string() + &ulid::Ulid::new().to_string(),
        };
        let now = chrono::Utc::now().timestamp_millis();
        if journal::insert_execution(&self.db, &row, now)
            .await
            .map_err(unavailable)?
        {
            self.launch(row, false)?;
        }
        Ok(())
    }

    async fn stop(
        &self,
        _machine: &str,
        run: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), EngineError> {
        let handle = self
            .handle(run)
            .ok_or_else(|| EngineError::NotFound(format!("running execution {run}")))?;
        handle.stop(Some(error.to_string()), Some(cause.to_string()));
        Ok(())
    }

    async fn send_task_success(&self, token: &str, output: &Value) -> Result<(), EngineError> {
        self.complete(token, Recorded::Success(output.clone()))
            .await
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), EngineError> {
        self.complete(
            token,
            // Step Functions' limits, so that a run fails the same way here as on AWS.
            Recorded::Failure {
                error: clip(error, MAX_ERROR_CHARS),
                cause: clip(cause, MAX_CAUSE_CHARS),
            },
        )
        .await
    }

    /// The engine runs in this process; its journal is the database it reads.
    async fn probe(&self) -> Result<(), EngineError> {
        journal::probe(&self.db).map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn a_machine_is_never_given_another_definition() {
        let dir = tempfile::tempdir().unwrap();
        let (outbox, _inbox) = step_channel();
        let engine = LocalEngine::new(Arc::new(SqliteDb::open_dir(dir.path()).unwrap()), outbox);
        let pass = |result: &str| json!({"StartAt": "a", "States": {"a": {"Type": "Pass", "Result": result, "End": true}}});
        engine
            .register("skein-t_w-v1-00", Mode::Standard, &pass("one"))
            .await
            .unwrap();
        engine
            .register("skein-t_w-v1-00", Mode::Standard, &pass("one"))
            .await
            .expect("registering the same definition again is a no-op");
        let refused = engine
            .register("skein-t_w-v1-00", Mode::Standard, &pass("two"))
            .await;
        assert_eq!(
            refused,
            Err(EngineError::Conflict("skein-t_w-v1-00".into()))
        );
        let kept = journal::load_machine(&engine.db, "skein-t_w-v1-00").unwrap();
        assert_eq!(kept, Some(pass("one")));
    }
}
