//! The platform on the AWS adapters, built once per Lambda sandbox, with clients that every
//! invocation shares.

use std::sync::Arc;

use skein_agents::{BuiltinSettings, Builtins};
use skein_aws::{DynamoStore, SqsQueue, StateMachines, StepFunctionsEngine, StepQueue};
use skein_core::auth::TokenService;
use skein_core::limits::RateLimits;
use skein_core::messages::MessagingPorts;
use skein_core::ports::{BuiltinAgents, ItemStore, WorkflowEngine};
use skein_core::runs::WorkflowPorts;
use skein_core::system::{OsEntropy, SystemClock};
use skein_core::{Context, Platform};
use skein_http::{AppState, ServiceInfo, Shared, TaskBell};

use crate::config::{AuthSettings, ConfigError, Lookup, PlatformSettings};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the token signing key is unusable: {0}")]
    Key(#[from] skein_core::auth::AuthError),
    #[error("AWS_REGION is not set (Lambda sets it; set it when running elsewhere)")]
    NoRegion,
    #[error("the state machines' role: {0}")]
    Role(skein_core::ports::EngineError),
}

#[derive(Clone)]
pub struct AwsPlatform {
    pub platform: Platform,
    /// None in the functions that serve no API ([`no_tokens`]).
    pub tokens: Option<Arc<TokenService>>,
    pub engine: Arc<StepFunctionsEngine>,
    /// The engine as the platform's port sees it (the same one, unless a test layered it).
    pub workflow_engine: Arc<dyn WorkflowEngine>,
    pub bell: Arc<TaskBell>,
    pub rate_limits: RateLimits,
    /// `PlatformSettings::step_max_receives`, for the step-worker.
    pub step_max_receives: u32,
}

/// The builtin agents (jq, HTTP and LLM clients), for the functions that run builtin
/// steps (the step-worker) or check their configuration (api-workflows).
pub fn builtins(settings: &BuiltinSettings) -> Option<Arc<dyn BuiltinAgents>> {
    Some(Arc::new(Builtins::new(settings.clone())))
}

/// No builtin agents: a function that neither runs steps nor registers workflows names
/// this instead of [`builtins`] and links none of their clients.
pub fn no_builtins(_: &BuiltinSettings) -> Option<Arc<dyn BuiltinAgents>> {
    None
}

/// The token service, for the API functions: they verify callers' tokens, and
/// api-agents, which holds the signing key, issues them. Reads the JWT variables
/// (`AuthSettings::VERIFIER_VARIABLES`, or `ISSUER_VARIABLES` in api-agents).
pub fn tokens(env: Lookup) -> Result<Option<Arc<TokenService>>, StartError> {
    token_service(&AuthSettings::from_lookup(env)?).map(Some)
}

/// No token service: a function that serves no API (the step-worker, the
/// message-router, the scheduler) names this instead of [`tokens`]; it reads no JWT
/// variable, and links none of the JWT crypto.
pub fn no_tokens(_: Lookup) -> Result<Option<Arc<TokenService>>, StartError> {
    Ok(None)
}

fn token_service(auth: &AuthSettings) -> Result<Arc<TokenService>, StartError> {
    Ok(Arc::new(TokenService::new(
        auth.keys.clone(),
        auth.tokens.clone(),
    )?))
}

