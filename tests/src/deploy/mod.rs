//! What a deployment template says, read from the Terraform (`terraform.rs`) or the SAM
//! template (`sam.rs`) into one model, and the check that it agrees with the code
//! (`skein_lambda::deploy`). ARNs are rendered for an example account, region and the
//! default name prefix, so both templates are compared with the same expected ARNs, and
//! the rendered policies can go through parliament.

mod hcl_eval;
pub mod policies;
pub mod sam;
pub mod terraform;

use std::collections::{BTreeMap, BTreeSet};

use skein_lambda::deploy::{FunctionNeeds, QueueKind, Resource, Trigger};

pub const REGION: &str = "eu-west-1";
pub const ACCOUNT: &str = "123456789012";
pub const PREFIX: &str = "skein";
/// The deployment's LLM model, as the readers' example `llm.model` / `LlmModel`.
pub const LLM_MODEL: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";

/// A Bedrock model a step-worker may invoke: as a foundation model in any region (a
/// cross-region inference profile routes there), and as an inference profile of its own.
pub fn bedrock_model_arns(model: &str) -> Vec<String> {
    vec![
        format!("arn:aws:bedrock:*::foundation-model/{model}"),
        format!("arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{model}"),
    ]
}
/// The functions, as `scripts/functions.sh` lists them.
pub const FUNCTION_NAMES: [&str; 9] = [
    "api-agents",
    "api-tasks",
    "api-workflows",
    "api-runs",
    "api-messages",
    "authorizer",
    "step-worker",
    "message-router",
    "scheduler",
];
pub const KEY_ID: &str = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9";

/// One policy statement, by its Sid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statement {
    pub actions: BTreeSet<String>,
    pub resources: BTreeSet<String>,
    /// `test variable=value` of each condition, for the rendered policy.
    pub conditions: Vec<(String, String, String)>,
}

pub type Permissions = BTreeMap<String, Statement>;

#[derive(Debug, Clone, Default)]
pub struct Function {
    pub variables: BTreeSet<String>,
    pub permissions: Permissions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub function: String,
    pub public: bool,
}

/// A deployment as one template describes it; functions by their `functions/` crate.
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    pub functions: BTreeMap<String, Function>,
    /// `METHOD /path` to the function serving it.
    pub routes: BTreeMap<String, Route>,
    pub authorizer: Option<String>,
    /// Function to (queue, whether it reports per-message failures).
    pub queue_sources: BTreeMap<String, (QueueKind, bool)>,
    /// The function the one-minute `{"action":"tick"}` schedule invokes.
    pub tick: Option<String>,
    /// The functions with a function URL that streams (`RESPONSE_STREAM`).
    pub streaming_urls: BTreeSet<String>,
    /// The detail-type the execution-status rule matches, and the queue it targets.
    pub execution_events: Option<(String, QueueKind)>,
    pub states_role: Permissions,
    pub schedule_role: Permissions,
}

/// What the code says a deployment must have.
pub struct Expected {
    /// The crates under `functions/`.
    pub crates: BTreeSet<String>,
    pub functions: Vec<FunctionNeeds>,
    /// Every route the API serves (`METHOD /path`) to its function.
    pub routes: BTreeMap<String, Route>,
}

fn arn(service: &str, rest: &str) -> String {
    format!("arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}")
}

pub fn queue_arn(queue: QueueKind) -> String {
    arn(
        "sqs",
        match queue {
            QueueKind::Steps => "skein-steps",
            QueueKind::Messages => "skein-messages",
        },
    )
}

pub fn function_arn(function: &str) -> String {
    arn("lambda", &format!("function:{PREFIX}-{function}"))
}

pub fn table_arn() -> String {
    arn("dynamodb", &format!("table/{PREFIX}"))
}

pub fn states_role_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{PREFIX}-executions")
}

pub fn key_arn() -> String {
    arn("kms", &format!("key/{KEY_ID}"))
}

pub fn log_group_arn(name: &str) -> String {
    arn("logs", &format!("log-group:{name}:*"))
}

