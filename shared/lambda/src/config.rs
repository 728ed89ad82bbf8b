//! Settings for the Lambda functions, read once at start from `SKEIN_*` variables. A
//! missing or bad variable stops the function at init with a message naming it, instead
//! of failing requests later.

use std::time::Duration;

use skein_agents::{BuiltinSettings, EgressPolicy, HTTP_ALLOW_VARIABLE, LlmSettings};
use skein_core::auth::{KeyConfig, TokenSettings};
use skein_core::limits::{Rate, RateLimits};
use skein_core::quotas::{self, Quotas};
use skein_core::workflows::duration::HumanDuration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Reads one variable; tests pass a map instead of the process environment.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

fn required(env: Lookup, name: &'static str, hint: &'static str) -> Result<String, ConfigError> {
    env(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing { name, hint })
}

fn number(env: Lookup, name: &'static str, default: u64) -> Result<u64, ConfigError> {
    env(name).map_or(Ok(default), |v| {
        v.trim().parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("`{v}` is not a whole number"),
        })
    })
}

/// A rate such as `100/s`; `off` (or empty) is unlimited.
fn rate(env: Lookup, name: &'static str, default: &str) -> Result<Option<Rate>, ConfigError> {
    let text = env(name).unwrap_or_else(|| default.to_string());
    if text.trim().is_empty() || text.trim() == "off" {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|reason| ConfigError::Invalid { name, reason })
}

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

/// What verifying (and, in the function that serves `/v1/auth/token`, issuing) tokens
/// needs: the authorizer reads only this.
///
/// With RS256 or EdDSA the signing key (`SKEIN_JWT_PRIVATE_KEY`) goes only to the issuing
/// function; every other one gets `SKEIN_JWT_PUBLIC_KEY` and can verify tokens but not
/// mint them, so a code-execution bug in, say, the step-worker cannot forge an admin.
/// HS256 (`SKEIN_JWT_SECRET`) signs and verifies with one secret, which every function
/// would then hold: the deploy templates use EdDSA.
pub struct AuthSettings {
    pub keys: KeyConfig,
    pub tokens: TokenSettings,
}

/// The variables holding a key that can sign tokens.
pub const SIGNING_KEY_VARIABLES: [&str; 2] = ["SKEIN_JWT_PRIVATE_KEY", "SKEIN_JWT_SECRET"];

impl AuthSettings {
    /// What the issuing function reads, for the deploy templates to set.
    pub const ISSUER_VARIABLES: [&'static str; 5] = [
        "SKEIN_JWT_ALG",
        "SKEIN_JWT_PRIVATE_KEY",
        "SKEIN_JWT_ISSUER",
        "SKEIN_JWT_AUDIENCE",
        "SKEIN_TOKEN_TTL_SECONDS",
    ];

    /// What every other function reads: the public key only.
    pub const VERIFIER_VARIABLES: [&'static str; 5] = [
        "SKEIN_JWT_ALG",
        "SKEIN_JWT_PUBLIC_KEY",
        "SKEIN_JWT_ISSUER",
        "SKEIN_JWT_AUDIENCE",
        "SKEIN_TOKEN_TTL_SECONDS",
    ];

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    pub fn from_lookup(env: Lookup) -> Result<Self, ConfigError> {
        let alg = env("SKEIN_JWT_ALG").unwrap_or_else(|| "HS256".into());
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let keys = match alg.as_str() {
            "HS256" => KeyConfig::Hs256 {
                secret: required(
                    env,
                    "SKEIN_JWT_SECRET",
                    "the HS256 signing secret, at least 32 bytes (or set SKEIN_JWT_ALG=EdDSA|RS256 and SKEIN_JWT_PRIVATE_KEY or SKEIN_JWT_PUBLIC_KEY)",
                )?
                .into_bytes(),
            },
            "RS256" | "EdDSA" => match (set("SKEIN_JWT_PRIVATE_KEY"), set("SKEIN_JWT_PUBLIC_KEY")) {
                (Some(private), _) => {
                    let private_pem = private.into_bytes();
                    if alg == "RS256" {
                        KeyConfig::Rs256 { private_pem }
                    } else {
                        KeyConfig::EdDsa { private_pem }
                    }
                }
                (None, Some(public)) => {
                    let public_pem = public.into_bytes();
                    if alg == "RS256" {
                        KeyConfig::Rs256Public { public_pem }
                    } else {
                        KeyConfig::EdDsaPublic { public_pem }
                    }
                }
                (None, None) => {
                    return Err(ConfigError::Missing {
                        name: "SKEIN_JWT_PUBLIC_KEY",
                        hint: "the PEM public key that verifies tokens (the function that issues them gets SKEIN_JWT_PRIVATE_KEY instead)",
                    });
                }
            },
            other => {
                return Err(ConfigError::Invalid {
                    name: "SKEIN_JWT_ALG",
                    reason: format!("`{other}` is not one of HS256, RS256, EdDSA"),
                });
            }
        };
        let ttl = number(env, "SKEIN_TOKEN_TTL_SECONDS", 900)?;
        if !(30..=86_400).contains(&ttl) {
            return Err(ConfigError::Invalid {
                name: "SKEIN_TOKEN_TTL_SECONDS",
                reason: format!("{ttl} is outside 30..=86400"),
            });
        }
        Ok(Self {
            keys,
            tokens: TokenSettings {
                issuer: env("SKEIN_JWT_ISSUER").unwrap_or_else(|| "skein".into()),
                audience: env("SKEIN_JWT_AUDIENCE").unwrap_or_else(|| "skein-api".into()),
                ttl: Duration::from_secs(ttl),
            },
        })
    }
}

