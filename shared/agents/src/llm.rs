//! The `llm` builtin: one chat completion from an OpenAI-compatible API.

use serde::Deserialize;
use serde_json::{Value, json};
use skein_core::ports::{AgentFailure, BuiltinCall};
use skein_core::workflows::compile::StepErrorName;
use skein_core::workflows::template;

use crate::basic::{InputScope, bad_settings};
use crate::config::BuiltinSettings;
use crate::http::send_with_retries;
use crate::settings;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LlmStepSettings {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    system: Option<String>,
    /// A template over the input; the input as JSON when absent.
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    max_tokens: Option<u32>,
}

pub fn check(config: Option<&Value>) -> Result<(), (String, String)> {
    let s: LlmStepSettings = settings(config)?;
    if let Some(prompt) = &s.prompt {
        template::references(&Value::String(prompt.clone()))
            .map_err(|(_, message)| (".with.prompt".to_string(), message))?;
    }
    if s.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
        return Err((".with.temperature".into(), "use 0.0 to 2.0".into()));
    }
    Ok(())
}

#[derive(Deserialize)]
struct Completion {
    model: Option<String>,
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
}

/// `{text, model, usage, finish_reason}`.
pub async fn call(
    client: &reqwest::Client,
    deployment: &BuiltinSettings,
    call: &BuiltinCall,
) -> Result<Value, AgentFailure> {
    let s: LlmStepSettings = settings(Some(&call.config)).map_err(bad_settings)?;
    let Some(api) = &deployment.llm else {
        return Err(AgentFailure::new(
            StepErrorName::NonRetryable,
            "the llm builtin is not configured: set SKEIN_LLM_BASE_URL (and SKEIN_LLM_API_KEY) for the server",
        ));
    };
    let prompt = match &s.prompt {
        Some(p) => match template::render(&Value::String(p.clone()), &InputScope(&call.input)) {
            Value::String(text) => text,
            other => other.to_string(),
        },
        None => match &call.input {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        },
    };
    let mut messages = Vec::new();
    if let Some(system) = &s.system {
        messages.push(json!({ "role": "system", "content": system }));
    }
    messages.push(json!({ "role": "user", "content": prompt }));
    let mut body = json!({
        "model": s.model.clone().unwrap_or_else(|| api.default_model.clone()),
        "messages": messages,
    });
    if let Some(t) = s.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(m) = s.max_tokens {
        body["max_tokens"] = json!(m);
    }
    let url = format!("{}/chat/completions", api.base_url.trim_end_matches('/'));
    let build = || {
        let request = client.post(&url).json(&body);
        match &api.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    };
    let (_, bytes) = send_with_retries(build, 2, "the chat completions API").await?;
    let completion: Completion = serde_json::from_slice(&bytes).map_err(|e| {
        AgentFailure::new(
            StepErrorName::AgentFailed,
            format!("the chat completions API answered something unreadable: {e}"),
        )
    })?;
    let choice = completion.choices.into_iter().next().ok_or_else(|| {
        AgentFailure::new(
            StepErrorName::AgentFailed,
            "the chat completions API returned no choices",
        )
    })?;
    Ok(json!({
        "text": choice.message.content.unwrap_or_default(),
        "model": completion.model,
        "usage": completion.usage,
        "finish_reason": choice.finish_reason,
    }))
}
