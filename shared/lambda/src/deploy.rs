//! What each deployable function needs from its deployment: the variables it reads at
//! start, the AWS actions its code calls and on which resource, and what invokes it.
//! `terraform/` and `infra/template.yaml` must grant exactly this; the consistency test
//! (`tests/tests/deploy_consistency.rs`) parses both and fails when they disagree.
//!
//! The actions come from the adapters' lists, kept next to the calls (`skein_aws::iam`).
//! Which of them a function needs follows from the use cases its entry point reaches:
//! e.g. only `api-workflows` registers workflows, so only it may create state machines
//! and pass the executions' role.

use skein_aws::iam;
use skein_http::ApiGroup;

use crate::config::{AuthSettings, PlatformSettings};

/// A resource a function's policy names. The key is the policy statement's `Sid` in
/// both templates, and the key of the function module's `permissions` in Terraform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    /// The DynamoDB table and its indexes.
    Table,
    /// The step queue, to send to.
    StepQueue,
    /// The step queue, as the function's event source.
    StepQueueSource,
    /// The messages queue, to send to.
    MessageQueue,
    /// The messages queue, as the function's event source.
    MessageQueueSource,
    /// State machines named `<prefix>-*` (the deployment's name prefix).
    StateMachines,
    /// Their executions.
    Executions,
    /// Task tokens: not resource-scoped (`*`).
    TaskTokens,
    /// The role state machines' executions assume.
    StatesRole,
    /// CloudWatch Logs delivery for executions: not resource-scoped (`*`).
    LogDelivery,
    /// The function's own log group.
    Logs,
    /// X-Ray active tracing: not resource-scoped (`*`).
    Tracing,
    /// The platform's KMS key, which encrypts the function's environment.
    EnvironmentKey,
    /// The Bedrock models the deployment names (`llm.model` and `llm.models`): each as a
    /// foundation model in any region and as an inference profile of the account. Granted
    /// only when the deployment's LLM provider is `bedrock`.
    Models,
}

impl Resource {
    pub fn key(self) -> &'static str {
        match self {
            Self::Table => "Table",
            Self::StepQueue => "StepQueue",
            Self::StepQueueSource => "StepQueueSource",
            Self::MessageQueue => "MessageQueue",
            Self::MessageQueueSource => "MessageQueueSource",
            Self::StateMachines => "StateMachines",
            Self::Executions => "Executions",
            Self::TaskTokens => "TaskTokens",
            Self::StatesRole => "StatesRole",
            Self::LogDelivery => "LogDelivery",
            Self::Logs => "Logs",
            Self::Tracing => "Tracing",
            Self::EnvironmentKey => "EnvironmentKey",
            Self::Models => "Models",
        }
    }
}

/// Actions on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub resource: Resource,
    pub actions: Vec<&'static str>,
}

/// Which queue an SQS event source mapping reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueKind {
    Steps,
    Messages,
}

/// What invokes a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// API Gateway routes: every operation of the group.
    Http(ApiGroup),
    /// The HTTP API's Lambda authorizer.
    Authorizer,
    /// An SQS event source mapping with `ReportBatchItemFailures`.
    Queue(QueueKind),
    /// EventBridge Scheduler: the platform's one-minute `{"action":"tick"}`.
    Tick,
    /// Express state machines (`arn:aws:states:::lambda:invoke`), as the executions' role.
    ExpressSteps,
    /// Its own function URL, streaming its responses (`InvokeMode: RESPONSE_STREAM`).
    StreamingUrl,
}

#[derive(Debug, Clone)]
pub struct FunctionNeeds {
    /// The `functions/` crate, and the function's name after the deployment's prefix.
    pub name: &'static str,
    pub variables: Vec<&'static str>,
    /// Whether it verifies callers' tokens (it serves the API): only then does it get the
    /// JWT variables (`AuthSettings::VERIFIER_VARIABLES`).
    pub verifies_tokens: bool,
    /// Whether it issues tokens (serves `/v1/auth/token`): only then does it get the
    /// signing key (`config::SIGNING_KEY_VARIABLES`).
    pub issues_tokens: bool,
    /// Whether it links the builtin agents (its `main` names `skein_lambda::builtins`):
    /// only then does it get their variables, the LLM API key among them.
    pub builtins: bool,
    pub grants: Vec<Grant>,
    pub triggers: Vec<Trigger>,
}

