//! `skein asl serve`: skein-asl behind Step Functions' own API, so the AWS CLI
//! (`aws stepfunctions --endpoint-url`) and every AWS SDK can create state machines, run
//! them and answer their task tokens on a laptop. Executions run on the same interpreter as
//! `skein asl run`; Task states are answered by a mock configuration, a local Lambda
//! endpoint, or (`.waitForTaskToken`) the client.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use skein_asl::{
    Execution, ExecutionConfig, ExecutionHandle, Outcome, Resources, SkippingClock, StateMachine,
    Status, SystemClock,
};
use tokio::sync::watch;

use super::protocol::{self, ApiError, ErrorCode, epoch, ok};
use super::tasks::{ExecutionTasks, LambdaEndpoint, MockConfig};

/// How the endpoint answers.
pub struct ServeSettings {
    /// `SFN_MOCK_CONFIG`: mocked Task responses, chosen per execution by
    /// `stateMachineArn#TestCase`.
    pub mocks: Option<Arc<MockConfig>>,
    /// Lambda tasks go to this Invoke endpoint when no mock answers them.
    pub lambda_endpoint: Option<String>,
    /// Wait states and retry back-off take no time.
    pub virtual_time: bool,
    pub region: String,
    pub account: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MachineType {
    Standard,
    Express,
}

impl MachineType {
    fn parse(name: Option<&str>) -> Result<MachineType, ApiError> {
        match name.unwrap_or("STANDARD") {
            "STANDARD" => Ok(MachineType::Standard),
            "EXPRESS" => Ok(MachineType::Express),
            other => Err(ApiError::new(
                ErrorCode::Validation,
                format!("type `{other}` is not STANDARD or EXPRESS"),
            )),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            MachineType::Standard => "STANDARD",
            MachineType::Express => "EXPRESS",
        }
    }
}

struct Machine {
    arn: String,
    name: String,
    definition: String,
    parsed: StateMachine,
    role_arn: String,
    kind: MachineType,
    created: DateTime<Utc>,
}

/// One execution: steered through its handle while it runs, its outcome once it ends.
struct Run {
    arn: String,
    machine_arn: String,
    name: String,
    input: String,
    started: DateTime<Utc>,
    role_arn: String,
    handle: ExecutionHandle,
    outcome: watch::Receiver<Option<Arc<Outcome>>>,
}

impl Run {
    fn ended(&self) -> Option<Arc<Outcome>> {
        self.outcome.borrow().clone()
    }

    fn status(&self) -> &'static str {
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

pub struct Service {
    settings: ServeSettings,
    client: reqwest::Client,
    machines: RwLock<BTreeMap<String, Arc<Machine>>>,
    /// In the order they started.
    runs: RwLock<Vec<Arc<Run>>>,
}

pub fn router(settings: ServeSettings) -> Router {
    let service = Arc::new(Service {
        settings,
        client: reqwest::Client::new(),
        machines: RwLock::default(),
        runs: RwLock::default(),
    });
    Router::new().route("/", post(dispatch)).with_state(service)
}

/// Serves until interrupted.
pub async fn serve(addr: SocketAddr, settings: ServeSettings) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    println!(
        "skein asl serve: the Step Functions API on http://{bound} (e.g. aws stepfunctions --endpoint-url http://{bound} list-state-machines)"
    );
    axum::serve(listener, router(settings))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

async fn dispatch(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(operation) = target.strip_prefix("AWSStepFunctions.") else {
        return ApiError::new(
            ErrorCode::UnknownOperation,
            format!("`X-Amz-Target: {target}` is not a Step Functions operation (AWSStepFunctions.<Operation>)"),
        )
        .into_response();
    };
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(e) => {
                return ApiError::new(
                    ErrorCode::SerializationException,
                    format!("the request body is not JSON: {e}"),
                )
                .into_response();
            }
        }
    };
    let answered = match operation {
        "CreateStateMachine" => service.create_state_machine(&request),
        "DescribeStateMachine" => service.describe_state_machine(&request),
        "UpdateStateMachine" => service.update_state_machine(&request),
        "DeleteStateMachine" => service.delete_state_machine(&request),
        "ListStateMachines" => Ok(service.list_state_machines()),
        "StartExecution" => service
            .start_execution(&request)
            .map(|(run, _)| json!({ "executionArn": run.arn, "startDate": epoch(run.started) })),
        "StartSyncExecution" => service.start_sync_execution(&request).await,
        "DescribeExecution" => service.describe_execution(&request),
        "GetExecutionHistory" => service.execution_history(&request),
        "ListExecutions" => service.list_executions(&request),
        "StopExecution" => service.stop_execution(&request),
        "SendTaskSuccess" | "SendTaskFailure" | "SendTaskHeartbeat" => {
            service.answer_token(operation, &request)
        }
        "TestState" => super::test_state::test_state(&request).await,
        other => Err(ApiError::new(
            ErrorCode::UnknownOperation,
            format!("skein asl serve does not implement {other}"),
        )),
    };
    match answered {
        Ok(body) => ok(body),
        Err(error) => error.into_response(),
    }
}

fn string<'a>(request: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    request[field].as_str().ok_or_else(|| {
        ApiError::new(
            ErrorCode::Validation,
            format!("1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must not be null"),
        )
    })
}

/// Step Functions' names: 1 to 80 characters, none of them whitespace, brackets,
/// wildcards or control characters.
fn check_name(name: &str) -> Result<(), ApiError> {
    let bad =
        |c: char| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c);
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(bad) {
        return Err(ApiError::new(
            ErrorCode::InvalidName,
            format!(
                "Invalid Name: '{name}' (1 to 80 characters, no whitespace or <>{{}}[]?*\"#%\\^|~`$&,;:/)"
            ),
        ));
    }
    Ok(())
}

