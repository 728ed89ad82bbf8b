//! The workflow engine on AWS Step Functions: one state machine per workflow version,
//! one execution per run, named by the run id so that starting twice starts once.

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::types::{
    CloudWatchLogsLogGroup, ExecutionStatus as SfnStatus, LogDestination, LogLevel,
    LoggingConfiguration, StateMachineType,
};
use serde_json::Value;
use skein_core::ports::{EngineError, ExecutionEnded, ExecutionStatus, WorkflowEngine};
use skein_core::steps::{MAX_CAUSE_CHARS, MAX_ERROR_CHARS, clip};
use skein_core::workflows::definition::Mode;

/// What registering a workflow version calls: create its state machine (or read the existing one to compare) and
/// publish a version (`publish(true)` needs `PublishStateMachineVersion`), on state
/// machines named `<prefix>-*` (the deployment's name prefix).
pub const REGISTER_ACTIONS: [&str; 3] = [
    "states:CreateStateMachine",
    "states:DescribeStateMachine",
    "states:PublishStateMachineVersion",
];
/// Registering also hands the executions' role to Step Functions.
pub const PASS_ROLE_ACTIONS: [&str; 1] = ["iam:PassRole"];
/// With an execution log group, registering sets up log delivery. These CloudWatch Logs
/// actions take no resource but `*` (they are not resource-scoped).
pub const LOG_DELIVERY_ACTIONS: [&str; 8] = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
];
/// Starting a run, on state machines named `<prefix>-*` (the deployment's name prefix).
pub const START_ACTIONS: [&str; 1] = ["states:StartExecution"];
/// Cancelling a run, on its execution.
pub const STOP_ACTIONS: [&str; 1] = ["states:StopExecution"];
/// Reporting a step's end through its task token (not resource-scoped).
pub const TASK_TOKEN_ACTIONS: [&str; 2] = ["states:SendTaskSuccess", "states:SendTaskFailure"];
/// What a deep health check calls: it describes a machine under the deployment's prefix
/// that is never created.
pub const PROBE_ACTIONS: [&str; 1] = ["states:DescribeStateMachine"];
/// What the inspection helpers call (`describe`, `states_entered`, `send_task_heartbeat`):
/// the tests and the bench use them, no function does.
pub const INSPECT_ACTIONS: [&str; 3] = [
    "states:DescribeExecution",
    "states:GetExecutionHistory",
    "states:SendTaskHeartbeat",
];

/// Where state machines live and the role their executions assume.
#[derive(Debug, Clone)]
pub struct StateMachines {
    /// The role executions assume (sends step messages to SQS).
    pub role_arn: String,
    pub region: String,
    pub account: String,
    /// The CloudWatch Logs group executions log to; none logs nothing.
    pub log_group_arn: Option<String>,
    /// A machine name under the deployment's prefix that is never created: describing it
    /// shows that Step Functions answers, within the grant on `<prefix>-*`.
    pub probe_machine: String,
}

impl StateMachines {
    /// The account comes from the role's ARN (`arn:aws:iam::<account>:role/<name>`).
    pub fn new(role_arn: &str, region: &str) -> Result<Self, EngineError> {
        let account = role_arn
            .split(':')
            .nth(4)
            .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                EngineError::Unavailable(format!(
                    "`{role_arn}` is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)"
                ))
            })?;
        Ok(Self {
            role_arn: role_arn.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            log_group_arn: None,
            probe_machine: "skein-health-probe".into(),
        })
    }

    /// Probes with a name under the deployment's prefix (`<prefix>-health-probe`).
    pub fn probing(mut self, name_prefix: &str) -> Self {
        self.probe_machine = format!("{name_prefix}-health-probe");
        self
    }

    /// Executions log to this CloudWatch Logs group (`arn:...:log-group:<name>`, with or
    /// without the trailing `:*`): express workflows everything (it is their only
    /// history), standard ones their errors (their history is in Step Functions).
    pub fn logging_to(mut self, log_group_arn: Option<String>) -> Self {
        self.log_group_arn = log_group_arn.map(|arn| {
            if arn.ends_with(":*") {
                arn
            } else {
                format!("{arn}:*")
            }
        });
        self
    }

    fn logging(&self, mode: Mode) -> Option<LoggingConfiguration> {
        let group = self.log_group_arn.as_ref()?;
        let level = match mode {
            Mode::Express => LogLevel::All,
            Mode::Standard => LogLevel::Error,
        };
        let destination = LogDestination::builder()
            .cloud_watch_logs_log_group(
                CloudWatchLogsLogGroup::builder()
                    .log_group_arn(group)
                    .build(),
            )
            .build();
        Some(
            LoggingConfiguration::builder()
                .level(level)
                .include_execution_data(false)
                .destinations(destination)
                .build(),
        )
    }

    pub fn machine_arn(&self, machine: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{machine}",
            self.region, self.account
        )
    }

    pub fn execution_arn(&self, machine: &str, run: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:execution:{machine}:{run}",
            self.region, self.account
        )
    }
}

