//! The `llm` builtin: one completion from the deployment's LLM provider, spoken in its own
//! protocol (OpenAI chat completions, Anthropic Messages, Bedrock Converse). Every call is counted and timed,
//! with the tokens the provider reports (`skein_core::metrics`).

mod anthropic;
pub(crate) mod bedrock;
mod openai;
pub(crate) mod sigv4;
mod stream;

use serde::Deserialize;
use serde_json::{Value, json};
use skein_core::metrics::TokenCounts;
use skein_core::ports::{AgentFailure, BuiltinCall, BuiltinOutput, ProviderUsage, UsageEstimate};
use skein_core::workflows::compile::StepErrorName;
use skein_core::workflows::template;

use crate::basic::{InputScope, bad_settings};
use crate::config::{BuiltinSettings, LlmProvider, LlmSettings};
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
    /// Stream the answer into the run's events (`step.delta`) as it is written.
    #[serde(default)]
    stream: bool,
}

pub fn check(deployment: &BuiltinSettings, config: Option<&Value>) -> Result<(), (String, String)> {
    let s: LlmStepSettings = settings(config)?;
    if let (Some(model), Some(api)) = (&s.model, &deployment.llm)
        && let Some(why) = api.refusal(model)
    {
        return Err((".with.model".into(), why));
    }
    if let Some(prompt) = &s.prompt {
        template::references(&Value::String(prompt.clone()))
            .map_err(|(_, message)| (".with.prompt".to_string(), message))?;
    }
    if s.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
        return Err((".with.temperature".into(), "use 0.0 to 2.0".into()));
    }
    if s.max_tokens == Some(0) {
        return Err((".with.max_tokens".into(), "use 1 or more".into()));
    }
    Ok(())
}

/// What a step asks the model, whatever the provider.
struct Prompt {
    model: String,
    system: Option<String>,
    user: String,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
    /// Ask for the answer as Server-Sent Events.
    stream: bool,
}

/// What the model answered, whatever the provider.
struct Answer {
    text: String,
    model: Option<String>,
    /// The provider's own usage object, as it sent it.
    usage: Option<Value>,
    tokens: TokenCounts,
    finish_reason: Option<String>,
}

/// One provider's protocol: the request for a prompt, and the answer in its response.
trait Protocol {
    /// The label in metrics.
    const NAME: &'static str;
    fn request(
        client: &reqwest::Client,
        api: &LlmSettings,
        prompt: &Prompt,
    ) -> reqwest::RequestBuilder;
    fn answer(body: &[u8]) -> Result<Answer, String>;
    /// How its streamed answers are framed.
    const FRAMING: stream::Framing;
    /// Reads one streamed event into `said`: the text it adds, if any.
    fn stream_event(
        said: &mut stream::Streamed,
        event: &str,
        data: &Value,
    ) -> Result<Option<String>, String>;
}

/// The output tokens a budget holds for a call whose step sets no `max_tokens` and whose
/// provider needs none (OpenAI's): the call may use more, and is then recorded as it was.
const RESERVED_OUTPUT_TOKENS: u32 = 1024;

/// Overhead tokens of a chat request beyond its text (roles, separators).
const PROMPT_OVERHEAD_TOKENS: u64 = 16;

/// The most a call may use: its prompt's tokens, estimated generously (a token per three
/// bytes, where English averages four), and its output cap.
pub fn estimate(deployment: &BuiltinSettings, call: &BuiltinCall) -> Option<UsageEstimate> {
    let api = deployment.llm.as_ref()?;
    let s: LlmStepSettings = settings(Some(&call.config)).ok()?;
    let prompt = prompt(api, s, &call.input);
    let bytes = prompt.system.as_ref().map_or(0, String::len) + prompt.user.len();
    let output = prompt.max_tokens.unwrap_or(match api.provider {
        LlmProvider::Anthropic => anthropic::DEFAULT_MAX_TOKENS,
        LlmProvider::OpenAi | LlmProvider::Bedrock => RESERVED_OUTPUT_TOKENS,
    });
    Some(UsageEstimate {
        provider: api.provider.as_str().to_string(),
        model: prompt.model,
        tokens: TokenCounts {
            input: (bytes as u64).div_ceil(3) + PROMPT_OVERHEAD_TOKENS,
            output: u64::from(output),
            cached: 0,
        },
    })
}