impl Service {
    fn machine_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{name}",
            self.settings.region, self.settings.account
        )
    }

    fn machine(&self, arn: &str) -> Result<Arc<Machine>, ApiError> {
        if !arn.starts_with("arn:aws:states:") || !arn.contains(":stateMachine:") {
            return Err(ApiError::new(
                ErrorCode::InvalidArn,
                format!("Invalid Arn: '{arn}'"),
            ));
        }
        self.machines
            .read()
            .expect("machines lock")
            .get(arn)
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::StateMachineDoesNotExist,
                    format!("State Machine Does Not Exist: '{arn}'"),
                )
            })
    }

    fn run(&self, arn: &str) -> Result<Arc<Run>, ApiError> {
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

    fn parse_definition(definition: &str) -> Result<StateMachine, ApiError> {
        StateMachine::parse(definition).map_err(|invalid| {
            ApiError::new(
                ErrorCode::InvalidDefinition,
                format!("Invalid State Machine Definition: '{invalid}'"),
            )
        })
    }

    fn create_state_machine(&self, request: &Value) -> Result<Value, ApiError> {
        let name = string(request, "name")?;
        check_name(name)?;
        let definition = string(request, "definition")?;
        let role_arn = string(request, "roleArn")?;
        let kind = MachineType::parse(request["type"].as_str())?;
        let parsed = Self::parse_definition(definition)?;
        let arn = self.machine_arn(name);
        let mut machines = self.machines.write().expect("machines lock");
        if let Some(existing) = machines.get(&arn) {
            // As Step Functions: creating the same machine again is not an error.
            if existing.definition == definition
                && existing.role_arn == role_arn
                && existing.kind == kind
            {
                return Ok(
                    json!({ "stateMachineArn": arn, "creationDate": epoch(existing.created) }),
                );
            }
            return Err(ApiError::new(
                ErrorCode::StateMachineAlreadyExists,
                format!("State Machine Already Exists: '{arn}'"),
            ));
        }
        let created = Utc::now();
        machines.insert(
            arn.clone(),
            Arc::new(Machine {
                arn: arn.clone(),
                name: name.to_string(),
                definition: definition.to_string(),
                parsed,
                role_arn: role_arn.to_string(),
                kind,
                created,
            }),
        );
        Ok(json!({ "stateMachineArn": arn, "creationDate": epoch(created) }))
    }

    fn describe_state_machine(&self, request: &Value) -> Result<Value, ApiError> {
        let machine = self.machine(string(request, "stateMachineArn")?)?;
        Ok(json!({
            "stateMachineArn": machine.arn,
            "name": machine.name,
            "status": "ACTIVE",
            "definition": machine.definition,
            "roleArn": machine.role_arn,
            "type": machine.kind.as_str(),
            "creationDate": epoch(machine.created),
        }))
    }

    fn update_state_machine(&self, request: &Value) -> Result<Value, ApiError> {
        let machine = self.machine(string(request, "stateMachineArn")?)?;
        let definition = request["definition"].as_str();
        let role_arn = request["roleArn"].as_str();
        if definition.is_none() && role_arn.is_none() {
            return Err(ApiError::new(
                ErrorCode::Validation,
                "give a definition, a roleArn, or both",
            ));
        }
        let (definition, parsed) = match definition {
            Some(text) => (text.to_string(), Self::parse_definition(text)?),
            None => (machine.definition.clone(), machine.parsed.clone()),
        };
        let updated = Machine {
            arn: machine.arn.clone(),
            name: machine.name.clone(),
            definition,
            parsed,
            role_arn: role_arn.unwrap_or(&machine.role_arn).to_string(),
            kind: machine.kind,
            created: machine.created,
        };
        self.machines
            .write()
            .expect("machines lock")
            .insert(machine.arn.clone(), Arc::new(updated));
        Ok(json!({ "updateDate": epoch(Utc::now()) }))
    }

    fn delete_state_machine(&self, request: &Value) -> Result<Value, ApiError> {
        let arn = string(request, "stateMachineArn")?;
        self.machine(arn)?;
        // Running executions go on, as on Step Functions.
        self.machines.write().expect("machines lock").remove(arn);
        Ok(json!({}))
    }

    fn list_state_machines(&self) -> Value {
        let machines: Vec<Value> = self
            .machines
            .read()
            .expect("machines lock")
            .values()
            .map(|m| {
                json!({
                    "stateMachineArn": m.arn,
                    "name": m.name,
                    "type": m.kind.as_str(),
                    "creationDate": epoch(m.created),
                })
            })
            .collect();
        json!({ "stateMachines": machines })
    }

    /// Starts an execution; `stateMachineArn#TestCase` answers its tasks from that test
    /// case of the mock configuration.
    fn start_execution(&self, request: &Value) -> Result<(Arc<Run>, Arc<Machine>), ApiError> {
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

    async fn start_sync_execution(&self, request: &Value) -> Result<Value, ApiError> {
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

    fn execution_view(&self, run: &Run) -> Value {
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

    fn describe_execution(&self, request: &Value) -> Result<Value, ApiError> {
        let run = self.run(string(request, "executionArn")?)?;
        Ok(self.execution_view(&run))
    }

    fn execution_history(&self, request: &Value) -> Result<Value, ApiError> {
        let run = self.run(string(request, "executionArn")?)?;
        let mut events = match run.ended() {
            Some(outcome) => outcome.history.clone(),
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

    fn list_executions(&self, request: &Value) -> Result<Value, ApiError> {
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

    fn stop_execution(&self, request: &Value) -> Result<Value, ApiError> {
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
    fn answer_token(&self, operation: &str, request: &Value) -> Result<Value, ApiError> {
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
