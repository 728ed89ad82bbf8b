//! Settings for the Lambda functions, read once at start from `SKEIN_*` variables. A
//! missing or bad variable stops the function at init with a message naming it, instead
//! of failing requests later.

use std::time::Duration;

use skein_agents::{BuiltinSettings, EgressPolicy, HTTP_ALLOW_VARIABLE, LlmProvider, LlmSettings};
use skein_core::limits::RateLimits;
use skein_core::quotas::{self, Quotas};
pub use skein_core::settings::{AuthSettings, ConfigError, Lookup, SIGNING_KEY_VARIABLES};
use skein_core::settings::{number, rate_limits, required};
use skein_core::usage::Prices;
use skein_core::workflows::duration::HumanDuration;

/// `SKEIN_NAME_PREFIX`: lowercase letters, digits and `-`, so that machine names stay
/// unambiguous (`workflows::machine_name` separates the tenant with `_`).
fn name_prefix(env: Lookup) -> Result<String, ConfigError> {
    let prefix = env("SKEIN_NAME_PREFIX").unwrap_or_else(|| "skein".into());
    let valid = (2..=31).contains(&prefix.len())
        && prefix.starts_with(|c: char| c.is_ascii_lowercase())
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(prefix)
    } else {
        Err(ConfigError::Invalid {
            name: "SKEIN_NAME_PREFIX",
            reason: format!(
                "`{prefix}`: use 2 to 31 lowercase letters, digits and `-`, starting with a letter"
            ),
        })
    }
}

/// The tenant quotas; the schedule interval defaults to the scheduler's one-minute tick.
fn quotas_from(env: Lookup) -> Result<Quotas, ConfigError> {
    let defaults = Quotas::default();
    let runs = number(env, quotas::RUNS_IN_FLIGHT_VARIABLE, 1000)?;
    let interval = match env(quotas::SCHEDULE_INTERVAL_VARIABLE) {
        Some(text) => {
            HumanDuration::parse(&text)
                .map_err(|reason| ConfigError::Invalid {
                    name: quotas::SCHEDULE_INTERVAL_VARIABLE,
                    reason,
                })?
                .0
        }
        None => defaults.schedule_interval,
    };
    Ok(Quotas {
        runs_in_flight: (runs > 0).then_some(runs.min(u64::from(u32::MAX)) as u32),
        map_items: number(
            env,
            quotas::MAP_ITEMS_VARIABLE,
            u64::from(defaults.map_items),
        )?
        .clamp(1, u64::from(u32::MAX)) as u32,
        schedule_interval: interval,
    })
}

/// Everything the platform needs on AWS: the API and worker functions read this. The
/// token settings are not part of it: only the functions that serve the API read them
/// (`crate::tokens`), so the step-worker, the message-router and the scheduler start
/// without any JWT variable.
pub struct PlatformSettings {
    pub table: String,
    pub step_queue_url: String,
    /// The role state machines' executions assume; its ARN also names the account.
    pub states_role_arn: String,
    /// The CloudWatch Logs group state machines' executions log to (optional).
    pub states_log_group_arn: Option<String>,
    /// The step-worker function express workflows invoke.
    pub worker_function: String,
    /// How long a started step attempt belongs to its worker (the worker's timeout).
    pub step_lease: Duration,
    /// How long one step-worker invocation goes on running the steps its finished steps
    /// made ready before it hands them to the step queue.
    pub inline_for: Duration,
    /// Receives of a step message the step-worker could not handle (the store or the
    /// engine unavailable) before it fails the step instead; the step queue's redrive
    /// policy (maxReceiveCount) is one higher, so the DLQ only ever takes unreadable bodies.
    pub step_max_receives: u32,
    /// The messages queue: the API sends to it, the message-router consumes it.
    pub message_queue_url: String,
    /// Failed deliveries of one message before it becomes a dead letter; the queue's
    /// redrive policy (maxReceiveCount) must be higher, for malformed messages only.
    pub message_max_receives: u32,
    pub rate_limits: RateLimits,
    pub quotas: Quotas,
    /// The deployment's name prefix: state machines are named `{prefix}-...`, which the
    /// functions' IAM grants are scoped to.
    pub name_prefix: String,
    pub builtins: BuiltinSettings,
    /// What LLM tokens cost: the usage ledger and budgets in US dollars. Every function
    /// that may record usage (a step's call, an agent's report) reads it.
    pub prices: Prices,
}

/// Prices over the defaults, as JSON (`skein_core::usage::Prices::with_overrides`).
pub const PRICES_VARIABLE: &str = "SKEIN_LLM_PRICES";

fn prices_from(env: Lookup) -> Result<Prices, ConfigError> {
    match env(PRICES_VARIABLE).filter(|v| !v.trim().is_empty()) {
        None => Ok(Prices::default()),
        Some(json) => Prices::with_overrides(&json).map_err(|reason| ConfigError::Invalid {
            name: PRICES_VARIABLE,
            reason,
        }),
    }
}