/// `{text, model, usage, finish_reason}`, and the tokens it used.
pub async fn call(
    client: &reqwest::Client,
    deployment: &BuiltinSettings,
    signer: &sigv4::AwsSigner,
    call: &BuiltinCall,
) -> Result<BuiltinOutput, AgentFailure> {
    let s: LlmStepSettings = settings(Some(&call.config)).map_err(bad_settings)?;
    let Some(api) = &deployment.llm else {
        return Err(AgentFailure::new(
            StepErrorName::NonRetryable,
            "the llm builtin is not configured: set SKEIN_LLM_BASE_URL (and SKEIN_LLM_API_KEY, SKEIN_LLM_PROVIDER) for the server",
        ));
    };
    let mut prompt = prompt(api, s, &call.input);
    // Registered before the deployment's list changed: refused before anything is spent.
    if let Some(why) = api.refusal(&prompt.model) {
        return Err(AgentFailure::new(StepErrorName::NonRetryable, why));
    }
    // Streamed only where someone may watch (a run's step) and the protocol streams.
    let deltas = call.deltas.as_ref().filter(|_| prompt.stream);
    prompt.stream = deltas.is_some();
    let sink = deltas.map(|d| d.0.as_ref());
    let started = std::time::Instant::now();
    let answer = match api.provider {
        LlmProvider::OpenAi => {
            complete::<openai::ChatCompletions>(client, api, &prompt, None, sink).await?
        }
        LlmProvider::Anthropic => {
            complete::<anthropic::Messages>(client, api, &prompt, None, sink).await?
        }
        LlmProvider::Bedrock => {
            // A Bedrock API key is a bearer token; otherwise each request is signed.
            let signing = match &api.api_key {
                Some(_) => None,
                None => Some(Signing {
                    identity: signer.identity().await?,
                    region: bedrock_region(api)?,
                }),
            };
            complete::<bedrock::Converse>(client, api, &prompt, signing.as_ref(), sink).await?
        }
    };
    let usage = ProviderUsage {
        provider: api.provider.as_str().to_string(),
        model: answer.model.clone().unwrap_or_else(|| prompt.model.clone()),
        tokens: answer.tokens,
        latency: started.elapsed(),
    };
    Ok(BuiltinOutput {
        value: json!({
            "text": answer.text,
            "model": answer.model,
            "usage": answer.usage,
            "finish_reason": answer.finish_reason,
        }),
        usage: Some(usage),
    })
}

/// What a step asks, from its settings and its input.
fn prompt(api: &LlmSettings, s: LlmStepSettings, input: &Value) -> Prompt {
    let user = match &s.prompt {
        Some(p) => match template::render(&Value::String(p.clone()), &InputScope(input)) {
            Value::String(text) => text,
            other => other.to_string(),
        },
        None => match input {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        },
    };
    Prompt {
        model: s.model.unwrap_or_else(|| api.default_model.clone()),
        system: s.system,
        user,
        temperature: s.temperature,
        max_tokens: s.max_tokens,
        stream: s.stream,
    }
}

/// What SigV4 signs a request with.
struct Signing {
    identity: aws_smithy_runtime_api::client::identity::Identity,
    region: String,
}

fn bedrock_region(api: &LlmSettings) -> Result<String, AgentFailure> {
    api.region
        .clone()
        .or_else(|| sigv4::region_of(&api.base_url))
        .ok_or_else(|| {
            AgentFailure::new(
                StepErrorName::NonRetryable,
                "the Bedrock region is unknown: set AWS_REGION for the server, or use an endpoint like https://bedrock-runtime.us-east-1.amazonaws.com",
            )
        })
}

async fn complete<P: Protocol>(
    client: &reqwest::Client,
    api: &LlmSettings,
    prompt: &Prompt,
    signing: Option<&Signing>,
    sink: Option<&dyn skein_core::ports::DeltaSink>,
) -> Result<Answer, AgentFailure> {
    let what = format!("the {} API", P::NAME);
    let started = std::time::Instant::now();
    let build = || {
        let request = P::request(client, api, prompt);
        let Some(signing) = signing else {
            return request;
        };
        // Signed per try: a signature is good for a few minutes from its timestamp.
        let (client, built) = request.build_split();
        match built {
            Ok(mut built) => {
                if let Err(e) = sigv4::sign_request(&mut built, &signing.identity, &signing.region)
                {
                    tracing::warn!(error = %e, "the Bedrock request could not be signed");
                }
                reqwest::RequestBuilder::from_parts(client, built)
            }
            Err(e) => {
                tracing::warn!(error = %e, "the Bedrock request could not be built");
                P::request(&client, api, prompt)
            }
        }
    };
    if let Some(sink) = sink.filter(|_| prompt.stream) {
        let answered = stream::complete::<P>(build(), P::FRAMING, sink, &what).await;
        record_call::<P>(prompt, started, &answered);
        return answered;
    }
    let answered = send_with_retries(build, 2, &what)
        .await
        .and_then(|(_, body)| {
            P::answer(&body).map_err(|e| {
                AgentFailure::new(
                    StepErrorName::AgentFailed,
                    format!("{what} answered something unreadable: {e}"),
                )
            })
        });
    record_call::<P>(prompt, started, &answered);
    answered
}

fn record_call<P: Protocol>(
    prompt: &Prompt,
    started: std::time::Instant,
    answered: &Result<Answer, AgentFailure>,
) {
    let tokens = answered.as_ref().map(|a| a.tokens).unwrap_or_default();
    skein_core::metrics::llm_call(
        P::NAME,
        &prompt.model,
        answered.is_ok(),
        started.elapsed(),
        tokens,
    );
}

/// `base_url` and `path` joined with one slash.
fn endpoint(api: &LlmSettings, path: &str) -> String {
    format!("{}/{path}", api.base_url.trim_end_matches('/'))
}