pub struct StepFunctionsEngine {
    client: Client,
    machines: StateMachines,
}

/// An execution as Step Functions describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionState {
    pub running: bool,
    pub ended: Option<ExecutionEnded>,
}

impl StepFunctionsEngine {
    /// Whether `machine` exists with exactly `asl` (None: it does not exist).
    async fn matches_existing(
        &self,
        machine: &str,
        asl: &Value,
    ) -> Result<Option<bool>, EngineError> {
        let described = self
            .client
            .describe_state_machine()
            .state_machine_arn(self.machines.machine_arn(machine))
            .send()
            .await;
        match described {
            Ok(existing) => Ok(Some(
                serde_json::from_str::<Value>(existing.definition())
                    .is_ok_and(|stored| &stored == asl),
            )),
            Err(e) if e.code() == Some("StateMachineDoesNotExist") => Ok(None),
            Err(e) => Err(engine_error(e, machine)),
        }
    }

    pub fn new(client: Client, machines: StateMachines) -> Self {
        Self { client, machines }
    }

    pub fn machines(&self) -> &StateMachines {
        &self.machines
    }

    /// The execution of `run`, and how it ended if it has.
    pub async fn describe(&self, machine: &str, run: &str) -> Result<ExecutionState, EngineError> {
        let described = self
            .client
            .describe_execution()
            .execution_arn(self.machines.execution_arn(machine, run))
            .send()
            .await
            .map_err(|e| engine_error(e, run))?;
        let status = match described.status {
            SfnStatus::Running | SfnStatus::PendingRedrive => None,
            SfnStatus::Succeeded => Some(ExecutionStatus::Succeeded),
            SfnStatus::TimedOut => Some(ExecutionStatus::TimedOut),
            SfnStatus::Aborted => Some(ExecutionStatus::Aborted),
            _ => Some(ExecutionStatus::Failed),
        };
        let input = described
            .input
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null);
        Ok(ExecutionState {
            running: status.is_none(),
            ended: status.map(|status| ExecutionEnded {
                run: described.name.unwrap_or_else(|| run.to_string()),
                input,
                status,
                error: described.error,
                cause: described.cause,
            }),
        })
    }

    /// The names of the states the execution entered, in order (its history, paged).
    pub async fn states_entered(
        &self,
        machine: &str,
        run: &str,
    ) -> Result<Vec<String>, EngineError> {
        let mut entered = Vec::new();
        let mut pages = self
            .client
            .get_execution_history()
            .execution_arn(self.machines.execution_arn(machine, run))
            .include_execution_data(false)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| engine_error(e, run))?;
            entered.extend(
                page.events
                    .into_iter()
                    .filter_map(|e| e.state_entered_event_details)
                    .map(|d| d.name),
            );
        }
        Ok(entered)
    }

    /// Tells Step Functions a long step is still alive (a task with a heartbeat timeout).
    pub async fn send_task_heartbeat(&self, token: &str) -> Result<(), EngineError> {
        self.client
            .send_task_heartbeat()
            .task_token(token)
            .send()
            .await
            .map(drop)
            .map_err(|e| engine_error(e, "task"))
    }
}

