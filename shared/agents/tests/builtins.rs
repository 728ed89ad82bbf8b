//! The builtins against real local HTTP servers: one that counts calls by idempotency key
//! and fails on demand, and one that speaks OpenAI's chat completions protocol.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use skein_agents::{BuiltinSettings, Builtins, EgressPolicy, LlmProvider, LlmSettings};
use skein_core::ports::BuiltinAgents;
use support::{Collected, call, serve};

mod support;

/// Builtins whose `http` steps may reach the test servers on 127.0.0.1.
fn loopback_builtins() -> Builtins {
    Builtins::new(BuiltinSettings {
        egress: EgressPolicy::parse("127.0.0.1/32").unwrap(),
        ..BuiltinSettings::default()
    })
}

#[derive(Default)]
struct Upstream {
    calls: Mutex<Vec<(String, Value)>>,
    failures_left: Mutex<u32>,
}

async fn upstream() -> (Arc<Upstream>, String) {
    let state = Arc::new(Upstream::default());
    let app =
        axum::Router::new()
            .route(
                "/orders",
                post(
                    |State(s): State<Arc<Upstream>>,
                     headers: HeaderMap,
                     Json(body): Json<Value>| async move {
                        let key = headers
                            .get("idempotency-key")
                            .map(|v| v.to_str().unwrap().to_string())
                            .unwrap_or_default();
                        s.calls.lock().unwrap().push((key, body.clone()));
                        let mut left = s.failures_left.lock().unwrap();
                        if *left > 0 {
                            *left -= 1;
                            return (
                                StatusCode::SERVICE_UNAVAILABLE,
                                Json(json!({"error": "busy"})),
                            );
                        }
                        (StatusCode::CREATED, Json(json!({"id": 7, "echo": body})))
                    },
                ),
            )
            .route(
                "/bad",
                post(|| async { (StatusCode::UNPROCESSABLE_ENTITY, "missing sku") }),
            )
            .with_state(state.clone());
    (state, serve(app).await)
}

#[tokio::test]
async fn http_sends_the_input_with_the_idempotency_key_and_retries_5xx() {
    let (state, base) = upstream().await;
    *state.failures_left.lock().unwrap() = 2;
    let builtins = loopback_builtins();
    let out = builtins
        .invoke(call(
            "http",
            json!({"url": format!("{base}/orders"), "retries": 2}),
            json!({"sku": "a1"}),
        ))
        .await
        .unwrap()
        .value;
    assert_eq!(
        out,
        json!({"status": 201, "body": {"id": 7, "echo": {"sku": "a1"}}})
    );
    let calls = state.calls.lock().unwrap();
    assert_eq!(calls.len(), 3);
    assert!(calls.iter().all(|(key, _)| key == "run1:step1:0"));
}