/// What the Lambda runtime does with the function's role: writes its logs, sends its
/// traces, decrypts its environment. Every function needs these.
pub const LOG_ACTIONS: [&str; 2] = ["logs:CreateLogStream", "logs:PutLogEvents"];
pub const TRACING_ACTIONS: [&str; 2] = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"];
pub const ENVIRONMENT_KEY_ACTIONS: [&str; 1] = ["kms:Decrypt"];
/// What an SQS event source mapping calls with the function's role.
pub const EVENT_SOURCE_ACTIONS: [&str; 3] = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
];

/// What the role of the state machines' executions needs: the compiled ASL sends step
/// messages (`sqs:sendMessage.waitForTaskToken`), invokes the step-worker for express
/// steps (`lambda:invoke`) and, with a log group, logs.
pub const STATES_ROLE_ACTIONS: [(&str, &[&str]); 3] = [
    ("StepQueue", &iam::SQS_SEND_ACTIONS),
    ("StepWorker", &["lambda:InvokeFunction"]),
    ("LogDelivery", &iam::LOG_DELIVERY_ACTIONS),
];

/// What the Scheduler's role needs to deliver the tick.
pub const SCHEDULE_ROLE_ACTIONS: [(&str, &[&str]); 1] = [("Scheduler", &["lambda:InvokeFunction"])];