/// The ARNs a statement about `resource` names, for `function`.
pub fn expected_resources(resource: Resource, function: &str) -> BTreeSet<String> {
    let machines = arn("states", &format!("stateMachine:{PREFIX}-*"));
    let set = match resource {
        Resource::Table => vec![table_arn(), format!("{}/index/*", table_arn())],
        Resource::StepQueue | Resource::StepQueueSource => vec![queue_arn(QueueKind::Steps)],
        Resource::MessageQueue | Resource::MessageQueueSource => {
            vec![queue_arn(QueueKind::Messages)]
        }
        Resource::StateMachines => vec![machines],
        Resource::Executions => vec![arn("states", &format!("execution:{PREFIX}-*:*"))],
        Resource::TaskTokens | Resource::LogDelivery | Resource::Tracing => vec!["*".into()],
        Resource::StatesRole => vec![states_role_arn()],
        Resource::Logs => vec![log_group_arn(&format!("/aws/lambda/{PREFIX}-{function}"))],
        Resource::EnvironmentKey => vec![key_arn()],
        Resource::Models => bedrock_model_arns(LLM_MODEL),
    };
    set.into_iter().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Compares what a role may do with what its code calls, both ways.
fn compare(
    problems: &mut Vec<String>,
    who: &str,
    granted: &Permissions,
    needed: &[(String, BTreeSet<String>, BTreeSet<String>)],
) {
    for (sid, actions, resources) in needed {
        let Some(statement) = granted.get(sid) else {
            problems.push(format!(
                "{who} has no `{sid}` statement: its code calls {actions:?} on {resources:?}"
            ));
            continue;
        };
        for action in actions.difference(&statement.actions) {
            problems.push(format!(
                "{who} may not call {action} on {sid}, which its code calls"
            ));
        }
        for action in statement.actions.difference(actions) {
            problems.push(format!(
                "{who} may call {action} on {sid}, which its code never calls"
            ));
        }
        if &statement.resources != resources {
            problems.push(format!(
                "{who}'s `{sid}` statement names {:?}, not {resources:?}",
                statement.resources
            ));
        }
    }
    for sid in granted.keys() {
        if !needed.iter().any(|(s, _, _)| s == sid) {
            problems.push(format!(
                "{who} has a `{sid}` statement its code does not need"
            ));
        }
    }
}

/// Every way `deployment` disagrees with the code; empty when it agrees.
pub fn check(source: &str, deployment: &Deployment, expected: &Expected) -> Vec<String> {
    let mut problems = Vec::new();
    let deployed: BTreeSet<String> = deployment.functions.keys().cloned().collect();
    let needed: BTreeSet<String> = expected.functions.iter().map(|f| f.name.into()).collect();
    for missing in expected.crates.difference(&deployed) {
        problems.push(format!("{source}: functions/{missing} is not deployed"));
    }
    for stray in deployed.difference(&expected.crates) {
        problems.push(format!(
            "{source}: deploys {stray}, which is no functions/ crate"
        ));
    }
    for undeclared in expected.crates.difference(&needed) {
        problems.push(format!(
            "functions/{undeclared} has no entry in skein_lambda::deploy::functions()"
        ));
    }

    for needs in &expected.functions {
        let Some(function) = deployment.functions.get(needs.name) else {
            continue;
        };
        let who = format!("{source}: {}", needs.name);
        for variable in &needs.variables {
            if !function.variables.contains(*variable) {
                problems.push(format!(
                    "{who} does not set {variable}, which it reads at start"
                ));
            }
        }
        // The signing key only where tokens are issued: anything else that could run
        // tenant code (the step-worker runs jq and http) must not be able to mint tokens.
        if !needs.issues_tokens {
            for key in skein_lambda::SIGNING_KEY_VARIABLES {
                if function.variables.contains(key) {
                    problems.push(format!(
                        "{who} is given {key}, a token signing key, but issues no tokens"
                    ));
                }
            }
        }
        // The token settings only where tokens are checked: the functions that serve no
        // API read none, and a key they were given would only widen what a breach leaks.
        if !needs.verifies_tokens {
            for key in skein_lambda::AuthSettings::VERIFIER_VARIABLES {
                if function.variables.contains(key) {
                    problems.push(format!(
                        "{who} is given {key}, a token setting, but serves no API"
                    ));
                }
            }
        }
        // The builtins' variables (the LLM API key) only where the builtins are linked.
        if !needs.builtins {
            for key in skein_lambda::PlatformSettings::BUILTIN_VARIABLES {
                if function.variables.contains(key) {
                    problems.push(format!(
                        "{who} is given {key}, a builtin agents' variable, but links no builtins"
                    ));
                }
            }
        }
        let grants: Vec<_> = needs
            .grants
            .iter()
            .map(|g| {
                (
                    g.resource.key().to_string(),
                    set(&g.actions),
                    expected_resources(g.resource, needs.name),
                )
            })
            .collect();
        compare(&mut problems, &who, &function.permissions, &grants);
        check_triggers(&mut problems, &who, needs, deployment);
    }

    for (route, want) in &expected.routes {
        match deployment.routes.get(route) {
            None => problems.push(format!("{source}: no route for {route}")),
            Some(got) if got != want => problems.push(format!(
                "{source}: {route} goes to {} (public: {}), but {} serves it (public: {})",
                got.function, got.public, want.function, want.public
            )),
            Some(_) => {}
        }
    }
    for route in deployment.routes.keys() {
        if !expected.routes.contains_key(route) {
            problems.push(format!(
                "{source}: routes {route}, which the API does not serve"
            ));
        }
    }

    let states_needs: Vec<_> = skein_lambda::deploy::STATES_ROLE_ACTIONS
        .iter()
        .map(|(sid, actions)| {
            let resources = match *sid {
                "StepQueue" => [queue_arn(QueueKind::Steps)].into(),
                "StepWorker" => {
                    let worker = function_arn("step-worker");
                    [format!("{worker}:*"), worker].into()
                }
                _ => ["*".to_string()].into(),
            };
            (sid.to_string(), set(actions), resources)
        })
        .collect();
    let who = format!("{source}: the executions' role");
    compare(&mut problems, &who, &deployment.states_role, &states_needs);
    let schedule_needs: Vec<_> = skein_lambda::deploy::SCHEDULE_ROLE_ACTIONS
        .iter()
        .map(|(sid, actions)| {
            let scheduler = function_arn("scheduler");
            let resources = [format!("{scheduler}:*"), scheduler].into();
            (sid.to_string(), set(actions), resources)
        })
        .collect();
    let who = format!("{source}: the schedules' role");
    compare(
        &mut problems,
        &who,
        &deployment.schedule_role,
        &schedule_needs,
    );
    problems
}

fn check_triggers(
    problems: &mut Vec<String>,
    who: &str,
    needs: &FunctionNeeds,
    deployment: &Deployment,
) {
    for trigger in &needs.triggers {
        match trigger {
            Trigger::Http(_) => {
                if !deployment.routes.values().any(|r| r.function == needs.name) {
                    problems.push(format!("{who} serves API routes, but no route reaches it"));
                }
            }
            Trigger::Authorizer => {
                if deployment.authorizer.as_deref() != Some(needs.name) {
                    problems.push(format!("{who} is not the HTTP API's authorizer"));
                }
            }
            Trigger::Queue(queue) => {
                match deployment.queue_sources.get(needs.name) {
                    Some((got, true)) if got == queue => {}
                    Some((_, false)) => problems.push(format!(
                        "{who}'s queue event source does not report per-message failures"
                    )),
                    _ => problems.push(format!("{who} has no event source on the {queue:?} queue")),
                }
                // The step queue also brings the executions' ends.
                let detail = skein_lambda::step_worker::EXECUTION_STATUS_CHANGE;
                if *queue == QueueKind::Steps
                    && deployment.execution_events != Some((detail.to_string(), QueueKind::Steps))
                {
                    problems.push(format!(
                        "{who}: no rule sends \"{detail}\" events to the step queue"
                    ));
                }
            }
            Trigger::Tick => {
                if deployment.tick.as_deref() != Some(needs.name) {
                    problems.push(format!("{who} gets no one-minute tick"));
                }
            }
            Trigger::StreamingUrl => {
                if !deployment.streaming_urls.contains(needs.name) {
                    problems.push(format!(
                        "{who} has no function URL with InvokeMode RESPONSE_STREAM"
                    ));
                }
            }
            Trigger::ExpressSteps => {
                if !deployment.states_role.contains_key("StepWorker") {
                    problems.push(format!("{who}: the executions' role may not invoke it"));
                }
            }
        }
    }
}
