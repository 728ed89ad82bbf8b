//! The executions `skein asl serve` runs: started (or run synchronously), described,
//! listed, stopped, their history read and their task tokens answered.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use skein_asl::{
    Execution, ExecutionConfig, ExecutionHandle, Outcome, Resources, SkippingClock, Status,
    SystemClock,
};
use tokio::sync::watch;

use super::machines::{Machine, MachineType};
use super::protocol::{self, ApiError, ErrorCode, epoch};
use super::serve::{Service, check_name, string};
use super::tasks::{ExecutionTasks, LambdaEndpoint};

/// One execution: steered through its handle while it runs, its outcome once it ends.
pub(super) struct Run {
    pub(super) arn: String,
    pub(super) machine_arn: String,
    pub(super) name: String,
    pub(super) input: String,
    pub(super) started: DateTime<Utc>,
    pub(super) role_arn: String,
    pub(super) handle: ExecutionHandle,
    pub(super) outcome: watch::Receiver<Option<Arc<Outcome>>>,
}

impl Run {
    pub(super) fn ended(&self) -> Option<Arc<Outcome>> {
        self.outcome.borrow().clone()
    }

    pub(super) fn status(&self) -> &'static str {
        match self.ended() {
            None => "RUNNING",
            Some(outcome) => status_name(outcome.status),
        }
    }
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Succeeded => "SUCCEEDED",
        Status::Failed => "FAILED",
        Status::TimedOut => "TIMED_OUT",
        Status::Aborted => "ABORTED",
    }
}

