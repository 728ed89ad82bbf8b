//! The `http` builtin, and the retrying request both network builtins use.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use skein_core::ports::{AgentFailure, BuiltinCall};
use skein_core::workflows::compile::StepErrorName;
use skein_core::workflows::duration::HumanDuration;
use skein_core::workflows::template;

use crate::basic::{InputScope, bad_settings};
use crate::egress::{EgressPolicy, PolicyResolver, Refused};
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
/// The longest one request may take, below every host's own limit (a Lambda runs 15 min).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// The most of a response body that is read; a larger one fails the step.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Redirect hops followed, each checked against the egress policy.
pub const MAX_REDIRECTS: usize = 5;

/// Headers the client sets itself: a step may not route, frame or smuggle its request.
const RESERVED_HEADERS: [&str; 11] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

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
    if s.timeout.is_some_and(|t| t.0 > MAX_TIMEOUT) {
        return Err((
            ".with.timeout".into(),
            format!("use at most {} s", MAX_TIMEOUT.as_secs()),
        ));
    }
    if let Some(name) = s.headers.keys().find(|name| is_reserved(name)) {
        return Err((
            format!(".with.headers.{name}"),
            "this header is set by the HTTP client; remove it".into(),
        ));
    }
    Ok(())
}

fn is_reserved(header: &str) -> bool {
    RESERVED_HEADERS.contains(&header.to_ascii_lowercase().as_str())
}

/// The client `http` steps send with: every address it connects to, and every redirect
/// hop, passes the egress policy; no proxy from the environment can route around it.
pub fn policy_client(policy: Arc<EgressPolicy>) -> reqwest::Client {
    let hops = policy.clone();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        match hops.check_url(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    });
    reqwest::Client::builder()
        .user_agent(concat!("skein/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(PolicyResolver::new(policy)))
        .redirect(redirects)
        .no_proxy()
        .build()
        .unwrap_or_default()
}

/// `{status, body}`; the body is JSON when the response is, else text.
pub async fn call(
    client: &reqwest::Client,
    policy: &EgressPolicy,
    call: &BuiltinCall,
) -> Result<Value, AgentFailure> {
    let s: HttpSettings = settings(Some(&call.config)).map_err(bad_settings)?;
    let url = match template::render(&Value::String(s.url.clone()), &InputScope(&call.input)) {
        Value::String(url) => url,
        other => other.to_string(),
    };
    let parsed = reqwest::Url::parse(&url).map_err(|e| {
        AgentFailure::new(
            StepErrorName::NonRetryable,
            format!("`{url}` is not a URL ({e})"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(AgentFailure::new(
            StepErrorName::NonRetryable,
            format!("`{url}` must start with http:// or https://"),
        ));
    }
    policy.check_url(&parsed).map_err(|refused| {
        AgentFailure::new(
            StepErrorName::NonRetryable,
            format!("{url} refused: {refused}"),
        )
    })?;
    let method = reqwest::Method::from_bytes(s.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| AgentFailure::new(StepErrorName::NonRetryable, "bad HTTP method"))?;
    // The step's own timeout bounds all tries together (in `Builtins::invoke`).
    let timeout = s.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0).min(MAX_TIMEOUT);
    let build = || {
        let mut request = client
            .request(method.clone(), parsed.clone())
            .timeout(timeout)
            .header("idempotency-key", &call.idempotency_key);
        // The step's trace goes along (W3C trace context), so the service's own spans
        // join the run's trace, unless the step sets its own.
        let own_trace = s
            .headers
            .keys()
            .any(|h| h.eq_ignore_ascii_case("traceparent"));
        if let (Some(traceparent), false) = (&call.trace, own_trace) {
            request = request.header("traceparent", traceparent);
        }
        for (name, value) in s.headers.iter().filter(|(name, _)| !is_reserved(name)) {
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
                let body = read_capped(response, what).await?;
                if status.is_success() {
                    return Ok((status.as_u16(), body));
                }
                status_failure(status, &body, what)
            }
            Err(e) => transport_failure(&e, what),
        };
        if outcome.error == StepErrorName::NonRetryable || attempt >= retries {
            let tries = attempt + 1;
            return Err(match outcome.error {
                StepErrorName::NonRetryable => outcome,
                _ => AgentFailure::new(
                    outcome.error,
                    format!("{} (after {tries} tries)", outcome.message),
                ),
            });
        }
        let backoff = Duration::from_millis(100 * 2u64.pow(attempt)).min(Duration::from_secs(2));
        tokio::time::sleep(backoff).await;
        attempt += 1;
    }
}

/// Sends once, for a response whose body is read as it streams: no retry, since whoever
/// reads the stream has already acted on what came. Failures are classified as
/// [`send_with_retries`] classifies them.
pub async fn send_once(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<reqwest::Response, AgentFailure> {
    match request.send().await {
        Ok(response) if response.status().is_success() => Ok(response),
        Ok(response) => {
            let status = response.status();
            let body = read_capped(response, what).await?;
            Err(status_failure(status, &body, what))
        }
        Err(e) => Err(transport_failure(&e, what)),
    }
}

/// An unsuccessful status: a 4xx other than 429 cannot be helped by sending again.
fn status_failure(status: reqwest::StatusCode, body: &[u8], what: &str) -> AgentFailure {
    let excerpt: String = String::from_utf8_lossy(body).chars().take(300).collect();
    let message = format!("{what} answered {status}: {excerpt}");
    if status.is_client_error() && status.as_u16() != 429 {
        AgentFailure::new(StepErrorName::NonRetryable, message)
    } else {
        AgentFailure::new(StepErrorName::AgentFailed, message)
    }
}

/// A request that got no answer: timed out or failed (worth another try), or refused by
/// the egress policy (never worth one).
fn transport_failure(error: &reqwest::Error, what: &str) -> AgentFailure {
    if error.is_timeout() {
        return AgentFailure::new(StepErrorName::AgentFailed, format!("{what} timed out"));
    }
    match refusal(error) {
        Some(refused) => AgentFailure::new(
            StepErrorName::NonRetryable,
            format!("{what} refused: {refused}"),
        ),
        None => AgentFailure::new(
            StepErrorName::AgentFailed,
            format!("{what} failed: {}", describe(error)),
        ),
    }
}

/// The body, read as it streams, failing once it passes `MAX_RESPONSE_BYTES`.
async fn read_capped(mut response: reqwest::Response, what: &str) -> Result<Vec<u8>, AgentFailure> {
    let too_large = || {
        AgentFailure::new(
            StepErrorName::NonRetryable,
            format!("{what} answered with a body over the {MAX_RESPONSE_BYTES} byte limit"),
        )
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap_or(None) {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The egress refusal behind a failed request, if that is why it failed.
fn refusal(error: &reqwest::Error) -> Option<&Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused);
        }
        source = e.source();
    }
    None
}

/// A request error with its causes, which reqwest's own text leaves out.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
