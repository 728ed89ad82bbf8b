//! The AWS SDK's configuration, two ways. A Lambda function's comes from the variables
//! Lambda sets and nothing else ([`load_config`]); a developer's machine may keep its
//! credentials anywhere, so the CLI and `skein dev` use aws-config's full loader and
//! default credential chain ([`config_loader`], [`default_chain_credentials`]).

use std::sync::Arc;
use std::time::Duration;

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::provider_config::ProviderConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

/// The SDK's default connect timeout, which its own loader sets.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// Reads one environment variable.
type Variables = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A Lambda function's AWS configuration, from its environment: see [`lambda_config`].
pub fn load_config() -> SdkConfig {
    lambda_config(Arc::new(|name| std::env::var(name).ok()))
}

/// The AWS configuration of a Lambda function, from the variables Lambda sets: the region
/// (`AWS_REGION`, else `AWS_DEFAULT_REGION`), the role's credentials (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), and `AWS_ENDPOINT_URL` or a per-service
/// `AWS_ENDPOINT_URL_<SERVICE>` when a local AWS-protocol server stands in. Loaded once at
/// start and shared by every client.
///
/// Built here rather than by aws-config's loader: its provider chain (profile files, SSO,
/// STS web identity and assume-role, ECS and EC2 metadata) is never used inside Lambda,
/// and linking it put the STS client and the profile parser in every function's zip.
/// Retries and timeouts are the SDK's defaults: standard mode, three attempts, a 3.1 s
/// connect timeout.
pub fn lambda_config(env: Variables) -> SdkConfig {
    let set = |name: &str| env(name).filter(|value| !value.trim().is_empty());
    let region = set("AWS_REGION")
        .or_else(|| set("AWS_DEFAULT_REGION"))
        .map(Region::new);
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .http_client(https_client())
        .retry_config(aws_config::retry::RetryConfig::standard())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        );
    if let (Some(key), Some(secret)) = (set("AWS_ACCESS_KEY_ID"), set("AWS_SECRET_ACCESS_KEY")) {
        let credentials =
            Credentials::new(key, secret, set("AWS_SESSION_TOKEN"), None, "environment");
        builder = builder.credentials_provider(SharedCredentialsProvider::new(credentials));
    }
    if let Some(url) = set("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(url);
    }
    builder
        .service_config(EndpointVariables(env.clone()))
        .build()
}

/// Per-service endpoints from the environment, `AWS_ENDPOINT_URL_DYNAMODB` and the like,
/// as the SDK names them: the service id in capitals, spaces as underscores. The SDK asks
/// for these before falling back to `AWS_ENDPOINT_URL`.
struct EndpointVariables(Variables);

impl std::fmt::Debug for EndpointVariables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EndpointVariables")
    }
}

impl LoadServiceConfig for EndpointVariables {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let service = key
            .service_id()
            .to_ascii_uppercase()
            .replace([' ', '-'], "_");
        (self.0)(&format!("{}_{service}", key.env())).filter(|value| !value.trim().is_empty())
    }
}

/// The one HTTPS client every SDK client shares: rustls on ring.
fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// aws-config's loader (profiles, SSO, every credential source) with the shared HTTPS
/// client: for the CLI and tests, which run on a developer's machine, not in Lambda.
pub fn config_loader() -> aws_config::ConfigLoader {
    aws_config::from_env().http_client(https_client())
}

/// The SDK's default credential chain (environment, profile, SSO, web identity, instance
/// metadata), built at the first call and cached: for hosts on a developer's machine
/// (`skein dev` signing Bedrock calls), where credentials come from anywhere. Lambda
/// functions sign with [`load_config`]'s and never link this chain.
pub fn default_chain_credentials() -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(DefaultChain::default())
}

#[derive(Debug, Default)]
struct DefaultChain {
    chain: tokio::sync::OnceCell<DefaultCredentialsChain>,
}

impl ProvideCredentials for DefaultChain {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let chain = self
                .chain
                .get_or_init(|| async {
                    let provider = ProviderConfig::default()
                        .with_http_client(https_client())
                        .load_default_region()
                        .await;
                    DefaultCredentialsChain::builder()
                        .configure(provider)
                        .build()
                        .await
                })
                .await;
            chain.provide_credentials().await
        })
    }
}