impl Service {
    pub(super) fn run(&self, arn: &str) -> Result<Arc<Run>, ApiError> {
        if !arn.starts_with("arn:aws:states:") || !arn.contains(":execution:") {
            return Err(ApiError::new(
                ErrorCode::InvalidArn,
                format!("Invalid Arn: '{arn}'"),
            ));
        }
        self.runs
            .read()
            .expect("runs lock")
            .iter()
            .find(|run| run.arn == arn)
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ExecutionDoesNotExist,
                    format!("Execution Does Not Exist: '{arn}'"),
                )
            })
    }

    /// Starts an execution; `stateMachineArn#TestCase` answers its tasks from that test
    /// case of the mock configuration.
    pub(super) fn start_execution(
        &self,
        request: &Value,
    ) -> Result<(Arc<Run>, Arc<Machine>), ApiError> {
        let requested = string(request, "stateMachineArn")?;
        let (machine_arn, test_case) = match requested.split_once('#') {
            Some((arn, case)) => (arn, Some(case)),
            None => (requested, None),
        };
        let machine = self.machine(machine_arn)?;
        let name = request["name"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        check_name(&name)?;
        let input_text = request["input"].as_str().unwrap_or("{}").to_string();
        let input: Value = serde_json::from_str(&input_text).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidExecutionInput,
                format!("Invalid State Machine Execution Input: '{e}'"),
            )
        })?;
        let mocks = match test_case {
            None => None,
            Some(case) => {
                let config = self.settings.mocks.clone().ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::Validation,
                        format!("test case `{case}` asked for, but no mock configuration was given (--mock-config or SFN_MOCK_CONFIG)"),
                    )
                })?;
                if !config.has_case(&machine.name, case) {
                    return Err(ApiError::new(
                        ErrorCode::Validation,
                        format!(
                            "the mock configuration has no test case `{case}` for state machine `{}`",
                            machine.name
                        ),
                    ));
                }
                Some((config, machine.name.clone(), case.to_string()))
            }
        };
        let prefix = match machine.kind {
            MachineType::Standard => "execution",
            MachineType::Express => "express",
        };
        let arn = format!(
            "arn:aws:states:{}:{}:{prefix}:{}:{name}",
            self.settings.region, self.settings.account, machine.name
        );
        let mut runs = self.runs.write().expect("runs lock");
        if runs.iter().any(|run| run.arn == arn) {
            return Err(ApiError::new(
                ErrorCode::ExecutionAlreadyExists,
                format!("Execution Already Exists: '{arn}'"),
            ));
        }
        let lambda = self
            .settings
            .lambda_endpoint
            .clone()
            .map(|url| LambdaEndpoint {
                url,
                client: self.client.clone(),
            });
        let tasks = ExecutionTasks::new(mocks, lambda);
        let handle_slot = tasks.handle.clone();
        let mut resources = Resources::new();
        resources.register_prefix("", tasks);
        let mut config = ExecutionConfig::new(Arc::new(resources));
        config.name = name.clone();
        config.state_machine_name = machine.name.clone();
        config.execution_arn = Some(arn.clone());
        config.state_machine_arn = Some(machine.arn.clone());
        config.role_arn = Some(machine.role_arn.clone());
        let started = Utc::now();
        config.clock = if self.settings.virtual_time {
            Arc::new(SkippingClock::starting_at(started))
        } else {
            Arc::new(SystemClock)
        };
        let execution = Execution::new(&machine.parsed, input, config);
        let handle = execution.handle();
        handle_slot.set(handle.clone()).ok();
        let (ended, outcome) = watch::channel(None);
        tokio::spawn(async move {
            let outcome = execution.run().await;
            ended.send_replace(Some(Arc::new(outcome)));
        });
        let run = Arc::new(Run {
            arn,
            machine_arn: machine.arn.clone(),
            name,
            input: input_text,
            started,
            role_arn: machine.role_arn.clone(),
            handle,
            outcome,
        });
        runs.push(run.clone());
        Ok((run, machine))
    }

    pub(super) async fn start_sync_execution(&self, request: &Value) -> Result<Value, ApiError> {
        let arn = string(request, "stateMachineArn")?;
        let machine = self.machine(arn.split('#').next().unwrap_or(arn))?;
        if machine.kind != MachineType::Express {
            return Err(ApiError::new(
                ErrorCode::StateMachineTypeNotSupported,
                "This operation is not supported by this type of state machine: StartSyncExecution runs EXPRESS state machines",
            ));
        }
        let (run, _) = self.start_execution(request)?;
        let mut ended = run.outcome.clone();
        let outcome = ended
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|o| o.clone())
            .ok_or_else(|| ApiError::new(ErrorCode::Validation, "the execution was lost"))?;
        let mut answer = self.execution_view(&run);
        answer["stopDate"] = epoch(outcome.stop_date);
        Ok(answer)
    }

    pub(super) fn execution_view(&self, run: &Run) -> Value {
        let mut view = json!({
            "executionArn": run.arn,
            "stateMachineArn": run.machine_arn,
            "name": run.name,
            "status": run.status(),
            "startDate": epoch(run.started),
            "input": run.input,
            "inputDetails": { "included": true },
        });
        if let Some(outcome) = run.ended() {
            view["stopDate"] = epoch(outcome.stop_date);
            if let Some(output) = &outcome.output {
                view["output"] = json!(output.to_string());
                view["outputDetails"] = json!({ "included": true });
            }
            if let Some(error) = &outcome.error {
                view["error"] = json!(error.error);
                view["cause"] = json!(error.cause);
            }
        }
        view
    }

    pub(super) fn describe_execution(&self, request: &Value) -> Result<Value, ApiError> {
        let run = self.run(string(request, "executionArn")?)?;
        Ok(self.execution_view(&run))
    }

    pub(super) fn execution_history(&self, request: &Value) -> Result<Value, ApiError> {
        let run = self.run(string(request, "executionArn")?)?;
        let mut events = match run.ended() {
            Some(outcome) => outcome.history.events(),
            None => run.handle.history(),
        };
        if request["reverseOrder"].as_bool() == Some(true) {
            events.reverse();
        }
        let from: usize = request["nextToken"]
            .as_str()
            .map(|token| {
                token.parse().map_err(|_| {
                    ApiError::new(ErrorCode::Validation, format!("Invalid Token: '{token}'"))
                })
            })
            .transpose()?
            .unwrap_or(0);
        let page = match request["maxResults"].as_u64() {
            Some(n) if n > 0 => n.min(1000) as usize,
            _ => 1000,
        };
        let region = &self.settings.region;
        let page_events: Vec<Value> = events
            .iter()
            .skip(from)
            .take(page)
            .map(|event| protocol::history_event(event, &run.role_arn, region))
            .collect();
        let mut answer = json!({ "events": page_events });
        if from + page < events.len() {
            answer["nextToken"] = json!((from + page).to_string());
        }
        Ok(answer)
    }

    pub(super) fn list_executions(&self, request: &Value) -> Result<Value, ApiError> {
        let machine_arn = string(request, "stateMachineArn")?;
        self.machine(machine_arn)?;
        let filter = request["statusFilter"].as_str();
        let runs = self.runs.read().expect("runs lock");
        let executions: Vec<Value> = runs
            .iter()
            .rev()
            .filter(|run| run.machine_arn == machine_arn)
            .filter(|run| filter.is_none_or(|f| f == run.status()))
            .map(|run| {
                let mut item = json!({
                    "executionArn": run.arn,
                    "stateMachineArn": run.machine_arn,
                    "name": run.name,
                    "status": run.status(),
                    "startDate": epoch(run.started),
                });
                if let Some(outcome) = run.ended() {
                    item["stopDate"] = epoch(outcome.stop_date);
                }
                item
            })
            .collect();
        Ok(json!({ "executions": executions }))
    }

    pub(super) fn stop_execution(&self, request: &Value) -> Result<Value, ApiError> {
        let run = self.run(string(request, "executionArn")?)?;
        if run.ended().is_none() {
            run.handle.stop(
                request["error"].as_str().map(str::to_string),
                request["cause"].as_str().map(str::to_string),
            );
        }
        Ok(json!({ "stopDate": epoch(Utc::now()) }))
    }

    /// SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat: the running execution whose
    /// task waits on the token takes it.
    pub(super) fn answer_token(&self, operation: &str, request: &Value) -> Result<Value, ApiError> {
        let token = string(request, "taskToken")?;
        let output = match operation {
            "SendTaskSuccess" => {
                let text = string(request, "output")?;
                Some(serde_json::from_str::<Value>(text).map_err(|e| {
                    ApiError::new(ErrorCode::InvalidOutput, format!("Invalid Output: '{e}'"))
                })?)
            }
            _ => None,
        };
        let runs: Vec<Arc<Run>> = self.runs.read().expect("runs lock").clone();
        let taken = runs.iter().filter(|run| run.ended().is_none()).any(|run| {
            let handle = &run.handle;
            match operation {
                "SendTaskSuccess" => handle
                    .send_task_success(token, output.clone().unwrap_or_default())
                    .is_ok(),
                "SendTaskFailure" => handle
                    .send_task_failure(
                        token,
                        request["error"].as_str().unwrap_or_default(),
                        request["cause"].as_str().unwrap_or_default(),
                    )
                    .is_ok(),
                _ => handle.send_task_heartbeat(token).is_ok(),
            }
        });
        if taken {
            Ok(json!({}))
        } else {
            Err(ApiError::new(
                ErrorCode::TaskDoesNotExist,
                "Task Timed Out or does not exist: no running task waits on this token",
            ))
        }
    }
}
