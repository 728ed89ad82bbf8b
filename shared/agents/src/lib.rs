//! Skein's builtin agents, so that workflows run with no external service:
//!
//! | name      | does                                                      | `with`                                   |
//! |-----------|-----------------------------------------------------------|------------------------------------------|
//! | echo      | returns its input                                         | —                                        |
//! | template  | renders a template against its input                      | `template`                               |
//! | transform | runs a jq program over its input                          | `program`                                |
//! | decision  | picks the outcome of the first rule whose jq test is true | `rules: [{when, outcome}]`, `default`    |
//! | http      | sends its input to a URL; retries 5xx and network errors  | `url`, `method`, `headers`, `timeout`, `retries` |
//! | llm       | a completion: OpenAI-compatible, Anthropic or Bedrock APIs | `model`, `system`, `prompt`, `temperature`, `max_tokens` |

mod basic;
mod config;
mod egress;
mod http;
mod jq;
mod llm;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use skein_core::ports::{AgentFailure, BuiltinAgents, BuiltinCall, BuiltinOutput, UsageEstimate};
use skein_core::workflows::compile::StepErrorName;

pub use config::{BuiltinSettings, LlmProvider, LlmSettings};
pub use egress::{ALLOW_VARIABLE as HTTP_ALLOW_VARIABLE, EgressPolicy};
pub use jq::{JqError, Limits as JqLimits, Program as JqProgram};
pub use llm::bedrock::INVOKE_ACTIONS as BEDROCK_INVOKE_ACTIONS;

/// How long after a step's timeout the backstop around a builtin fires.
const BACKSTOP_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

pub const NAMES: [&str; 6] = ["echo", "template", "transform", "decision", "http", "llm"];

/// The builtin agents, with their HTTP clients built once.
pub struct Builtins {
    settings: BuiltinSettings,
    /// For `http` steps, whose URLs tenants write: under the egress policy.
    tenant_client: reqwest::Client,
    /// For the `llm` provider, whose URL the deployment configures.
    provider_client: reqwest::Client,
    programs: jq::ProgramCache,
    /// Signs Bedrock calls (SigV4).
    signer: llm::sigv4::AwsSigner,
}

impl Builtins {
    pub fn new(settings: BuiltinSettings) -> Builtins {
        let tenant_client = http::policy_client(Arc::new(settings.egress.clone()));
        let provider_client = reqwest::Client::builder()
            .user_agent(concat!("skein/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Builtins {
            signer: llm::sigv4::AwsSigner::new(settings.aws_credentials.clone()),
            settings,
            tenant_client,
            provider_client,
            programs: jq::ProgramCache::default(),
        }
    }
}

#[async_trait]
impl BuiltinAgents for Builtins {
    fn names(&self) -> Vec<&'static str> {
        NAMES.to_vec()
    }

    fn check(&self, name: &str, config: Option<&Value>) -> Result<(), Vec<(String, String)>> {
        let problem = match name {
            "echo" => basic::check_echo(config),
            "template" => basic::check_template(config),
            "transform" => basic::check_transform(config),
            "decision" => basic::check_decision(config),
            "http" => http::check(config),
            "llm" => llm::check(&self.settings, config),
            other => Err((
                ".builtin".to_string(),
                format!(
                    "`{other}` is not a builtin agent; use one of {}",
                    NAMES.join(", ")
                ),
            )),
        };
        problem.map_err(|(path, message)| {
            let message = if path.starts_with(".with") {
                format!("{name}: {message}")
            } else {
                message
            };
            vec![(path, message)]
        })
    }

    fn estimate(&self, call: &BuiltinCall) -> Option<UsageEstimate> {
        match call.name.as_str() {
            "llm" => llm::estimate(&self.settings, call),
            _ => None,
        }
    }

    fn only_computes(&self, name: &str) -> bool {
        matches!(name, "echo" | "template" | "transform" | "decision")
    }

    async fn invoke(&self, call: BuiltinCall) -> Result<BuiltinOutput, AgentFailure> {
        let work = async {
            let plain = |value: Result<Value, AgentFailure>| value.map(BuiltinOutput::from);
            match call.name.as_str() {
                "echo" => Ok(call.input.clone().into()),
                "template" => plain(basic::template(&call)),
                "transform" => plain(basic::transform(&call, &self.programs).await),
                "decision" => plain(basic::decision(&call, &self.programs).await),
                "http" => {
                    plain(http::call(&self.tenant_client, &self.settings.egress, &call).await)
                }
                "llm" => {
                    llm::call(&self.provider_client, &self.settings, &self.signer, &call).await
                }
                other => Err(AgentFailure::new(
                    StepErrorName::NonRetryable,
                    format!("`{other}` is not a builtin agent"),
                )),
            }
        };
        match call.timeout {
            None => work.await,
            // A backstop, a little after the step's timeout: a builtin that keeps its own
            // deadline (a jq program's meter, an HTTP client's timeout) stops first and
            // says more precisely what ran out; this catches one that does not.
            Some(limit) => tokio::time::timeout(limit + BACKSTOP_GRACE, work)
                .await
                .unwrap_or_else(|_| {
                    Err(AgentFailure::new(
                        StepErrorName::Timeout,
                        format!(
                            "builtin `{}` took longer than {} ms",
                            call.name,
                            limit.as_millis()
                        ),
                    ))
                }),
        }
    }
}

/// Reads a builtin's `with` section into its typed settings; errors name the field.
pub(crate) fn settings<T: serde::de::DeserializeOwned>(
    config: Option<&Value>,
) -> Result<T, (String, String)> {
    let value = config.cloned().unwrap_or(Value::Object(Default::default()));
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            String::new()
        } else {
            format!(".{path}")
        };
        (format!(".with{path}"), e.into_inner().to_string())
    })
}
