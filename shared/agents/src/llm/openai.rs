//! OpenAI's chat completions (`POST {base}/chat/completions`), which most hosted and local
//! model servers also speak.

use serde::Deserialize;
use serde_json::{Value, json};
use skein_core::metrics::TokenCounts;

use super::stream::{Framing, Streamed};
use super::{Answer, Prompt, Protocol, endpoint};
use crate::config::LlmSettings;

pub(super) struct ChatCompletions;

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

impl Protocol for ChatCompletions {
    const NAME: &'static str = "openai";

    fn request(
        client: &reqwest::Client,
        api: &LlmSettings,
        prompt: &Prompt,
    ) -> reqwest::RequestBuilder {
        let mut messages = Vec::new();
        if let Some(system) = &prompt.system {
            messages.push(json!({ "role": "system", "content": system }));
        }
        messages.push(json!({ "role": "user", "content": prompt.user }));
        let mut body = json!({ "model": prompt.model, "messages": messages });
        if let Some(t) = prompt.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(m) = prompt.max_tokens {
            body["max_tokens"] = json!(m);
        }
        if prompt.stream {
            // The last chunk then carries the usage, as a whole answer does.
            body["stream"] = json!(true);
            body["stream_options"] = json!({ "include_usage": true });
        }
        let request = client.post(endpoint(api, "chat/completions")).json(&body);
        match &api.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    fn answer(body: &[u8]) -> Result<Answer, String> {
        let completion: Completion = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or("no choices in the completion")?;
        let tokens = completion.usage.as_ref().map(tokens).unwrap_or_default();
        Ok(Answer {
            text: choice.message.content.unwrap_or_default(),
            model: completion.model,
            usage: completion.usage,
            tokens,
            finish_reason: choice.finish_reason,
        })
    }

    const FRAMING: Framing = Framing::ServerSentEvents;

    /// A `chat.completion.chunk`: the first choice's `delta.content`, the model, the
    /// finish reason, and (last) the usage.
    fn stream_event(
        said: &mut Streamed,
        _event: &str,
        data: &Value,
    ) -> Result<Option<String>, String> {
        if let Some(model) = data["model"].as_str() {
            said.model = Some(model.to_string());
        }
        if data["usage"].is_object() {
            said.tokens = tokens(&data["usage"]);
            said.usage = Some(data["usage"].clone());
        }
        let choice = &data["choices"][0];
        if let Some(reason) = choice["finish_reason"].as_str() {
            said.finish_reason = Some(reason.to_string());
        }
        Ok(choice["delta"]["content"].as_str().map(str::to_string))
    }
}

fn tokens(usage: &Value) -> TokenCounts {
    let count = |value: &Value| value.as_u64().unwrap_or(0);
    TokenCounts {
        input: count(&usage["prompt_tokens"]),
        output: count(&usage["completion_tokens"]),
        cached: count(&usage["prompt_tokens_details"]["cached_tokens"]),
    }
}