#[tokio::test]
async fn http_fails_retryably_after_its_retries_and_at_once_on_4xx() {
    let (state, base) = upstream().await;
    *state.failures_left.lock().unwrap() = 10;
    let builtins = loopback_builtins();
    let err = builtins
        .invoke(call(
            "http",
            json!({"url": format!("{base}/orders"), "retries": 1}),
            json!({}),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.error.as_str(), "Skein.AgentFailed");
    assert!(
        err.message.contains("503") && err.message.contains("after 2 tries"),
        "{}",
        err.message
    );
    let err = builtins
        .invoke(call(
            "http",
            json!({"url": format!("{base}/bad")}),
            json!({}),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.error.as_str(), "Skein.NonRetryable");
    assert!(err.message.contains("missing sku"), "{}", err.message);
}

#[tokio::test]
async fn llm_speaks_openai_chat_completions() {
    let seen: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/v1/chat/completions",
            post(|State(seen): State<Arc<Mutex<HashMap<String, Value>>>>, headers: HeaderMap, Json(body): Json<Value>| async move {
                let auth = headers.get("authorization").unwrap().to_str().unwrap().to_string();
                seen.lock().unwrap().insert(auth, body.clone());
                let prompt = body["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_string();
                Json(json!({
                    "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("summary of: {prompt}")}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
                }))
            }),
        )
        .with_state(seen.clone());
    let base = serve(app).await;
    let builtins = Builtins::new(BuiltinSettings {
        llm: Some(LlmSettings {
            provider: LlmProvider::OpenAi,
            base_url: format!("{base}/v1"),
            api_key: Some("sk-test".into()),
            default_model: "gpt-test".into(),
            models: Vec::new(),
            region: None,
        }),
        ..BuiltinSettings::default()
    });
    let llm_call = call(
        "llm",
        json!({"system": "Be brief.", "prompt": "Summarize {{ input.topic }}", "temperature": 0.2}),
        json!({"topic": "tides"}),
    );
    let estimate = builtins
        .estimate(&llm_call)
        .expect("an llm call is estimated");
    // "Be brief." and "Summarize tides": 24 bytes, a token per three, and the overhead;
    // no max_tokens, so the output is held at 1,024.
    assert_eq!(
        (estimate.tokens.input, estimate.tokens.output),
        (8 + 16, 1024)
    );
    let out = builtins.invoke(llm_call).await.unwrap();
    let used = out.usage.expect("an llm call reports its usage");
    assert_eq!(
        (used.provider.as_str(), used.model.as_str()),
        ("openai", "gpt-test")
    );
    assert_eq!((used.tokens.input, used.tokens.output), (9, 4));
    let out = out.value;
    assert_eq!(out["text"], "summary of: Summarize tides");
    assert_eq!(out["usage"]["total_tokens"], 13);
    let seen = seen.lock().unwrap();
    let body = &seen["Bearer sk-test"];
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(body["temperature"], 0.2);
}

/// A server speaking Anthropic's Messages API, as its reference documents it: it refuses a
/// request without its version header, key or `max_tokens`, as the API does.
#[tokio::test]
async fn llm_speaks_anthropic_messages() {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/v1/messages",
            post(|State(seen): State<Arc<Mutex<Vec<Value>>>>, headers: HeaderMap, Json(body): Json<Value>| async move {
                if headers.get("anthropic-version").is_none_or(|v| v != "2023-06-01")
                    || headers.get("x-api-key").is_none_or(|v| v != "sk-ant-test")
                    || body["max_tokens"].as_u64().is_none()
                {
                    return (StatusCode::BAD_REQUEST, Json(json!({"type": "error", "error": {"type": "invalid_request_error", "message": "bad request"}})));
                }
                seen.lock().unwrap().push(body.clone());
                let prompt = body["messages"][0]["content"].as_str().unwrap().to_string();
                (StatusCode::OK, Json(json!({
                    "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
                    "content": [{"type": "text", "text": "summary "}, {"type": "text", "text": format!("of: {prompt}")}],
                    "stop_reason": "end_turn", "stop_sequence": null,
                    "usage": {"input_tokens": 12, "output_tokens": 5, "cache_read_input_tokens": 8, "cache_creation_input_tokens": 0}
                })))
            }),
        )
        .with_state(seen.clone());
    let base = serve(app).await;
    let builtins = Builtins::new(BuiltinSettings {
        llm: Some(LlmSettings {
            provider: LlmProvider::Anthropic,
            base_url: format!("{base}/v1/"),
            api_key: Some("sk-ant-test".into()),
            default_model: "claude-test".into(),
            models: Vec::new(),
            region: None,
        }),
        ..BuiltinSettings::default()
    });
    let out = builtins
        .invoke(call("llm", json!({"system": "Be brief.", "prompt": "Summarize {{ input.topic }}", "temperature": 1.5}), json!({"topic": "tides"})))
        .await
        .unwrap();
    let used = out.usage.expect("an llm call reports its usage");
    // Anthropic counts cache reads apart: every input token once, the cached ones also.
    assert_eq!(
        (used.tokens.input, used.tokens.cached, used.tokens.output),
        (20, 8, 5)
    );
    let out = out.value;
    assert_eq!(out["text"], "summary of: Summarize tides");
    assert_eq!(out["model"], "claude-test");
    assert_eq!(out["finish_reason"], "end_turn");
    assert_eq!(out["usage"]["input_tokens"], 12);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["system"], "Be brief.");
    assert_eq!(seen[0]["max_tokens"], 1024, "Anthropic requires max_tokens");
    assert_eq!(
        seen[0]["temperature"], 1.0,
        "Anthropic's temperature ends at 1"
    );
    assert_eq!(
        seen[0]["messages"],
        json!([{"role": "user", "content": "Summarize tides"}])
    );
}

#[test]
fn an_unknown_llm_provider_is_refused_with_the_known_ones() {
    let error = LlmProvider::parse("gemini").unwrap_err();
    assert!(
        error.contains("openai") && error.contains("anthropic"),
        "{error}"
    );
    assert_eq!(LlmProvider::parse("anthropic"), Ok(LlmProvider::Anthropic));
}

