//! Anthropic's Messages API (`POST {base}/messages`, `x-api-key`, `anthropic-version`).
//! <https://docs.anthropic.com/en/api/messages>

use serde::Deserialize;
use serde_json::{Value, json};
use skein_core::metrics::TokenCounts;

use super::{Answer, Prompt, Protocol, endpoint};
use crate::config::LlmSettings;

pub(super) struct Messages;

/// The API version this speaks (the header Anthropic requires on every request).
const API_VERSION: &str = "2023-06-01";

/// Anthropic requires `max_tokens`; a step that names none gets this.
pub(super) const DEFAULT_MAX_TOKENS: u32 = 1024;

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    model: Option<String>,
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<Value>,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

impl Protocol for Messages {
    const NAME: &'static str = "anthropic";

    fn request(
        client: &reqwest::Client,
        api: &LlmSettings,
        prompt: &Prompt,
    ) -> reqwest::RequestBuilder {
        let mut body = json!({
            "model": prompt.model,
            "max_tokens": prompt.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            "messages": [{ "role": "user", "content": prompt.user }],
        });
        if let Some(system) = &prompt.system {
            body["system"] = json!(system);
        }
        if let Some(t) = prompt.temperature {
            // Anthropic's range is 0 to 1; the step's (OpenAI's) is 0 to 2.
            body["temperature"] = json!(t.min(1.0));
        }
        let request = client
            .post(endpoint(api, "messages"))
            .header("anthropic-version", API_VERSION)
            .json(&body);
        match &api.api_key {
            Some(key) => request.header("x-api-key", key),
            None => request,
        }
    }

    fn answer(body: &[u8]) -> Result<Answer, String> {
        let message: Message = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let text: String = message
            .content
            .iter()
            .filter(|block| block.kind == "text")
            .filter_map(|block| block.text.as_deref())
            .collect();
        let tokens = message.usage.as_ref().map(tokens).unwrap_or_default();
        Ok(Answer {
            text,
            model: message.model,
            usage: message.usage,
            tokens,
            finish_reason: message.stop_reason,
        })
    }
}

/// Anthropic counts cache reads apart from `input_tokens`; the metrics count every input
/// token once, with the cached ones also as `cached`.
fn tokens(usage: &Value) -> TokenCounts {
    let count = |value: &Value| value.as_u64().unwrap_or(0);
    let cached = count(&usage["cache_read_input_tokens"]);
    TokenCounts {
        input: count(&usage["input_tokens"])
            + cached
            + count(&usage["cache_creation_input_tokens"]),
        output: count(&usage["output_tokens"]),
        cached,
    }
}