/// Everything the platform needs on AWS: the API and worker functions read this.
pub struct PlatformSettings {
    pub auth: AuthSettings,
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
}

impl PlatformSettings {
    /// What every platform function reads (the builtins' variables are
    /// [`Self::BUILTIN_VARIABLES`], for the functions that link them).
    pub const VARIABLES: [&'static str; 17] = [
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
    ];

    /// What the builtin agents read: only the functions that link them (the step-worker
    /// and api-workflows) are given these, so no other function holds the LLM API key.
    pub const BUILTIN_VARIABLES: [&'static str; 4] = [
        "SKEIN_LLM_BASE_URL",
        "SKEIN_LLM_API_KEY",
        "SKEIN_LLM_MODEL",
        HTTP_ALLOW_VARIABLE,
    ];

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    pub fn from_lookup(env: Lookup) -> Result<Self, ConfigError> {
        let llm = env("SKEIN_LLM_BASE_URL").map(|base_url| LlmSettings {
            base_url,
            api_key: env("SKEIN_LLM_API_KEY"),
            default_model: env("SKEIN_LLM_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
        });
        Ok(Self {
            auth: AuthSettings::from_lookup(env)?,
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
            rate_limits: RateLimits {
                principal: rate(env, "SKEIN_RATE_PRINCIPAL", "100/s")?,
                tenant: rate(env, "SKEIN_RATE_TENANT", "1000/s")?,
                source: rate(env, "SKEIN_RATE_SOURCE", "100/s")?,
            },
            quotas: quotas_from(env)?,
            name_prefix: name_prefix(env)?,
            builtins: BuiltinSettings {
                llm,
                // Steps in a Lambda reach only public addresses unless the deployment
                // allows a range (the Runtime API and metadata service stay refused).
                egress: EgressPolicy::parse(&env(HTTP_ALLOW_VARIABLE).unwrap_or_default())
                    .map_err(|reason| ConfigError::Invalid {
                        name: HTTP_ALLOW_VARIABLE,
                        reason,
                    })?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn a_missing_variable_is_named_with_what_to_set() {
        let env = lookup(&[("SKEIN_JWT_SECRET", "0123456789abcdef0123456789abcdef")]);
        let error = PlatformSettings::from_lookup(&env).err().unwrap();
        assert_eq!(
            error.to_string(),
            "SKEIN_TABLE is not set: the DynamoDB table's name"
        );
    }

    #[test]
    fn a_bad_number_or_algorithm_says_what_is_wrong() {
        let env = lookup(&[("SKEIN_JWT_ALG", "none")]);
        let error = AuthSettings::from_lookup(&env).err().unwrap();
        assert!(error.to_string().contains("`none` is not one of HS256"));
        let env = lookup(&[
            ("SKEIN_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("SKEIN_TOKEN_TTL_SECONDS", "soon"),
        ]);
        let error = AuthSettings::from_lookup(&env).err().unwrap();
        assert!(error.to_string().contains("`soon` is not a whole number"));
    }

    #[test]
    fn a_function_with_only_the_public_key_verifies_and_the_issuer_signs() {
        let private = include_str!("../../../tests/fixtures/ed25519-test-only.key.pem");
        let public = include_str!("../../../tests/fixtures/ed25519-test-only.pub.pem");
        let pairs = [("SKEIN_JWT_ALG", "EdDSA"), ("SKEIN_JWT_PUBLIC_KEY", public)];
        let env = lookup(&pairs);
        let verifier = AuthSettings::from_lookup(&env).unwrap();
        assert!(matches!(verifier.keys, KeyConfig::EdDsaPublic { .. }));
        let pairs = [
            ("SKEIN_JWT_ALG", "EdDSA"),
            ("SKEIN_JWT_PRIVATE_KEY", private),
        ];
        let env = lookup(&pairs);
        let issuer = AuthSettings::from_lookup(&env).unwrap();
        assert!(matches!(issuer.keys, KeyConfig::EdDsa { .. }));
        let env = lookup(&[("SKEIN_JWT_ALG", "EdDSA")]);
        let error = AuthSettings::from_lookup(&env).err().unwrap();
        assert!(
            error.to_string().contains("SKEIN_JWT_PUBLIC_KEY"),
            "{error}"
        );
    }
}