#[async_trait]
impl WorkflowEngine for StepFunctionsEngine {
    /// Names carry the definition's digest, so an existing machine is an earlier try of
    /// this same registration; one with another definition is never replaced. The
    /// existing machine is read first: CreateStateMachine's own idempotency check differs
    /// between AWS (refuses another definition) and emulators (some return the old one).
    async fn register(&self, machine: &str, mode: Mode, asl: &Value) -> Result<(), EngineError> {
        if let Some(same) = self.matches_existing(machine, asl).await? {
            return if same {
                Ok(())
            } else {
                Err(EngineError::Conflict(machine.to_string()))
            };
        }
        let kind = match mode {
            Mode::Standard => StateMachineType::Standard,
            Mode::Express => StateMachineType::Express,
        };
        let created = self
            .client
            .create_state_machine()
            .name(machine)
            .definition(asl.to_string())
            .role_arn(&self.machines.role_arn)
            .r#type(kind)
            .set_logging_configuration(self.machines.logging(mode))
            .publish(true)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // Created by a concurrent registration between the read and the create.
            Err(e) if e.code() == Some("StateMachineAlreadyExists") => {
                match self.matches_existing(machine, asl).await? {
                    Some(true) => Ok(()),
                    _ => Err(EngineError::Conflict(machine.to_string())),
                }
            }
            Err(e) => Err(engine_error(e, machine)),
        }
    }

    async fn start(&self, machine: &str, run: &str, input: &Value) -> Result<(), EngineError> {
        let started = self
            .client
            .start_execution()
            .state_machine_arn(self.machines.machine_arn(machine))
            .name(run)
            .input(input.to_string())
            .send()
            .await;
        match started {
            Ok(_) => Ok(()),
            // Starting a run twice: the first start stands.
            Err(e) if e.code() == Some("ExecutionAlreadyExists") => Ok(()),
            Err(e) => Err(engine_error(e, run)),
        }
    }

    async fn stop(
        &self,
        machine: &str,
        run: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), EngineError> {
        self.client
            .stop_execution()
            .execution_arn(self.machines.execution_arn(machine, run))
            .error(clip(error, MAX_ERROR_CHARS))
            .cause(clip(cause, MAX_CAUSE_CHARS))
            .send()
            .await
            .map(drop)
            .map_err(|e| engine_error(e, run))
    }

    async fn send_task_success(&self, token: &str, output: &Value) -> Result<(), EngineError> {
        self.client
            .send_task_success()
            .task_token(token)
            .output(output.to_string())
            .send()
            .await
            .map(drop)
            .map_err(|e| engine_error(e, "task"))
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), EngineError> {
        self.client
            .send_task_failure()
            .task_token(token)
            .error(clip(error, MAX_ERROR_CHARS))
            .cause(clip(cause, MAX_CAUSE_CHARS))
            .send()
            .await
            .map(drop)
            .map_err(|e| engine_error(e, "task"))
    }

    async fn probe(&self) -> Result<(), EngineError> {
        let machine = &self.machines.probe_machine;
        match self
            .client
            .describe_state_machine()
            .state_machine_arn(self.machines.machine_arn(machine))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("StateMachineDoesNotExist") => Ok(()),
            Err(e) => Err(engine_error(e, machine)),
        }
    }
}

/// Maps Step Functions' error codes onto the port's errors; the rest is "unavailable".
fn engine_error<E, R>(e: SdkError<E, R>, what: &str) -> EngineError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.code() {
        Some("TaskDoesNotExist" | "TaskTimedOut" | "InvalidToken") => EngineError::TaskDoesNotExist,
        Some("ExecutionDoesNotExist" | "StateMachineDoesNotExist") => {
            EngineError::NotFound(what.to_string())
        }
        Some("InvalidDefinition") => EngineError::InvalidDefinition(
            e.message()
                .unwrap_or("the definition was refused")
                .to_string(),
        ),
        _ => EngineError::Unavailable(DisplayErrorContext(e).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_are_built_from_the_role_account_and_region() {
        let machines =
            StateMachines::new("arn:aws:iam::123456789012:role/skein-states", "eu-west-1").unwrap();
        assert_eq!(
            machines.execution_arn("skein-acme-report-v2", "run_01J"),
            "arn:aws:states:eu-west-1:123456789012:execution:skein-acme-report-v2:run_01J"
        );
        assert!(StateMachines::new("skein-states", "eu-west-1").is_err());
    }
}
