//! What a Task state of a served execution calls: a mocked response from a mock
//! configuration in Step Functions Local's `MockConfigFile` format, a local Lambda endpoint
//! (`cargo lambda watch`), or, for `.waitForTaskToken` resources, nothing until a client
//! answers the token.
//! <https://docs.aws.amazon.com/step-functions/latest/dg/sfn-local-mock-cfg-file.html>

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Deserialize;
use serde_json::{Value, json};
use skein_asl::{ExecutionHandle, TaskCall, TaskError, TaskHandler};

/// A mock configuration file: per state machine, test cases naming a mocked response for
/// some of its states; per mocked response, what each invocation (`"0"`, `"1-2"`) returns
/// or throws.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MockConfig {
    #[serde(default)]
    state_machines: BTreeMap<String, MockedMachine>,
    #[serde(default)]
    mocked_responses: BTreeMap<String, BTreeMap<String, MockedResponse>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MockedMachine {
    #[serde(default)]
    test_cases: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
enum MockedResponse {
    Return(Value),
    Throw(MockedError),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MockedError {
    error: String,
    #[serde(default)]
    cause: String,
}

impl MockConfig {
    /// Reads and checks a file: every test case names responses the file defines, and
    /// every response's invocation keys are `N` or `N-M`.
    pub fn read(path: &Path) -> Result<MockConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the mock configuration {}: {e}", path.display()))?;
        let config: MockConfig = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}: not a Step Functions mock configuration: {e}",
                path.display()
            )
        })?;
        for (machine, mocked) in &config.state_machines {
            for (case, states) in &mocked.test_cases {
                for (state, response) in states {
                    if !config.mocked_responses.contains_key(response) {
                        return Err(format!(
                            "{}: test case {machine}#{case} gives state `{state}` the response `{response}`, which MockedResponses does not define",
                            path.display()
                        ));
                    }
                }
            }
        }
        for (name, invocations) in &config.mocked_responses {
            for key in invocations.keys() {
                if invocation_range(key).is_none() {
                    return Err(format!(
                        "{}: MockedResponses.{name} has the key `{key}`; use an invocation number (`0`) or range (`1-2`)",
                        path.display()
                    ));
                }
            }
        }
        Ok(config)
    }

    /// Mocks that answer each state's invocations in turn with what was recorded for it:
    /// an output, or an error and cause. Used as test case `case` of `machine`.
    pub fn from_recorded(machine: &str, case: &str, answers: &AnswersByState) -> MockConfig {
        let mut config = MockConfig::default();
        let mut states = BTreeMap::new();
        for (state, recorded) in answers {
            let name = format!("recorded {state}");
            let invocations = recorded
                .iter()
                .enumerate()
                .map(|(i, answer)| {
                    let response = match answer {
                        Ok(output) => MockedResponse::Return(output.clone()),
                        Err(failure) => MockedResponse::Throw(MockedError {
                            error: failure.error.clone(),
                            cause: failure.cause.clone(),
                        }),
                    };
                    (i.to_string(), response)
                })
                .collect();
            config.mocked_responses.insert(name.clone(), invocations);
            states.insert(state.clone(), name);
        }
        config.state_machines.insert(
            machine.to_string(),
            MockedMachine {
                test_cases: BTreeMap::from([(case.to_string(), states)]),
            },
        );
        config
    }

    /// Whether the file has this test case for this state machine.
    pub fn has_case(&self, machine: &str, case: &str) -> bool {
        self.state_machines
            .get(machine)
            .is_some_and(|m| m.test_cases.contains_key(case))
    }

    fn response(
        &self,
        machine: &str,
        case: &str,
        state: &str,
        invocation: u32,
    ) -> Option<Result<MockedResponse, String>> {
        let name = self
            .state_machines
            .get(machine)?
            .test_cases
            .get(case)?
            .get(state)?;
        let invocations = &self.mocked_responses[name];
        Some(
            invocations
                .iter()
                .find(|(key, _)| {
                    invocation_range(key)
                        .is_some_and(|(from, to)| (from..=to).contains(&invocation))
                })
                .map(|(_, response)| response.clone())
                .ok_or_else(|| {
                    format!("the mocked response `{name}` has nothing for invocation {invocation} of state `{state}`")
                }),
        )
    }
}

fn invocation_range(key: &str) -> Option<(u32, u32)> {
    match key.split_once('-') {
        Some((from, to)) => {
            let (from, to) = (from.trim().parse().ok()?, to.trim().parse().ok()?);
            (from <= to).then_some((from, to))
        }
        None => key.trim().parse().ok().map(|n| (n, n)),
    }
}

/// What each Task state answered, invocation by invocation, by state name.
pub type AnswersByState = BTreeMap<String, Vec<Result<Value, TaskError>>>;

/// How one execution's tasks are answered.
pub struct ExecutionTasks {
    pub mocks: Option<(Arc<MockConfig>, String, String)>,
    pub lambda: Option<LambdaEndpoint>,
    /// Filled once the execution exists: a mocked `.waitForTaskToken` answers through it.
    pub handle: Arc<OnceLock<ExecutionHandle>>,
    invocations: Mutex<HashMap<String, u32>>,
}