impl PlatformSettings {
    /// What every platform function reads (the builtins' variables are
    /// [`Self::BUILTIN_VARIABLES`], for the functions that link them).
    pub const VARIABLES: [&'static str; 18] = [
        "SKEIN_NAME_PREFIX",
        "SKEIN_TABLE",
        "SKEIN_STEP_QUEUE_URL",
        "SKEIN_STATES_ROLE_ARN",
        "SKEIN_STATES_LOG_GROUP_ARN",
        "SKEIN_WORKER_FUNCTION",
        "SKEIN_STEP_LEASE_SECONDS",
        "SKEIN_INLINE_SECONDS",
        "SKEIN_STEP_MAX_RECEIVES",
        "SKEIN_MESSAGE_QUEUE_URL",
        "SKEIN_MESSAGE_MAX_RECEIVES",
        "SKEIN_RATE_PRINCIPAL",
        "SKEIN_RATE_TENANT",
        "SKEIN_RATE_SOURCE",
        quotas::RUNS_IN_FLIGHT_VARIABLE,
        quotas::MAP_ITEMS_VARIABLE,
        quotas::SCHEDULE_INTERVAL_VARIABLE,
        PRICES_VARIABLE,
    ];

    /// What the builtin agents read: only the functions that link them (the step-worker
    /// and api-workflows) are given these, so no other function holds the LLM API key.
    pub const BUILTIN_VARIABLES: [&'static str; 6] = [
        LlmProvider::VARIABLE,
        "SKEIN_LLM_BASE_URL",
        "SKEIN_LLM_API_KEY",
        "SKEIN_LLM_MODEL",
        LlmSettings::MODELS_VARIABLE,
        HTTP_ALLOW_VARIABLE,
    ];

    /// The settings `env` gives (`std::env::var` in a function: `AwsPlatform::from_env`).
    pub fn from_lookup(env: Lookup) -> Result<Self, ConfigError> {
        let provider = match env(LlmProvider::VARIABLE) {
            Some(name) => LlmProvider::parse(&name).map_err(|reason| ConfigError::Invalid {
                name: LlmProvider::VARIABLE,
                reason,
            })?,
            None => LlmProvider::default(),
        };
        let llm = env("SKEIN_LLM_BASE_URL").map(|base_url| LlmSettings {
            provider,
            base_url,
            // Empty when Bedrock signs with the function's role.
            api_key: env("SKEIN_LLM_API_KEY").filter(|key| !key.trim().is_empty()),
            default_model: env("SKEIN_LLM_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
            models: env(LlmSettings::MODELS_VARIABLE)
                .map(|list| LlmSettings::parse_models(&list))
                .unwrap_or_default(),
            // Set by Lambda itself: Bedrock in the function's own region signs as it.
            region: env("AWS_REGION"),
        });
        Ok(Self {
            table: required(env, "SKEIN_TABLE", "the DynamoDB table's name")?,
            step_queue_url: required(env, "SKEIN_STEP_QUEUE_URL", "the step queue's URL")?,
            states_role_arn: required(
                env,
                "SKEIN_STATES_ROLE_ARN",
                "the ARN of the role Step Functions executions assume",
            )?,
            states_log_group_arn: env("SKEIN_STATES_LOG_GROUP_ARN")
                .filter(|v| !v.trim().is_empty()),
            worker_function: env("SKEIN_WORKER_FUNCTION")
                .unwrap_or_else(|| "skein-step-worker".into()),
            step_lease: Duration::from_secs(number(env, "SKEIN_STEP_LEASE_SECONDS", 900)?),
            inline_for: Duration::from_secs(number(env, "SKEIN_INLINE_SECONDS", 60)?),
            step_max_receives: number(env, "SKEIN_STEP_MAX_RECEIVES", 5)?.clamp(1, 1000) as u32,
            message_queue_url: required(
                env,
                "SKEIN_MESSAGE_QUEUE_URL",
                "the messages queue's URL",
            )?,
            message_max_receives: number(env, "SKEIN_MESSAGE_MAX_RECEIVES", 5)?.clamp(1, 1000)
                as u32,
            rate_limits: rate_limits(env)?,
            quotas: quotas_from(env)?,
            name_prefix: name_prefix(env)?,
            prices: prices_from(env)?,
            builtins: BuiltinSettings {
                llm,
                // Steps in a Lambda reach only public addresses unless the deployment
                // allows a range (the Runtime API and metadata service stay refused).
                egress: EgressPolicy::parse(&env(HTTP_ALLOW_VARIABLE).unwrap_or_default())
                    .map_err(|reason| ConfigError::Invalid {
                        name: HTTP_ALLOW_VARIABLE,
                        reason,
                    })?,
                // The platform's SDK configuration gives them (`AwsPlatform::build`).
                aws_credentials: None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use skein_core::settings::fixed as lookup;

    #[test]
    fn a_missing_variable_is_named_with_what_to_set() {
        let env = lookup(&[]);
        let error = PlatformSettings::from_lookup(&env).err().unwrap();
        assert_eq!(
            error.to_string(),
            "SKEIN_TABLE is not set: the DynamoDB table's name"
        );
    }
}
