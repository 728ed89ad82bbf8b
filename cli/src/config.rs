//! Typed configuration for the local platform, from flags or `SKEIN_*` environment
//! variables, checked once at start with messages that say what to fix.

use skein_core::limits::{Rate, RateLimits};
use skein_core::quotas::Quotas;
use skein_core::workflows::duration::HumanDuration;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use skein_core::auth::{KeyConfig, TokenSettings};
use skein_core::ids::TenantId;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JwtAlgorithm {
    #[value(name = "HS256")]
    Hs256,
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "EdDSA")]
    EdDsa,
}

fn parse_tenant(raw: &str) -> Result<TenantId, String> {
    TenantId::parse(raw).map_err(|e| e.0)
}

/// Where the local platform keeps its state and how it signs tokens.
#[derive(Debug, Clone, Args)]
pub struct LocalArgs {
    /// Directory for the SQLite database and generated keys.
    #[arg(long, env = "SKEIN_DATA_DIR", default_value = ".skein")]
    pub data_dir: PathBuf,
    /// The tenant seeded on first start.
    #[arg(long, env = "SKEIN_TENANT", default_value = "default", value_parser = parse_tenant)]
    pub tenant: TenantId,
    /// Token signing algorithm.
    #[arg(long, env = "SKEIN_JWT_ALG", value_enum, default_value = "HS256")]
    pub jwt_alg: JwtAlgorithm,
    /// HS256 secret (32+ bytes). Without one, a random secret is kept in the data dir.
    #[arg(long, env = "SKEIN_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// PEM private key for RS256 or EdDSA; its public key is served at /.well-known/jwks.json.
    #[arg(long, env = "SKEIN_JWT_PRIVATE_KEY_FILE")]
    pub jwt_private_key_file: Option<PathBuf>,
    #[arg(long, env = "SKEIN_JWT_ISSUER", default_value = "skein")]
    pub jwt_issuer: String,
    #[arg(long, env = "SKEIN_JWT_AUDIENCE", default_value = "skein-api")]
    pub jwt_audience: String,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, env = "SKEIN_TOKEN_TTL_SECONDS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(30..=86400))]
    pub token_ttl_seconds: u64,
    /// The API root for the `llm` builtin, e.g. https://api.openai.com/v1 or
    /// https://api.anthropic.com/v1.
    #[arg(long, env = "SKEIN_LLM_BASE_URL")]
    pub llm_base_url: Option<String>,
    /// The protocol it speaks: `openai` (chat completions, which most model servers also
    /// speak), `anthropic` (Messages) or `bedrock` (Amazon Bedrock's Converse, signed with
    /// the AWS credentials of the environment or a profile, or a Bedrock API key).
    #[arg(long, env = "SKEIN_LLM_PROVIDER", default_value = "openai", value_parser = skein_agents::LlmProvider::parse)]
    pub llm_provider: skein_agents::LlmProvider,
    #[arg(long, env = "SKEIN_LLM_API_KEY", hide_env_values = true)]
    pub llm_api_key: Option<String>,
    /// The model `llm` steps use when they name none.
    #[arg(long, env = "SKEIN_LLM_MODEL", default_value = "gpt-4o-mini")]
    pub llm_model: String,
    /// The only other models `llm` steps may name (comma-separated); any when unset.
    #[arg(long, env = "SKEIN_LLM_MODELS", value_delimiter = ',')]
    pub llm_models: Vec<String>,
    /// Bedrock's signing region; by default the one in the endpoint's host.
    #[arg(long, env = "AWS_REGION")]
    pub llm_region: Option<String>,
    /// What LLM tokens cost, over the defaults for common models: a JSON object of model
    /// prefix to USD per million tokens, e.g. {"my-model": {"input": 0.5, "output": 1.5}}.
    #[arg(long, env = "SKEIN_LLM_PRICES", default_value = "{}", value_parser = skein_core::usage::Prices::with_overrides)]
    pub llm_prices: skein_core::usage::Prices,
    /// Address ranges `http` steps may reach besides public ones, comma-separated CIDRs.
    /// Loopback is allowed locally so that agents on this machine keep working.
    #[arg(long, env = "SKEIN_HTTP_ALLOW", default_value = "127.0.0.0/8,::1", value_parser = parse_egress)]
    pub http_allow: skein_agents::EgressPolicy,
    /// Runs one tenant may have running at once (0: no limit); more answer 429.
    #[arg(long, env = "SKEIN_QUOTA_RUNS_IN_FLIGHT", default_value_t = 1000)]
    pub quota_runs_in_flight: u32,
    /// Items one map step may fan out over.
    #[arg(long, env = "SKEIN_QUOTA_MAP_ITEMS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub quota_map_items: u32,
    /// The shortest interval a schedule may fire at (locally 1s, for trying schedules out).
    #[arg(long, env = "SKEIN_QUOTA_SCHEDULE_INTERVAL", default_value = "1s", value_parser = HumanDuration::parse)]
    pub quota_schedule_interval: HumanDuration,
}