impl AwsPlatform {
    /// Reads the settings and the AWS configuration from the environment. `builtins` is
    /// [`builtins`] or [`no_builtins`], and `tokens` is [`tokens`] or [`no_tokens`]; a
    /// function's `main` names one of each, so the other's code is not in its binary.
    pub fn from_env(
        builtins: impl FnOnce(&BuiltinSettings) -> Option<Arc<dyn BuiltinAgents>>,
        tokens: impl FnOnce(Lookup) -> Result<Option<Arc<TokenService>>, StartError>,
    ) -> Result<Self, StartError> {
        let env: Lookup = &|name| std::env::var(name).ok();
        let settings = PlatformSettings::from_lookup(env)?;
        let tokens = tokens(env)?;
        crate::metrics::install(&settings.name_prefix);
        let sdk = skein_aws::load_config();
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &settings.table);
        Self::build(
            &settings,
            &sdk,
            Arc::new(store),
            |engine| engine,
            builtins,
            tokens,
        )
    }

    /// The platform as an API function builds it (the builtins, and tokens per `auth`).
    pub fn new(
        settings: &PlatformSettings,
        auth: &AuthSettings,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, StartError> {
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &settings.table);
        Self::with_store(settings, auth, sdk, Arc::new(store))
    }

    /// The platform over a given item store: the DynamoDB one wrapped, say, to count calls.
    pub fn with_store(
        settings: &PlatformSettings,
        auth: &AuthSettings,
        sdk: &aws_config::SdkConfig,
        store: Arc<dyn ItemStore>,
    ) -> Result<Self, StartError> {
        Self::with_layers(settings, auth, sdk, store, |engine| engine)
    }

    /// The platform over a given item store, with `engine_layer` around Step Functions
    /// (tests inject faults there).
    pub fn with_layers(
        settings: &PlatformSettings,
        auth: &AuthSettings,
        sdk: &aws_config::SdkConfig,
        store: Arc<dyn ItemStore>,
        engine_layer: impl FnOnce(Arc<dyn WorkflowEngine>) -> Arc<dyn WorkflowEngine>,
    ) -> Result<Self, StartError> {
        let tokens = Some(token_service(auth)?);
        Self::build(settings, sdk, store, engine_layer, builtins, tokens)
    }

    fn build(
        settings: &PlatformSettings,
        sdk: &aws_config::SdkConfig,
        store: Arc<dyn ItemStore>,
        engine_layer: impl FnOnce(Arc<dyn WorkflowEngine>) -> Arc<dyn WorkflowEngine>,
        builtins: impl FnOnce(&BuiltinSettings) -> Option<Arc<dyn BuiltinAgents>>,
        tokens: Option<Arc<TokenService>>,
    ) -> Result<Self, StartError> {
        let region = sdk.region().ok_or(StartError::NoRegion)?.to_string();
        let bell = Arc::new(TaskBell::default());
        // Runs and tasks carry the trace context of what started them (W3C, or X-Ray's
        // header from API Gateway), for whichever process traces them.
        let ctx = Context::new(
            store,
            Arc::new(SystemClock),
            Arc::new(OsEntropy),
            bell.clone(),
        )
        .with_traces(Arc::new(skein_telemetry::W3cTraces));
        let machines = StateMachines::new(&settings.states_role_arn, &region)
            .map_err(StartError::Role)?
            .logging_to(settings.states_log_group_arn.clone())
            .probing(&settings.name_prefix);
        let engine = Arc::new(StepFunctionsEngine::new(
            aws_sdk_sfn::Client::new(sdk),
            machines,
        ));
        let workflow_engine = engine_layer(engine.clone());
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let steps = SqsQueue::new(sqs.clone(), &settings.step_queue_url);
        let messaging = MessagingPorts {
            queue: Arc::new(SqsQueue::new(sqs, &settings.message_queue_url)),
            max_receives: settings.message_max_receives,
        };
        let ports = WorkflowPorts {
            engine: workflow_engine.clone(),
            dispatch: Arc::new(StepQueue::new(steps)),
            // Bedrock calls are signed with the function's own credentials (its role).
            builtins: builtins(&BuiltinSettings {
                aws_credentials: sdk.credentials_provider(),
                ..settings.builtins.clone()
            }),
            step_queue_url: settings.step_queue_url.clone(),
            worker_function: settings.worker_function.clone(),
            // One sandbox is one worker; a redelivery elsewhere waits out the lease.
            worker_instance: ulid::Ulid::new().to_string(),
            step_lease: chrono::Duration::from_std(settings.step_lease)
                .unwrap_or(chrono::Duration::MAX),
            inline_for: chrono::Duration::from_std(settings.inline_for)
                .unwrap_or(chrono::Duration::zero()),
            quotas: settings.quotas,
            prices: Arc::new(settings.prices.clone()),
            machine_prefix: settings.name_prefix.clone(),
        };
        Ok(Self {
            platform: Platform::new(ctx, tokens.clone(), ports, messaging),
            rate_limits: settings.rate_limits,
            step_max_receives: settings.step_max_receives,
            tokens,
            engine,
            workflow_engine,
            bell,
        })
    }

    /// What the API handlers share.
    pub fn app_state(&self) -> AppState {
        AppState::new(Shared {
            platform: self.platform.clone(),
            bell: self.bell.clone(),
            info: Arc::new(ServiceInfo {
                version: env!("CARGO_PKG_VERSION"),
                build: "lambda".into(),
                adapters: serde_json::json!({
                    "store": "dynamodb", "queue": "sqs", "engine": "step-functions",
                }),
                jwt_algorithm: self
                    .tokens
                    .as_ref()
                    .map(|tokens| tokens.algorithm_name())
                    .unwrap_or_default(),
            }),
            claim_recheck: std::time::Duration::from_secs(1),
            limiter: self.platform.access.rate_limiter(self.rate_limits),
            sources: skein_http::SourceLimiter::new(self.rate_limits.source),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use skein_core::settings::fixed as lookup;

    /// What a platform function is given, without any JWT variable.
    fn environment() -> impl Fn(&str) -> Option<String> {
        lookup(&[
            ("SKEIN_TABLE", "skein"),
            ("SKEIN_STEP_QUEUE_URL", "http://127.0.0.1:9/1/steps"),
            ("SKEIN_MESSAGE_QUEUE_URL", "http://127.0.0.1:9/1/messages"),
            (
                "SKEIN_STATES_ROLE_ARN",
                "arn:aws:iam::123456789012:role/states",
            ),
        ])
    }

    fn platform(tokens: Option<Arc<TokenService>>) -> AwsPlatform {
        let sdk = skein_aws::lambda_config(Arc::new(|name| {
            (name == "AWS_REGION").then(|| "us-east-1".to_string())
        }));
        let settings = PlatformSettings::from_lookup(&environment()).unwrap();
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &settings.table);
        let store = Arc::new(store);
        AwsPlatform::build(&settings, &sdk, store, |engine| engine, no_builtins, tokens).unwrap()
    }

    #[test]
    fn a_function_without_tokens_reads_no_jwt_variable() {
        // The platform's own settings start without one...
        assert!(tokens(&environment()).is_err());
        assert!(no_tokens(&environment()).unwrap().is_none());
        // ...and every JWT variable the API reads is one the others are not given.
        let read = std::cell::RefCell::new(Vec::new());
        let env = environment();
        let watching = |name: &str| {
            read.borrow_mut().push(name.to_string());
            env(name)
        };
        PlatformSettings::from_lookup(&watching).unwrap();
        no_tokens(&watching).unwrap();
        let read = read.into_inner();
        assert!(
            read.iter().all(|name| !name.contains("JWT")),
            "read {read:?}"
        );
    }

    #[test]
    fn a_function_without_tokens_can_neither_verify_nor_issue_one() {
        let secret = [("SKEIN_JWT_SECRET", "0123456789abcdef0123456789abcdef")];
        let api = platform(tokens(&lookup(&secret)).unwrap());
        let worker = platform(None);
        assert!(api.tokens.is_some() && worker.tokens.is_none());
        let client = skein_core::ids::ClientId::from_ulid(ulid::Ulid::from_parts(1, 1));
        let principal = skein_core::auth::Principal {
            tenant: skein_core::ids::TenantId::parse("acme").unwrap(),
            id: skein_core::ids::PrincipalId::client(&client),
            roles: vec![skein_core::auth::Role::Admin],
        };
        let token = api.platform.access.mint(&principal).unwrap().access_token;
        assert!(api.platform.access.verify_token(&token).is_ok());
        assert!(matches!(
            worker.platform.access.verify_token(&token),
            Err(skein_core::Error::Internal(_))
        ));
        assert!(matches!(
            worker.platform.access.mint(&principal),
            Err(skein_core::Error::Internal(_))
        ));
    }
}
