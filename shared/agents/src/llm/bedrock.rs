//! Amazon Bedrock's Converse API (`POST {base}/model/{modelId}/converse`, and
//! `converse-stream` for `stream: true`), which speaks to every Bedrock model the same way. Requests are signed with SigV4 (`sigv4`), or
//! carry a Bedrock API key as a bearer token.
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html>

use serde::Deserialize;
use serde_json::{Value, json};
use skein_core::metrics::TokenCounts;

use super::stream::{Framing, Streamed};
use super::{Answer, Prompt, Protocol, endpoint};
use crate::config::LlmSettings;

pub(super) struct Converse;

/// What the role a deployment signs with must be allowed on the models it uses:
/// Converse is authorised as `InvokeModel`, ConverseStream as
/// `InvokeModelWithResponseStream`.
pub const INVOKE_ACTIONS: [&str; 2] = [
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    output: Output,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<Value>,
}

#[derive(Deserialize)]
struct Output {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Vec<Value>,
}

/// A model id as a path segment: `anthropic.claude-3-5-haiku-20241022-v1:0`, or an
/// inference profile's ARN, percent-encoded as the API expects (`:` and `/` included).
fn model_segment(model: &str) -> String {
    let mut out = String::with_capacity(model.len());
    for byte in model.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

impl Protocol for Converse {
    const NAME: &'static str = "bedrock";

    fn request(
        client: &reqwest::Client,
        api: &LlmSettings,
        prompt: &Prompt,
    ) -> reqwest::RequestBuilder {
        let mut body = json!({
            "messages": [{ "role": "user", "content": [{ "text": prompt.user }] }],
        });
        if let Some(system) = &prompt.system {
            body["system"] = json!([{ "text": system }]);
        }
        let mut inference = serde_json::Map::new();
        if let Some(m) = prompt.max_tokens {
            inference.insert("maxTokens".into(), json!(m));
        }
        if let Some(t) = prompt.temperature {
            // Bedrock's models take 0 to 1; the step's (OpenAI's) range is 0 to 2.
            inference.insert("temperature".into(), json!(t.min(1.0)));
        }
        if !inference.is_empty() {
            body["inferenceConfig"] = Value::Object(inference);
        }
        let operation = if prompt.stream {
            "converse-stream"
        } else {
            "converse"
        };
        let path = format!("model/{}/{operation}", model_segment(&prompt.model));
        let request = client.post(endpoint(api, &path)).json(&body);
        match &api.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    fn answer(body: &[u8]) -> Result<Answer, String> {
        let response: Response = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let text: String = response
            .output
            .message
            .content
            .iter()
            .filter_map(|block| block["text"].as_str())
            .collect();
        let tokens = response.usage.as_ref().map(tokens).unwrap_or_default();
        Ok(Answer {
            text,
            // Converse does not echo the model; the one asked for is what answered.
            model: None,
            usage: response.usage,
            tokens,
            finish_reason: response.stop_reason,
        })
    }

    /// ConverseStream speaks AWS's binary event stream, not Server-Sent Events.
    const FRAMING: Framing = Framing::AwsEventStream;

    /// `contentBlockDelta` (text), `messageStop` (stop reason), `metadata` (usage); the
    /// rest (`messageStart`, `contentBlockStart`, `contentBlockStop`) says nothing new.
    fn stream_event(
        said: &mut Streamed,
        event: &str,
        data: &Value,
    ) -> Result<Option<String>, String> {
        match event {
            "contentBlockDelta" => Ok(data["delta"]["text"].as_str().map(str::to_string)),
            "messageStop" => {
                said.finish_reason = data["stopReason"].as_str().map(str::to_string);
                Ok(None)
            }
            "metadata" => {
                said.tokens = tokens(&data["usage"]);
                said.usage = Some(data["usage"].clone());
                Ok(None)
            }
            _ => Ok(None),
        }
    }
}

/// Bedrock counts cache reads and writes apart from `inputTokens`; like Anthropic's, every
/// input token is counted once, the cache reads also as `cached`.
fn tokens(usage: &Value) -> TokenCounts {
    let count = |value: &Value| value.as_u64().unwrap_or(0);
    let cached = count(&usage["cacheReadInputTokens"]);
    TokenCounts {
        input: count(&usage["inputTokens"]) + cached + count(&usage["cacheWriteInputTokens"]),
        output: count(&usage["outputTokens"]),
        cached,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_and_profile_arns_are_one_encoded_path_segment() {
        assert_eq!(
            model_segment("anthropic.claude-3-5-haiku-20241022-v1:0"),
            "anthropic.claude-3-5-haiku-20241022-v1%3A0"
        );
        assert_eq!(
            model_segment("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.x"),
            "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.x"
        );
    }
}
