//! What the edge reads from its Worker bindings, once per isolate: the origin's URL, the
//! token verifier and the rate limits. The variable names are the platform's own
//! (`SKEIN_JWT_*`, `SKEIN_RATE_*`), read by the same code as the Lambda functions'.

use skein_core::auth::{KeyConfig, TokenService};
use skein_core::limits::RateLimits;
use skein_core::settings::{self, AuthSettings, ConfigError};
use worker::{Env, Url};

/// The origin the edge forwards to: the API Gateway URL, or `skein dev`.
pub const ORIGIN_VARIABLE: &str = "SKEIN_ORIGIN_URL";

pub struct EdgeSettings {
    pub origin: Url,
    pub tokens: TokenService,
    pub limits: RateLimits,
}

impl EdgeSettings {
    /// Reads a secret (`wrangler secret put`) or else a plain var (`[vars]`) of that name.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let lookup = |name: &str| {
            env.secret(name)
                .map(|secret| secret.to_string())
                .or_else(|_| env.var(name).map(|var| var.to_string()))
                .ok()
        };
        let origin_text = settings::required(
            &lookup,
            ORIGIN_VARIABLE,
            "the platform's API URL the edge forwards to (the API Gateway URL, or http://127.0.0.1:8080 for skein dev)",
        )?;
        let origin = Url::parse(&origin_text)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
            .ok_or_else(|| ConfigError::Invalid {
                name: ORIGIN_VARIABLE,
                reason: format!("`{origin_text}` is not an http(s) URL"),
            })?;
        let auth = AuthSettings::from_lookup(&lookup)?;
        // A private key for RS256 or EdDSA stays with the issuing function: the edge only
        // verifies, with SKEIN_JWT_PUBLIC_KEY (HS256's one secret does both).
        if matches!(auth.keys, KeyConfig::Rs256 { .. } | KeyConfig::EdDsa { .. }) {
            return Err(ConfigError::Invalid {
                name: "SKEIN_JWT_PRIVATE_KEY",
                reason: "the edge only verifies tokens: give it SKEIN_JWT_PUBLIC_KEY instead"
                    .into(),
            });
        }
        let tokens =
            TokenService::new(auth.keys, auth.tokens).map_err(|e| ConfigError::Invalid {
                name: "SKEIN_JWT_PUBLIC_KEY",
                reason: e.to_string(),
            })?;
        Ok(Self {
            origin,
            tokens,
            limits: settings::rate_limits(&lookup)?,
        })
    }

    /// The origin URL for this path and query.
    pub fn origin_url(&self, path: &str, query: Option<&str>) -> Url {
        origin_url(&self.origin, path, query)
    }
}

/// `path` (and `query`) on the origin, under the origin URL's own path (an API Gateway
/// stage, say).
pub fn origin_url(origin: &Url, path: &str, query: Option<&str>) -> Url {
    let mut url = origin.clone();
    let base = url.path().trim_end_matches('/').to_string();
    url.set_path(&format!("{base}{path}"));
    url.set_query(query);
    url
}