#[tokio::test]
async fn transform_template_and_decision_work_on_the_input() {
    let b = Builtins::new(BuiltinSettings::default());
    let input = json!({"scores": [3, 9, 4], "name": "Ada"});
    let t = b
        .invoke(call(
            "transform",
            json!({"program": ".scores | max"}),
            input.clone(),
        ))
        .await
        .unwrap()
        .value;
    assert_eq!(t, json!(9));
    let r = b.invoke(call("template", json!({"template": {"greeting": "Hi {{ input.name }}", "best": "{{ input.scores[1] }}"}}), input.clone())).await.unwrap().value;
    assert_eq!(r, json!({"greeting": "Hi Ada", "best": 9}));
    let rules = json!({"rules": [{"when": ".scores | max > 10", "outcome": "escalate"}, {"when": ".scores | max > 5", "outcome": "review"}], "default": "accept"});
    let d = b
        .invoke(call("decision", rules, input))
        .await
        .unwrap()
        .value;
    assert_eq!(d, json!({"outcome": "review", "rule": 1}));
}

#[tokio::test]
async fn a_slow_builtin_times_out_with_a_retryable_error() {
    let app = axum::Router::new().route(
        "/slow",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }),
    );
    let base = serve(app).await;
    let b = loopback_builtins();
    let mut c = call(
        "http",
        json!({"url": format!("{base}/slow"), "retries": 0}),
        json!({}),
    );
    c.timeout = Some(Duration::from_millis(200));
    let err = b.invoke(c).await.unwrap_err();
    assert_eq!(err.error.as_str(), "Skein.Timeout");
}

fn sse(events: Vec<String>) -> axum::response::Response {
    let body = events.concat();
    axum::response::Response::builder()
        .header("content-type", "text/event-stream")
        .body(axum::body::Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn llm_streams_openai_and_anthropic_answers_in_coalesced_pieces() {
    let words: Vec<String> = (0..300).map(|i| format!("w{i} ")).collect();
    let whole: String = words.concat();
    let openai_words = words.clone();
    let anthropic_words = words.clone();
    let app = axum::Router::new()
        .route(
            "/v1/chat/completions",
            post(move |Json(body): Json<Value>| {
                let words = openai_words.clone();
                async move {
                    assert_eq!(body["stream"], true);
                    assert_eq!(body["stream_options"]["include_usage"], true);
                    let mut events: Vec<String> = words
                        .iter()
                        .map(|w| format!("data: {}\n\n", json!({"model": "gpt-test", "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": null}]})))
                        .collect();
                    events.push(format!("data: {}\n\n", json!({"model": "gpt-test", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})));
                    events.push(format!("data: {}\n\n", json!({"model": "gpt-test", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 300, "total_tokens": 307}})));
                    events.push("data: [DONE]\n\n".into());
                    sse(events)
                }
            }),
        )
        .route(
            "/v1/messages",
            post(move |Json(body): Json<Value>| {
                let words = anthropic_words.clone();
                async move {
                    assert_eq!(body["stream"], true);
                    let mut events = vec![format!("event: message_start\ndata: {}\n\n", json!({"type": "message_start", "message": {"model": "claude-test", "usage": {"input_tokens": 9, "output_tokens": 1}}}))];
                    events.extend(words.iter().map(|w| format!("event: content_block_delta\ndata: {}\n\n", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}}))));
                    events.push(format!("event: message_delta\ndata: {}\n\n", json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 300}})));
                    events.push(format!("event: message_stop\ndata: {}\n\n", json!({"type": "message_stop"})));
                    sse(events)
                }
            }),
        );
    let base = serve(app).await;
    for (provider, model, input) in [
        (LlmProvider::OpenAi, "gpt-test", 7),
        (LlmProvider::Anthropic, "claude-test", 9),
    ] {
        let builtins = Builtins::new(BuiltinSettings {
            llm: Some(LlmSettings {
                provider,
                base_url: format!("{base}/v1"),
                api_key: Some("key".into()),
                default_model: model.into(),
                models: Vec::new(),
                region: None,
            }),
            ..BuiltinSettings::default()
        });
        let collected = Arc::new(Collected::default());
        let mut streamed = call("llm", json!({"prompt": "go", "stream": true}), json!({}));
        streamed.deltas = Some(skein_core::ports::Deltas(collected.clone()));
        let out = builtins.invoke(streamed).await.unwrap();
        let used = out.usage.expect("usage");
        assert_eq!(
            (used.tokens.input, used.tokens.output),
            (input, 300),
            "{provider:?}"
        );
        assert_eq!(out.value["text"], whole.as_str(), "{provider:?}");
        let pieces = collected.0.lock().unwrap().clone();
        assert_eq!(
            pieces.concat(),
            whole,
            "{provider:?}: every word handed on, in order"
        );
        assert!(
            pieces.len() > 1 && pieces.len() < 30,
            "{provider:?}: coalesced into a few pieces, not one per token: {}",
            pieces.len()
        );
    }
}
