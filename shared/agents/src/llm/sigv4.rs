//! SigV4 for Bedrock: the AWS SDK's signer over the credentials the host gives (on
//! Lambda, the function's role; on `skein dev`, the SDK's default chain).

use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use skein_core::ports::AgentFailure;
use skein_core::workflows::compile::StepErrorName;

/// The service name Bedrock's runtime signs as.
const SERVICE: &str = "bedrock";

pub(crate) struct AwsSigner {
    credentials: Option<SharedCredentialsProvider>,
}

impl AwsSigner {
    pub fn new(credentials: Option<SharedCredentialsProvider>) -> Self {
        Self { credentials }
    }

    /// Credentials to sign one call with (a provider caches and refreshes them).
    pub async fn identity(&self) -> Result<Identity, AgentFailure> {
        let no_credentials = |detail: String| {
            AgentFailure::new(
                StepErrorName::NonRetryable,
                format!(
                    "no AWS credentials to sign the Bedrock call with ({detail}): give the server AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile), or a Bedrock API key in SKEIN_LLM_API_KEY"
                ),
            )
        };
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| no_credentials("the host gave none".into()))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| no_credentials(e.to_string()))?;
        Ok(credentials.into())
    }
}

/// Signs `request` (its method, URL, headers and body) for Bedrock in `region`.
pub(crate) fn sign_request(
    request: &mut reqwest::Request,
    identity: &Identity,
    region: &str,
) -> Result<(), String> {
    let body = request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .unwrap_or_default()
        .to_vec();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name(SERVICE)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable = SignableRequest::new(
        request.method().as_str(),
        request.url().as_str(),
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(&body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    for (name, value) in instructions.headers() {
        let name =
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        let value = reqwest::header::HeaderValue::from_str(value).map_err(|e| e.to_string())?;
        request.headers_mut().insert(name, value);
    }
    Ok(())
}

/// The region in a Bedrock endpoint's host (`bedrock-runtime.{region}.amazonaws.com`).
pub(crate) fn region_of(base_url: &str) -> Option<String> {
    let host = reqwest::Url::parse(base_url).ok()?.host_str()?.to_string();
    let rest = host.strip_prefix("bedrock-runtime.")?;
    let region = rest.split('.').next()?;
    (!region.is_empty()).then(|| region.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_comes_from_a_bedrock_host() {
        assert_eq!(
            region_of("https://bedrock-runtime.eu-west-1.amazonaws.com").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region_of("http://127.0.0.1:9000"), None);
    }
}
