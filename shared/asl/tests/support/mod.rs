//! Runs conformance cases: a definition, an input, scripted task behaviour, and the expected
//! outcome, on virtual time so that waits, back-off and timeouts are exact and instant.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use skein_asl::{
    Execution, ExecutionConfig, ExecutionHandle, Outcome, Resources, StateMachine, TaskCall,
    TaskError, TaskHandler, VirtualClock,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub source: String,
    pub cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub source: Option<String>,
    pub definition: Value,
    #[serde(default)]
    pub input: Value,
    #[serde(default)]
    pub tasks: HashMap<String, Vec<Behaviour>>,
    pub expect: Expect,
    /// Virtual seconds from start to finish.
    #[serde(default)]
    pub elapsed_seconds: Option<f64>,
    /// Event types that must appear in this order (other events may come between).
    #[serde(default)]
    pub events: Vec<String>,
    /// The parameters each task call received, in order.
    #[serde(default)]
    pub task_calls: Option<Vec<Value>>,
    /// Limits for the data-limit cases.
    #[serde(default)]
    pub max_payload_bytes: Option<usize>,
    /// Why npm asl-validator refuses this (valid) definition; scripts/node-tools/agree.mjs
    /// lists these instead of failing.
    #[serde(default)]
    pub asl_validator_disagrees: Option<String>,
    /// Stop the execution after this many virtual seconds.
    #[serde(default)]
    pub stop_after_seconds: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub output: Option<Value>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
    #[serde(default)]
    pub cause_contains: Option<String>,
}

/// What a task does when called; a resource's list is consumed in order, the last repeating.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    #[serde(default, rename = "return")]
    pub returns: Option<Value>,
    #[serde(default)]
    pub echo: bool,
    #[serde(default)]
    pub fail: Option<Value>,
    /// Virtual seconds the call takes (or, for token tasks, until the callback).
    #[serde(default)]
    pub after: Option<f64>,
    /// Token tasks: heartbeat at these virtual seconds after dispatch.
    #[serde(default)]
    pub heartbeats: Vec<f64>,
    /// Token tasks: never call back.
    #[serde(default)]
    pub never: bool,
}

pub const ORIGIN: &str = "2026-01-01T00:00:00Z";

struct Scripted {
    behaviours: Vec<Behaviour>,
    calls: Mutex<usize>,
    log: Arc<Mutex<Vec<Value>>>,
    handle: Arc<OnceLock<ExecutionHandle>>,
}

impl Scripted {
    fn next(&self) -> Behaviour {
        let mut calls = self.calls.lock().unwrap();
        let index = (*calls).min(self.behaviours.len() - 1);
        *calls += 1;
        self.behaviours[index].clone()
    }
}

fn task_error(fail: &Value) -> TaskError {
    TaskError::new(
        fail["error"].as_str().unwrap_or_default(),
        fail["cause"].as_str().unwrap_or_default(),
    )
}

fn result_of(behaviour: &Behaviour, call: &TaskCall) -> Result<Value, TaskError> {
    match (&behaviour.fail, &behaviour.returns) {
        (Some(fail), _) => Err(task_error(fail)),
        (None, Some(value)) => Ok(value.clone()),
        (None, None) if behaviour.echo => Ok(call.parameters.clone()),
        (None, None) => Ok(json!({})),
    }
}

#[async_trait::async_trait]
impl TaskHandler for Scripted {
    async fn call(&self, call: TaskCall) -> Result<Value, TaskError> {
        self.log.lock().unwrap().push(call.parameters.clone());
        let behaviour = self.next();
        let Some(token) = call.task_token.clone() else {
            if let Some(after) = behaviour.after {
                tokio::time::sleep(Duration::from_secs_f64(after)).await;
            }
            return result_of(&behaviour, &call);
        };
        let handle = self.handle.get().expect("handle set before run").clone();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            for beat in &behaviour.heartbeats {
                tokio::time::sleep_until(start + Duration::from_secs_f64(*beat)).await;
                let _ = handle.send_task_heartbeat(&token);
            }
            if behaviour.never {
                return;
            }
            tokio::time::sleep_until(
                start + Duration::from_secs_f64(behaviour.after.unwrap_or(0.0)),
            )
            .await;
            let _ = match result_of(&behaviour, &call) {
                Ok(output) => handle.send_task_success(&token, output),
                Err(e) => handle.send_task_failure(&token, e.error, e.cause),
            };
        });
        Ok(Value::Null)
    }
}