fn grant(resource: Resource, actions: &[&'static str]) -> Grant {
    Grant {
        resource,
        actions: actions.to_vec(),
    }
}

/// What reaches the end of a step: tasks completing or failing, approvals decided,
/// replies arriving, timers firing, steps run. It reports through the task token and
/// wakes the steps that became ready through the step queue.
fn finishing_steps() -> [Grant; 2] {
    [
        grant(Resource::TaskTokens, &iam::STATES_TASK_TOKEN_ACTIONS),
        grant(Resource::StepQueue, &iam::SQS_SEND_ACTIONS),
    ]
}

fn runtime() -> [Grant; 3] {
    [
        grant(Resource::Logs, &LOG_ACTIONS),
        grant(Resource::Tracing, &TRACING_ACTIONS),
        grant(Resource::EnvironmentKey, &ENVIRONMENT_KEY_ACTIONS),
    ]
}

fn platform(name: &'static str, grants: Vec<Grant>, triggers: Vec<Trigger>) -> FunctionNeeds {
    // The API's functions check every caller's token (`crate::tokens` in their `main`);
    // the others name `crate::no_tokens` and read no JWT variable.
    let verifies_tokens = triggers
        .iter()
        .any(|t| matches!(t, Trigger::Http(_) | Trigger::StreamingUrl));
    // The token endpoint is one of the agents group's routes.
    let issues_tokens = triggers.contains(&Trigger::Http(ApiGroup::Agents));
    // The builtins run steps (the step-worker) and check step configs at registration.
    let builtins = triggers.contains(&Trigger::Queue(QueueKind::Steps))
        || triggers.contains(&Trigger::Http(ApiGroup::Workflows));
    let mut variables = if issues_tokens {
        AuthSettings::ISSUER_VARIABLES.to_vec()
    } else if verifies_tokens {
        AuthSettings::VERIFIER_VARIABLES.to_vec()
    } else {
        Vec::new()
    };
    variables.extend(PlatformSettings::VARIABLES);
    if builtins {
        variables.extend(PlatformSettings::BUILTIN_VARIABLES);
    }
    let mut all = vec![grant(Resource::Table, &iam::DYNAMODB_ACTIONS)];
    all.extend(grants);
    all.extend(runtime());
    FunctionNeeds {
        name,
        variables,
        verifies_tokens,
        issues_tokens,
        builtins,
        grants: all,
        triggers,
    }
}

/// Every deployable function, as `scripts/functions.sh` lists them.
pub fn functions() -> Vec<FunctionNeeds> {
    let api = |name, group, grants| platform(name, grants, vec![Trigger::Http(group)]);
    let register = vec![
        grant(Resource::StateMachines, &iam::STATES_REGISTER_ACTIONS),
        grant(Resource::StatesRole, &iam::PASS_ROLE_ACTIONS),
        grant(Resource::LogDelivery, &iam::LOG_DELIVERY_ACTIONS),
    ];
    vec![
        // Agents, clients, tokens and the system routes: the table; and for the admins'
        // deep health check, the messages queue's depth and a describe of a machine name
        // under the prefix that is never created.
        api(
            "api-agents",
            ApiGroup::Agents,
            vec![
                grant(Resource::MessageQueue, &iam::SQS_DEPTH_ACTIONS),
                grant(Resource::StateMachines, &iam::STATES_PROBE_ACTIONS),
            ],
        ),
        // Completing or failing a workflow's task ends its step.
        api("api-tasks", ApiGroup::Tasks, finishing_steps().to_vec()),
        api("api-workflows", ApiGroup::Workflows, register),
        // Starting and cancelling runs; deciding an approval ends its step.
        api("api-runs", ApiGroup::Runs, {
            let mut grants = vec![
                grant(Resource::StateMachines, &iam::STATES_START_ACTIONS),
                grant(Resource::Executions, &iam::STATES_STOP_ACTIONS),
            ];
            grants.extend(finishing_steps());
            grants
        }),
        // A run's live events, streamed from its function URL: the table only.
        platform("api-run-events", vec![], vec![Trigger::StreamingUrl]),
        // Sends, broadcasts, replies and redrives go onto the messages queue.
        api(
            "api-messages",
            ApiGroup::Messages,
            vec![grant(Resource::MessageQueue, &iam::SQS_SEND_ACTIONS)],
        ),
        FunctionNeeds {
            name: "authorizer",
            variables: AuthSettings::VERIFIER_VARIABLES.to_vec(),
            verifies_tokens: true,
            issues_tokens: false,
            builtins: false,
            grants: runtime().to_vec(),
            triggers: vec![Trigger::Authorizer],
        },
        // Runs steps (a `message.send` step sends onto the messages queue, an `llm` step
        // may call Bedrock) and records
        // executions' ends from the status-change events on its queue.
        platform(
            "step-worker",
            {
                let mut grants = finishing_steps().to_vec();
                grants.push(grant(Resource::StepQueueSource, &EVENT_SOURCE_ACTIONS));
                grants.push(grant(Resource::MessageQueue, &iam::SQS_SEND_ACTIONS));
                // Its llm steps, signed with its role, on Bedrock.
                grants.push(grant(
                    Resource::Models,
                    &skein_agents::BEDROCK_INVOKE_ACTIONS,
                ));
                grants
            },
            vec![Trigger::Queue(QueueKind::Steps), Trigger::ExpressSteps],
        ),
        // Delivers to inboxes; a reply to a run ends the step waiting for it.
        platform(
            "message-router",
            {
                let mut grants = finishing_steps().to_vec();
                grants.push(grant(Resource::MessageQueueSource, &EVENT_SOURCE_ACTIONS));
                grants
            },
            vec![Trigger::Queue(QueueKind::Messages)],
        ),
        // Starts scheduled runs; expiring approvals, reply waits and task timers end steps.
        platform(
            "scheduler",
            {
                let mut grants = vec![grant(Resource::StateMachines, &iam::STATES_START_ACTIONS)];
                grants.extend(finishing_steps());
                grants
            },
            vec![Trigger::Tick],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_function_names_a_resource_twice_or_a_wildcard_action() {
        for function in functions() {
            let mut keys: Vec<_> = function.grants.iter().map(|g| g.resource).collect();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), function.grants.len(), "{}", function.name);
            for grant in &function.grants {
                assert!(grant.actions.iter().all(|a| !a.contains('*')));
            }
        }
    }

    #[test]
    fn only_the_function_that_serves_the_token_endpoint_gets_the_signing_key() {
        let issuers: Vec<_> = functions()
            .into_iter()
            .filter(|f| {
                f.issues_tokens
                    || f.variables
                        .iter()
                        .any(|v| crate::SIGNING_KEY_VARIABLES.contains(v))
            })
            .map(|f| f.name)
            .collect();
        assert_eq!(issuers, ["api-agents"]);
    }

    #[test]
    fn only_the_functions_that_serve_the_api_read_the_jwt_variables() {
        for function in functions() {
            let reads_jwt = function
                .variables
                .iter()
                .any(|v| v.starts_with("SKEIN_JWT_"));
            assert_eq!(reads_jwt, function.verifies_tokens, "{}", function.name);
        }
        let without: Vec<_> = functions()
            .into_iter()
            .filter(|f| !f.verifies_tokens)
            .map(|f| f.name)
            .collect();
        assert_eq!(without, ["step-worker", "message-router", "scheduler"]);
    }

    #[test]
    fn only_the_workflows_api_may_pass_the_executions_role() {
        let passing: Vec<_> = functions()
            .into_iter()
            .filter(|f| f.grants.iter().any(|g| g.resource == Resource::StatesRole))
            .map(|f| f.name)
            .collect();
        assert_eq!(passing, ["api-workflows"]);
    }
}
