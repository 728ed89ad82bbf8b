//! Anthropic's Messages API (`POST {base}/messages`, `x-api-key`, `anthropic-version`).
//! <https://docs.anthropic.com/en/api/messages>

use serde::Deserialize;
use serde_json::{Value, json};
use skein_core::metrics::TokenCounts;

use super::stream::{Framing, Streamed};
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
        if prompt.stream {
            body["stream"] = json!(true);
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

    const FRAMING: Framing = Framing::ServerSentEvents;

    /// `message_start` (model, input usage), `content_block_delta` (text),
    /// `message_delta` (stop reason, output usage), `error`.
    fn stream_event(
        said: &mut Streamed,
        _event: &str,
        data: &Value,
    ) -> Result<Option<String>, String> {
        let mut merge_usage = |usage: &Value| {
            let Some(fields) = usage.as_object() else {
                return;
            };
            let merged = said.usage.get_or_insert_with(|| json!({}));
            for (name, value) in fields {
                merged[name] = value.clone();
            }
            said.tokens = tokens(merged);
        };
        match data["type"].as_str().unwrap_or_default() {
            "message_start" => {
                let message = &data["message"];
                said.model = message["model"].as_str().map(str::to_string);
                merge_usage(&message["usage"]);
                Ok(None)
            }
            "content_block_delta" if data["delta"]["type"] == "text_delta" => {
                Ok(data["delta"]["text"].as_str().map(str::to_string))
            }
            "message_delta" => {
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    said.finish_reason = Some(reason.to_string());
                }
                merge_usage(&data["usage"]);
                Ok(None)
            }
            "error" => Err(format!(
                "the stream ended with an error: {}",
                data["error"]["message"].as_str().unwrap_or("unknown")
            )),
            _ => Ok(None),
        }
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