fn parse_egress(list: &str) -> Result<skein_agents::EgressPolicy, String> {
    skein_agents::EgressPolicy::parse(list)
}

const SECRET_FILE: &str = "jwt-secret";

impl LocalArgs {
    pub fn builtin_settings(&self) -> skein_agents::BuiltinSettings {
        skein_agents::BuiltinSettings {
            llm: self
                .llm_base_url
                .as_ref()
                .map(|base_url| skein_agents::LlmSettings {
                    provider: self.llm_provider,
                    base_url: base_url.clone(),
                    api_key: self
                        .llm_api_key
                        .clone()
                        .filter(|key| !key.trim().is_empty()),
                    default_model: self.llm_model.clone(),
                    models: self
                        .llm_models
                        .iter()
                        .map(|m| m.trim().to_string())
                        .filter(|m| !m.is_empty())
                        .collect(),
                    region: self.llm_region.clone(),
                }),
            // Bedrock calls read the AWS SDK's default chain (environment, profile).
            aws_credentials: Some(skein_aws::default_chain_credentials()),
            egress: self.http_allow.clone(),
        }
    }

    pub fn quotas(&self) -> Quotas {
        Quotas {
            runs_in_flight: (self.quota_runs_in_flight > 0).then_some(self.quota_runs_in_flight),
            map_items: self.quota_map_items,
            schedule_interval: self.quota_schedule_interval.0,
        }
    }

    pub fn token_settings(&self) -> TokenSettings {
        TokenSettings {
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            ttl: Duration::from_secs(self.token_ttl_seconds),
        }
    }

    /// The signing key of an existing platform: like `key_config`, but never generates a
    /// secret, so a token minted outside the data dir fails loudly rather than silently.
    pub fn existing_key_config(&self) -> Result<KeyConfig, ConfigError> {
        let generated = self.data_dir.join(SECRET_FILE);
        if self.jwt_alg == JwtAlgorithm::Hs256 && self.jwt_secret.is_none() && !generated.exists() {
            return Err(ConfigError::Invalid(format!(
                "no signing key at {}: run this where `skein dev` runs, or set SKEIN_DATA_DIR (or SKEIN_JWT_SECRET) as it has them",
                generated.display()
            )));
        }
        self.key_config()
    }

    /// The signing key, generating and keeping an HS256 secret in the data dir when
    /// none is configured (so tokens survive restarts of `skein dev`).
    pub fn key_config(&self) -> Result<KeyConfig, ConfigError> {
        match self.jwt_alg {
            JwtAlgorithm::Hs256 => {
                if self.jwt_private_key_file.is_some() {
                    return Err(ConfigError::Invalid(
                        "SKEIN_JWT_PRIVATE_KEY_FILE is set but SKEIN_JWT_ALG is HS256; set SKEIN_JWT_ALG=RS256 or EdDSA".into(),
                    ));
                }
                let secret = match &self.jwt_secret {
                    Some(secret) => secret.clone().into_bytes(),
                    None => data_dir_secret(&self.data_dir)?,
                };
                Ok(KeyConfig::Hs256 { secret })
            }
            alg => {
                let path = self.jwt_private_key_file.as_ref().ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "SKEIN_JWT_ALG={} needs SKEIN_JWT_PRIVATE_KEY_FILE (a PEM private key)",
                        if alg == JwtAlgorithm::Rs256 {
                            "RS256"
                        } else {
                            "EdDSA"
                        }
                    ))
                })?;
                let private_pem = std::fs::read(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                Ok(if alg == JwtAlgorithm::Rs256 {
                    KeyConfig::Rs256 { private_pem }
                } else {
                    KeyConfig::EdDsa { private_pem }
                })
            }
        }
    }
}

fn data_dir_secret(data_dir: &Path) -> Result<Vec<u8>, ConfigError> {
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read(&path) {
        Ok(secret) => Ok(secret),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            use rand::RngCore;
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            write_private(data_dir, &path, secret.as_bytes())?;
            Ok(secret.into_bytes())
        }
        Err(source) => Err(ConfigError::Read { path, source }),
    }
}

