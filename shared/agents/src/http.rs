//! The `http` builtin, and the retrying request both network builtins use.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use skein_core::ports::{AgentFailure, BuiltinCall};
use skein_core::workflows::compile::errors;
use skein_core::workflows::duration::HumanDuration;
use skein_core::workflows::template;

use crate::basic::{InputScope, bad_settings};
use crate::settings;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSettings {
    /// May reference the input, e.g. `https://api.example.com/items/{{ input.id }}`.
    url: String,
    #[serde(default = "default_method")]
    method: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    timeout: Option<HumanDuration>,
    #[serde(default = "default_retries")]
    retries: u32,
}

fn default_method() -> String {
    "POST".into()
}

fn default_retries() -> u32 {
    2
}

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

pub fn check(config: Option<&Value>) -> Result<(), (String, String)> {
    let s: HttpSettings = settings(config)?;
    if !(s.url.starts_with("http://") || s.url.starts_with("https://")) {
        return Err((
            ".with.url".into(),
            format!("`{}` must start with http:// or https://", s.url),
        ));
    }
    template::references(&Value::String(s.url.clone()))
        .map_err(|(_, message)| (".with.url".to_string(), message))?;
    if !METHODS.contains(&s.method.to_ascii_uppercase().as_str()) {
        return Err((
            ".with.method".into(),
            format!("use one of {}", METHODS.join(", ")),
        ));
    }
    if s.retries > 5 {
        return Err((".with.retries".into(), "use 0 to 5 retries".into()));
    }
    Ok(())
}

/// `{status, body}`; the body is JSON when the response is, else text.
pub async fn call(client: &reqwest::Client, call: &BuiltinCall) -> Result<Value, AgentFailure> {
    let s: HttpSettings = settings(Some(&call.config)).map_err(bad_settings)?;
    let url = match template::render(&Value::String(s.url.clone()), &InputScope(&call.input)) {
        Value::String(url) => url,
        other => other.to_string(),
    };
    let method = reqwest::Method::from_bytes(s.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| AgentFailure::new(errors::NON_RETRYABLE, "bad HTTP method"))?;
    let timeout = s.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
    let build = || {
        let mut request = client
            .request(method.clone(), &url)
            .timeout(timeout)
            .header("idempotency-key", &call.idempotency_key);
        for (name, value) in &s.headers {
            request = request.header(name, value);
        }
        if method != reqwest::Method::GET {
            request = request.json(&call.input);
        }
        request
    };
    let (status, body) = send_with_retries(build, s.retries, &format!("{method} {url}")).await?;
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    Ok(json!({ "status": status, "body": body }))
}

/// Sends, retrying network errors, 429 and 5xx with exponential back-off. A 4xx other
/// than 429 fails at once as non-retryable: sending the same request again cannot help.
pub async fn send_with_retries(
    build: impl Fn() -> reqwest::RequestBuilder,
    retries: u32,
    what: &str,
) -> Result<(u16, Vec<u8>), AgentFailure> {
    let mut attempt = 0;
    loop {
        let outcome = match build().send().await {
            Ok(response) => {
                let status = response.status();
                let body = response
                    .bytes()
                    .await
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
                if status.is_success() {
                    return Ok((status.as_u16(), body));
                }
                let excerpt: String = String::from_utf8_lossy(&body).chars().take(300).collect();
                let message = format!("{what} answered {status}: {excerpt}");
                if status.is_client_error() && status.as_u16() != 429 {
                    return Err(AgentFailure::new(errors::NON_RETRYABLE, message));
                }
                message
            }
            Err(e) if e.is_timeout() => format!("{what} timed out"),
            Err(e) => format!("{what} failed: {e}"),
        };
        if attempt >= retries {
            let tries = attempt + 1;
            return Err(AgentFailure::new(
                errors::AGENT_FAILED,
                format!("{outcome} (after {tries} tries)"),
            ));
        }
        let backoff = Duration::from_millis(100 * 2u64.pow(attempt)).min(Duration::from_secs(2));
        tokio::time::sleep(backoff).await;
        attempt += 1;
    }
}
