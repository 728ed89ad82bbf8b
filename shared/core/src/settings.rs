//! Settings read once at start from `SKEIN_*` variables, by every host (a Lambda's
//! environment, the edge Worker's vars and secrets). A missing or bad variable stops the
//! host at init with a message naming it, instead of failing requests later.

use std::time::Duration;

use crate::auth::{KeyConfig, TokenSettings};
use crate::limits::{Rate, RateLimits};

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

/// Reads one variable (the process environment, a Worker's `Env`); tests pass a map instead of the process environment.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn required(
    env: Lookup,
    name: &'static str,
    hint: &'static str,
) -> Result<String, ConfigError> {
    env(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing { name, hint })
}

pub fn number(env: Lookup, name: &'static str, default: u64) -> Result<u64, ConfigError> {
    env(name).map_or(Ok(default), |v| {
        v.trim().parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("`{v}` is not a whole number"),
        })
    })
}

/// A rate such as `100/s`; `off` (or empty) is unlimited.
pub fn rate(env: Lookup, name: &'static str, default: &str) -> Result<Option<Rate>, ConfigError> {
    let text = env(name).unwrap_or_else(|| default.to_string());
    if text.trim().is_empty() || text.trim() == "off" {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|reason| ConfigError::Invalid { name, reason })
}

/// A lookup over fixed values, for tests and tools that do not read an environment.
pub fn fixed(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, value)| value.clone())
    }
}

/// The API's rate limits (`SKEIN_RATE_PRINCIPAL`, `SKEIN_RATE_TENANT`, `SKEIN_RATE_SOURCE`),
/// the same wherever requests are admitted: the API functions and the edge Worker.
pub fn rate_limits(env: Lookup) -> Result<RateLimits, ConfigError> {
    Ok(RateLimits {
        principal: rate(env, "SKEIN_RATE_PRINCIPAL", "100/s")?,
        tenant: rate(env, "SKEIN_RATE_TENANT", "1000/s")?,
        source: rate(env, "SKEIN_RATE_SOURCE", "100/s")?,
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

#[cfg(test)]
mod tests {
    use super::*;

    use super::fixed as lookup;

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