/// Writes a file only its owner can read.
pub fn write_private(dir: &Path, path: &Path, contents: &[u8]) -> Result<(), ConfigError> {
    let write_err = |source| ConfigError::Write {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(write_err)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write;
    options
        .open(path)
        .and_then(|mut f| f.write_all(contents))
        .map_err(write_err)
}

/// Everything `skein dev` needs, resolved.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "SKEIN_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub local: LocalArgs,
    /// How often lease and deadline timers are checked, in milliseconds.
    #[arg(
        long,
        env = "SKEIN_SWEEP_INTERVAL_MS",
        default_value_t = 250,
        hide = true
    )]
    pub sweep_interval_ms: u64,
    /// Requests each principal may make, e.g. `50/s` or `600/m` (a full bucket allows a
    /// burst of that many). Unlimited when absent.
    #[arg(long, env = "SKEIN_RATE_PRINCIPAL")]
    pub rate_principal: Option<Rate>,
    /// Requests all principals of the tenant may make together, e.g. `500/s`.
    #[arg(long, env = "SKEIN_RATE_TENANT")]
    pub rate_tenant: Option<Rate>,
    /// Requests without a token (and token requests) each source address may make;
    /// `off` for none. `/v1/health` is never limited.
    #[arg(long, env = "SKEIN_RATE_SOURCE", default_value = "100/s", value_parser = RateOrOff::parse)]
    pub rate_source: RateOrOff,
    /// Where Prometheus scrapes `GET /metrics` (apart from the API: the series name every
    /// tenant's workflows); `off` for none. Default: 127.0.0.1:9464, or a free port when
    /// that one is taken (another `skein dev`); the banner says which.
    #[arg(long, env = "SKEIN_METRICS_ADDR", value_parser = AddrOrOff::parse)]
    pub metrics_addr: Option<AddrOrOff>,
}

/// Where `skein dev` serves metrics unless told otherwise.
pub const DEFAULT_METRICS_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9464);

/// An address to listen on, or `off`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AddrOrOff(pub Option<SocketAddr>);

impl AddrOrOff {
    fn parse(text: &str) -> Result<AddrOrOff, String> {
        match text.trim() {
            "" | "off" => Ok(AddrOrOff(None)),
            addr => addr.parse().map(|a| AddrOrOff(Some(a))).map_err(|_| {
                format!("`{addr}` is not an address to listen on; use HOST:PORT, e.g. 127.0.0.1:9464, or `off`")
            }),
        }
    }
}

/// A rate, or `off` for none (a type of its own: clap reads `Option` as "may be absent").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateOrOff(pub Option<Rate>);

impl RateOrOff {
    fn parse(text: &str) -> Result<RateOrOff, String> {
        match text.trim() {
            "" | "off" => Ok(RateOrOff(None)),
            rate => rate.parse().map(|r| RateOrOff(Some(r))),
        }
    }
}

impl DevArgs {
    pub fn rate_limits(&self) -> RateLimits {
        RateLimits {
            principal: self.rate_principal,
            tenant: self.rate_tenant,
            source: self.rate_source.0,
        }
    }

    /// The defaults, ignoring flags and environment (tests and benchmarks), on a free port.
    pub fn for_data_dir(data_dir: &Path) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            local: LocalArgs {
                data_dir: data_dir.to_path_buf(),
                tenant: TenantId::parse("default").expect("valid tenant"),
                jwt_alg: JwtAlgorithm::Hs256,
                jwt_secret: None,
                jwt_private_key_file: None,
                jwt_issuer: "skein".into(),
                jwt_audience: "skein-api".into(),
                token_ttl_seconds: 900,
                llm_base_url: None,
                llm_provider: skein_agents::LlmProvider::OpenAi,
                llm_api_key: None,
                llm_model: "gpt-4o-mini".into(),
                llm_models: Vec::new(),
                llm_region: None,
                llm_prices: skein_core::usage::Prices::default(),
                http_allow: skein_agents::EgressPolicy::parse("127.0.0.0/8,::1")
                    .expect("valid ranges"),
                quota_runs_in_flight: 1000,
                quota_map_items: 10_000,
                quota_schedule_interval: HumanDuration(Duration::from_secs(1)),
            },
            sweep_interval_ms: 250,
            rate_principal: None,
            rate_tenant: None,
            rate_source: RateOrOff(Some(Rate {
                count: 100,
                window_seconds: 1,
            })),
            metrics_addr: Some(AddrOrOff(None)),
        }
    }
}