pub struct Ran {
    pub outcome: Outcome,
    pub task_calls: Vec<Value>,
}

/// Runs a case on a fresh paused runtime (virtual time).
pub fn run_case(case: &Case) -> Result<Ran, String> {
    let machine = StateMachine::from_value(&case.definition).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let handle_slot = Arc::new(OnceLock::new());
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut resources = Resources::new();
        for (arn, behaviours) in &case.tasks {
            if behaviours.is_empty() {
                return Err(format!("task '{arn}' has no behaviours"));
            }
            let scripted = Scripted {
                behaviours: behaviours.clone(),
                calls: Mutex::new(0),
                log: log.clone(),
                handle: handle_slot.clone(),
            };
            resources.register(arn.clone(), scripted);
        }
        let origin: DateTime<Utc> = ORIGIN.parse().unwrap();
        let mut config = ExecutionConfig::new(Arc::new(resources));
        config.name = "conformance".into();
        config.clock = Arc::new(VirtualClock::starting_at(origin));
        config.seed = 7;
        if let Some(limit) = case.max_payload_bytes {
            config.max_payload_bytes = limit;
        }
        let execution = Execution::new(&machine, case.input.clone(), config);
        let handle = execution.handle();
        handle_slot.set(handle.clone()).ok();
        if let Some(after) = case.stop_after_seconds {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs_f64(after)).await;
                handle.stop(Some("Stopped".into()), Some("stopped by the test".into()));
            });
        }
        let outcome = execution.run().await;
        let task_calls = log.lock().unwrap().clone();
        Ok(Ran {
            outcome,
            task_calls,
        })
    })
}

/// Checks a case's outcome against its expectations; returns what differs.
pub fn check(case: &Case, ran: &Ran) -> Vec<String> {
    let mut wrong = Vec::new();
    let outcome = &ran.outcome;
    let status = serde_json::to_value(outcome.status).unwrap();
    let expected_status = case.expect.status.clone().unwrap_or_else(|| {
        if case.expect.error.is_some() {
            "FAILED".into()
        } else {
            "SUCCEEDED".into()
        }
    });
    if status != json!(expected_status) {
        wrong.push(format!(
            "status {status}, expected {expected_status} (error: {:?})",
            outcome.error
        ));
    }
    let error = outcome.error.as_ref();
    if let Some(output) = &case.expect.output
        && outcome.output.as_ref() != Some(output)
    {
        wrong.push(format!(
            "output {}, expected {output}",
            outcome.output.clone().unwrap_or(Value::Null)
        ));
    }
    if let Some(expected) = &case.expect.error
        && error.map(|e| &e.error) != Some(expected)
    {
        wrong.push(format!("error {error:?}, expected {expected}"));
    }
    if let Some(expected) = &case.expect.cause
        && error.map(|e| &e.cause) != Some(expected)
    {
        wrong.push(format!(
            "cause {:?}, expected {expected:?}",
            error.map(|e| &e.cause)
        ));
    }
    if let Some(fragment) = &case.expect.cause_contains
        && !error.is_some_and(|e| e.cause.contains(fragment.as_str()))
    {
        wrong.push(format!(
            "cause {:?} does not contain {fragment:?}",
            error.map(|e| &e.cause)
        ));
    }
    if let Some(seconds) = case.elapsed_seconds {
        let elapsed = (outcome.stop_date - outcome.start_date).num_milliseconds() as f64 / 1000.0;
        if (elapsed - seconds).abs() > 0.001 {
            wrong.push(format!(
                "took {elapsed} virtual seconds, expected {seconds}"
            ));
        }
    }
    let types: Vec<String> = outcome
        .history
        .iter()
        .map(|e| {
            serde_json::to_value(e.event_type)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut position = 0;
    for expected in &case.events {
        match types[position..].iter().position(|t| t == expected) {
            Some(found) => position += found + 1,
            None => {
                wrong.push(format!(
                    "event {expected} missing (in order) from {types:?}"
                ));
                break;
            }
        }
    }
    if let Some(calls) = &case.task_calls
        && &ran.task_calls != calls
    {
        wrong.push(format!(
            "task calls {:?}, expected {calls:?}",
            ran.task_calls
        ));
    }
    wrong
}

pub fn load(dir: &Path) -> Vec<(String, CaseFile)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let file: CaseFile =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                file,
            )
        })
        .collect()
}

/// This package's directory, as `cargo test` says at run time: a test binary built in
/// another checkout sharing the target dir (CI's clone) still reads this checkout's files.
pub fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}
