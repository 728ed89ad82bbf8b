//! A small client for a running Skein API, used by the `agents`, `tasks` and `token`
//! commands. Problem+json errors come back as `CliError::Api` with the server's words.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(
        "cannot reach the Skein API at {url}: {reason}\n  start one with `skein dev`, or point --url / SKEIN_URL at a running server"
    )]
    Unreachable { url: String, reason: String },
    #[error("{status}: {detail}{fields}")]
    Api {
        status: StatusCode,
        detail: String,
        fields: String,
    },
    #[error("{0}")]
    Other(String),
}

impl CliError {
    /// Exit codes scripts can rely on (also listed in `skein --help`).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Unreachable { .. } => 3,
            CliError::Api { status, .. }
                if *status == StatusCode::UNAUTHORIZED || *status == StatusCode::FORBIDDEN =>
            {
                4
            }
            CliError::Api { status, .. } if *status == StatusCode::NOT_FOUND => 5,
            CliError::Api { .. } | CliError::Other(_) => 1,
        }
    }
}

pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    /// Where event streams are read when not from `base` (on AWS without the edge: the
    /// api-run-events function URL, since API Gateway buffers streams).
    events_base: Option<String>,
    token: Option<String>,
}

impl ApiClient {
    pub fn new(base: &str, token: Option<String>) -> Result<Self, CliError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("skein-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::Other(e.to_string()))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            events_base: None,
            token,
        })
    }

    /// Reads event streams from `events_url` instead of the API's base URL.
    pub fn with_events_url(mut self, events_url: Option<&str>) -> Self {
        self.events_base = events_url.map(|url| url.trim_end_matches('/').to_string());
        self
    }

    /// Sends a request; Ok(None) for 204 No Content.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Option<Value>, CliError> {
        let url = format!("{}{}", self.base, path);
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.read(request).await
    }

    /// Posts a text body (a YAML or JSON workflow definition).
    pub async fn post_text(
        &self,
        path: &str,
        text: String,
        content_type: &str,
    ) -> Result<Option<Value>, CliError> {
        let mut request = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("content-type", content_type)
            .body(text);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        self.read(request).await
    }

    /// Opens a response to read as it arrives (Server-Sent Events); errors as `send`'s.
    pub async fn stream(&self, path: &str) -> Result<reqwest::Response, CliError> {
        let base = self.events_base.as_ref().unwrap_or(&self.base);
        let mut request = self
            .http
            .get(format!("{base}{path}"))
            .timeout(Duration::from_secs(24 * 3600));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| CliError::Unreachable {
            url: base.clone(),
            reason: root_cause(&e),
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(problem(
            response.status(),
            &response.text().await.unwrap_or_default(),
        ))
    }

    async fn read(&self, request: reqwest::RequestBuilder) -> Result<Option<Value>, CliError> {
        let response = request.send().await.map_err(|e| CliError::Unreachable {
            url: self.base.clone(),
            reason: root_cause(&e),
        })?;
        let status = response.status();
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let text = response
            .text()
            .await
            .map_err(|e| CliError::Other(e.to_string()))?;
        if status.is_success() {
            return Ok(Some(
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            ));
        }
        Err(problem(status, &text))
    }

    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.send(Method::GET, path, None, &[])
            .await
            .map(|v| v.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Option<Value>, CliError> {
        self.send(Method::POST, path, Some(body), &[]).await
    }
}

/// A failed response as a CliError, with the problem's detail and field errors.
fn problem(status: StatusCode, text: &str) -> CliError {
    let json: Value = serde_json::from_str(text).unwrap_or(Value::String(text.to_string()));
    let detail = json
        .get("detail")
        .and_then(Value::as_str)
        .unwrap_or("request failed")
        .to_string();
    let errors: Vec<String> = json
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            format!(
                "{}: {}",
                e["path"].as_str().unwrap_or("?"),
                e["message"].as_str().unwrap_or("?")
            )
        })
        .collect();
    // A single field error is already the problem's detail; list only several.
    let fields = match errors.as_slice() {
        [only] if detail.ends_with(only.as_str()) => String::new(),
        all => all.iter().map(|e| format!("\n  {e}")).collect(),
    };
    CliError::Api {
        status,
        detail,
        fields,
    }
}

fn root_cause(err: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = err;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

/// Parses a JSON argument, saying which flag was wrong.
pub fn json_arg(flag: &str, raw: &str) -> Result<Value, CliError> {
    let raw = if let Some(path) = raw.strip_prefix('@') {
        std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("{flag}: cannot read {path}: {e}")))?
    } else {
        raw.to_string()
    };
    serde_json::from_str(&raw)
        .map_err(|e| CliError::Usage(format!("{flag} is not valid JSON: {e}")))
}