impl ExecutionTasks {
    pub fn new(
        mocks: Option<(Arc<MockConfig>, String, String)>,
        lambda: Option<LambdaEndpoint>,
    ) -> ExecutionTasks {
        ExecutionTasks {
            mocks,
            lambda,
            handle: Arc::default(),
            invocations: Mutex::default(),
        }
    }

    fn next_invocation(&self, state: &str) -> u32 {
        let mut counts = self.invocations.lock().expect("invocation counts");
        let count = counts.entry(state.to_string()).or_insert(0);
        let this = *count;
        *count += 1;
        this
    }
}

#[async_trait::async_trait]
impl TaskHandler for ExecutionTasks {
    async fn call(&self, call: TaskCall) -> Result<Value, TaskError> {
        let invocation = self.next_invocation(&call.state_name);
        if let Some((config, machine, case)) = &self.mocks
            && let Some(response) = config.response(machine, case, &call.state_name, invocation)
        {
            let output = match response.map_err(|e| TaskError::new("States.Runtime", e))? {
                MockedResponse::Return(value) => value,
                MockedResponse::Throw(e) => return Err(TaskError::new(e.error, e.cause)),
            };
            if let (Some(token), Some(handle)) = (&call.task_token, self.handle.get()) {
                handle
                    .send_task_success(token, output.clone())
                    .map_err(|e| TaskError::new("States.Runtime", e.to_string()))?;
            }
            return Ok(output);
        }
        if call.task_token.is_some() {
            // A client answers with SendTaskSuccess or SendTaskFailure.
            return Ok(Value::Null);
        }
        match &self.lambda {
            Some(lambda) if is_lambda(&call.resource) => lambda.invoke(&call).await,
            _ => Err(TaskError::new(
                "States.Runtime",
                format!(
                    "skein asl serve cannot call `{}` for state `{}`: start the execution with a test case of --mock-config ({}) that mocks it{}",
                    call.resource,
                    call.state_name,
                    "stateMachineArn#TestCase",
                    if is_lambda(&call.resource) {
                        ", or give --lambda-endpoint"
                    } else {
                        ""
                    }
                ),
            )),
        }
    }
}

fn is_lambda(resource: &str) -> bool {
    resource.starts_with("arn:aws:states:::lambda:invoke")
        || (resource.contains(":lambda:") && resource.contains(":function:"))
}

/// A local endpoint speaking Lambda's Invoke API, as `cargo lambda watch` serves it.
#[derive(Clone)]
pub struct LambdaEndpoint {
    pub url: String,
    pub client: reqwest::Client,
}

impl LambdaEndpoint {
    /// `lambda:invoke` takes `FunctionName` and `Payload` and answers Lambda's whole
    /// response; a function's own ARN takes the state's input and answers its payload.
    async fn invoke(&self, call: &TaskCall) -> Result<Value, TaskError> {
        let integrated = call.resource.starts_with("arn:aws:states:::lambda:invoke");
        let (function, payload) = if integrated {
            let name = call.parameters["FunctionName"].as_str().ok_or_else(|| {
                TaskError::new(
                    "States.Runtime",
                    format!(
                        "state `{}`: lambda:invoke needs Parameters.FunctionName",
                        call.state_name
                    ),
                )
            })?;
            (name.to_string(), call.parameters["Payload"].clone())
        } else {
            (call.resource.to_string(), call.parameters.clone())
        };
        // A name, or an ARN ending in `function:NAME[:QUALIFIER]`.
        let name = function
            .split_once(":function:")
            .map(|(_, rest)| rest.split(':').next().unwrap_or(rest))
            .unwrap_or(&function)
            .to_string();
        let url = format!(
            "{}/2015-03-31/functions/{name}/invocations",
            self.url.trim_end_matches('/')
        );
        let response = self
            .client
            .post(&url)
            .json(&payload)
            .send()
            .await
            .map_err(|e| TaskError::new("Lambda.ServiceException", format!("{url}: {e}")))?;
        let status = response.status();
        let function_error = response.headers().contains_key("x-amz-function-error");
        let body = response
            .bytes()
            .await
            .map_err(|e| TaskError::new("Lambda.ServiceException", format!("{url}: {e}")))?;
        let answer: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        if !status.is_success() {
            return Err(TaskError::new(
                "Lambda.ServiceException",
                format!("{url} answered {status}: {answer}"),
            ));
        }
        if function_error {
            let error = answer["errorType"].as_str().unwrap_or("Lambda.Unknown");
            return Err(TaskError::new(error, answer.to_string()));
        }
        Ok(if integrated {
            json!({ "ExecutedVersion": "$LATEST", "Payload": answer, "StatusCode": 200 })
        } else {
            answer
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocation_keys_are_numbers_or_ranges() {
        assert_eq!(invocation_range("0"), Some((0, 0)));
        assert_eq!(invocation_range("1-3"), Some((1, 3)));
        assert_eq!(invocation_range("3-1"), None);
        assert_eq!(invocation_range("first"), None);
    }
}
