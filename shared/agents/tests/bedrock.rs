//! The llm builtin against a local server speaking Amazon Bedrock's Converse API, which
//! verifies each request's SigV4 signature as AWS does (or its Bedrock API key).

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use skein_agents::{BuiltinSettings, Builtins, LlmProvider, LlmSettings};
use skein_core::ports::BuiltinAgents;
use support::{Collected, call, serve};

mod support;

const AKID: &str = "AKIDBEDROCKTEST";
const SECRET_KEY: &str = "bedrock-test-secret-key/0123456789abcdef";

/// Checks a request's SigV4 signature as AWS would: the same canonical request over the
/// headers it says it signed, the same key, at the time it says it signed.
fn signature_is_valid(
    method: &str,
    uri: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or("no Authorization header")?;
    let scope = format!("Credential={AKID}/");
    if !authorization.starts_with("AWS4-HMAC-SHA256 ") || !authorization.contains(&scope) {
        return Err(format!("not SigV4 for {AKID}: {authorization}"));
    }
    if !authorization.contains("/us-east-1/bedrock/aws4_request") {
        return Err(format!(
            "not scoped to bedrock in us-east-1: {authorization}"
        ));
    }
    let field = |name: &str| {
        authorization
            .split([',', ' '])
            .find_map(|part| part.trim().strip_prefix(name))
            .map(str::to_string)
            .ok_or(format!("no {name} in {authorization}"))
    };
    let signed_headers = field("SignedHeaders=")?;
    let signature = field("Signature=")?;
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or("no x-amz-date")?;
    let time = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|e| e.to_string())?
        .and_utc();
    let signed: Vec<(String, String)> = signed_headers
        .split(';')
        .filter(|name| *name != "x-amz-content-sha256" || headers.contains_key(*name))
        .map(|name| {
            (
                name.to_string(),
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let identity =
        aws_credential_types::Credentials::new(AKID, SECRET_KEY, None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("bedrock")
        .time(std::time::SystemTime::from(time))
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        method,
        uri,
        signed
            .iter()
            .filter(|(n, _)| n != "x-amz-date")
            .map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (_, expected) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    if expected != signature {
        return Err(format!("signature {signature}, expected {expected}"));
    }
    Ok(())
}

/// Each request the Bedrock server accepted: its path and body.
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// Why the server refuses a request: a SigV4 signature it cannot verify, or a wrong bearer
/// key, as Bedrock does.
fn refusal(uri: &axum::http::Uri, headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some("Bearer bedrock-api-key");
    if bearer {
        return None;
    }
    signature_is_valid("POST", &format!("http://{host}{uri}"), headers, body).err()
}

/// One frame of AWS's event stream, as Bedrock writes them.
fn frame(message_type: &str, kind: &str, payload: Value) -> Vec<u8> {
    use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
    let kind_header = if message_type == "event" {
        ":event-type"
    } else {
        ":exception-type"
    };
    let message = Message::new(serde_json::to_vec(&payload).unwrap())
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String(message_type.to_string().into()),
        ))
        .add_header(Header::new(
            kind_header,
            HeaderValue::String(kind.to_string().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ));
    let mut out = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(&message, &mut out).unwrap();
    out
}

/// ConverseStream's answer: a word per `contentBlockDelta`, sent in 7-byte pieces so
/// frames arrive split; a prompt asking to be throttled gets a `throttlingException`
/// midway, as Bedrock sends it.
fn converse_stream(prompt: &str) -> axum::response::Response {
    let mut frames = vec![
        frame("event", "messageStart", json!({"role": "assistant"})),
        frame(
            "event",
            "contentBlockStart",
            json!({"contentBlockIndex": 0, "start": {}}),
        ),
    ];
    for i in 0..200 {
        if prompt == "throttle me" && i == 100 {
            frames.push(frame(
                "exception",
                "throttlingException",
                json!({"message": "Too many tokens, please wait before trying again."}),
            ));
            break;
        }
        frames.push(frame(
            "event",
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": format!("w{i} ")}, "p": "abcdefgh"}),
        ));
    }
    frames.push(frame(
        "event",
        "contentBlockStop",
        json!({"contentBlockIndex": 0}),
    ));
    frames.push(frame(
        "event",
        "messageStop",
        json!({"stopReason": "max_tokens"}),
    ));
    frames.push(frame(
        "event",
        "metadata",
        json!({"usage": {"inputTokens": 12, "outputTokens": 200, "totalTokens": 212}, "metrics": {"latencyMs": 900}}),
    ));
    let bytes = frames.concat();
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(7).map(|c| Ok(c.to_vec())).collect();
    axum::response::Response::builder()
        .header("content-type", "application/vnd.amazon.eventstream")
        .body(axum::body::Body::from_stream(futures_util::stream::iter(
            pieces,
        )))
        .unwrap()
}

async fn bedrock_server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route(
            "/model/{model}/converse",
            post(
                |State(seen): State<Seen>,
                 uri: axum::http::Uri,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    if let Some(why) = refusal(&uri, &headers, &body) {
                        return (StatusCode::FORBIDDEN, Json(json!({"message": why})));
                    }
                    let request: Value = serde_json::from_slice(&body).unwrap();
                    seen.lock().unwrap().push((uri.path().to_string(), request.clone()));
                    let prompt = request["messages"][0]["content"][0]["text"].as_str().unwrap().to_string();
                    (StatusCode::OK, Json(json!({
                        "output": {"message": {"role": "assistant", "content": [{"text": "summary "}, {"text": format!("of: {prompt}")}]}},
                        "stopReason": "end_turn",
                        "usage": {"inputTokens": 11, "outputTokens": 6, "totalTokens": 17, "cacheReadInputTokens": 4},
                        "metrics": {"latencyMs": 120}
                    })))
                },
            ),
        )
        .route(
            "/model/{model}/converse-stream",
            post(
                |State(seen): State<Seen>,
                 uri: axum::http::Uri,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    use axum::response::IntoResponse;
                    if let Some(why) = refusal(&uri, &headers, &body) {
                        return (StatusCode::FORBIDDEN, Json(json!({"message": why}))).into_response();
                    }
                    let request: Value = serde_json::from_slice(&body).unwrap();
                    seen.lock().unwrap().push((uri.path().to_string(), request.clone()));
                    converse_stream(request["messages"][0]["content"][0]["text"].as_str().unwrap())
                },
            ),
        )
        .with_state(seen.clone());
    (serve(app).await, seen)
}

fn bedrock_builtins(base: &str, api_key: Option<&str>) -> Builtins {
    bedrock_builtins_signing_with(base, api_key, SECRET_KEY)
}

fn bedrock_builtins_signing_with(base: &str, api_key: Option<&str>, secret: &str) -> Builtins {
    bedrock_builtins_with(base, api_key, secret, Vec::new())
}

fn bedrock_builtins_with(
    base: &str,
    api_key: Option<&str>,
    secret: &str,
    models: Vec<String>,
) -> Builtins {
    let credentials = aws_credential_types::Credentials::new(AKID, secret, None, None, "test");
    Builtins::new(BuiltinSettings {
        llm: Some(LlmSettings {
            provider: LlmProvider::Bedrock,
            base_url: base.to_string(),
            api_key: api_key.map(str::to_string),
            default_model: "anthropic.claude-3-5-haiku-20241022-v1:0".into(),
            models,
            region: Some("us-east-1".into()),
        }),
        aws_credentials: Some(
            aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
        ),
        ..BuiltinSettings::default()
    })
}

#[tokio::test]
async fn llm_speaks_bedrock_converse_signed_with_sigv4() {
    let (base, seen) = bedrock_server().await;
    let builtins = bedrock_builtins(&base, None);
    let out = builtins
        .invoke(call("llm", json!({"system": "Be brief.", "prompt": "Summarize {{ input.topic }}", "max_tokens": 50, "temperature": 1.5}), json!({"topic": "tides"})))
        .await
        .unwrap();
    let used = out.usage.expect("an llm call reports its usage");
    assert_eq!(used.provider, "bedrock");
    assert_eq!(used.model, "anthropic.claude-3-5-haiku-20241022-v1:0");
    assert_eq!(
        (used.tokens.input, used.tokens.cached, used.tokens.output),
        (15, 4, 6)
    );
    assert_eq!(out.value["text"], "summary of: Summarize tides");
    assert_eq!(out.value["finish_reason"], "end_turn");
    let seen = seen.lock().unwrap();
    let (path, request) = &seen[0];
    assert_eq!(
        path,
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
    );
    assert_eq!(request["system"], json!([{"text": "Be brief."}]));
    assert_eq!(
        request["inferenceConfig"],
        json!({"maxTokens": 50, "temperature": 1.0})
    );
}

#[tokio::test]
async fn a_bedrock_api_key_is_sent_as_a_bearer_token_and_bad_signatures_are_refused() {
    let (base, _) = bedrock_server().await;
    let out = bedrock_builtins(&base, Some("bedrock-api-key"))
        .invoke(call("llm", json!({"prompt": "hi"}), json!({})))
        .await
        .unwrap();
    assert_eq!(out.value["text"], "summary of: hi");

    // Signed with another secret: the server cannot verify it and refuses, for good.
    let failure = bedrock_builtins_signing_with(&base, None, "not-the-secret")
        .invoke(call("llm", json!({"prompt": "hi"}), json!({})))
        .await
        .unwrap_err();
    assert!(failure.message.contains("403"), "{failure:?}");
}

#[tokio::test]
async fn bedrock_streams_its_answer_from_converse_stream_event_frames() {
    let (base, seen) = bedrock_server().await;
    let builtins = bedrock_builtins(&base, None);
    let collected = Arc::new(Collected::default());
    let mut streamed = call("llm", json!({"prompt": "go", "stream": true}), json!({}));
    streamed.deltas = Some(skein_core::ports::Deltas(collected.clone()));
    let out = builtins.invoke(streamed).await.unwrap();

    let whole: String = (0..200).map(|i| format!("w{i} ")).collect();
    assert_eq!(out.value["text"], whole.as_str());
    assert_eq!(out.value["finish_reason"], "max_tokens");
    let used = out.usage.expect("usage from the metadata event");
    assert_eq!((used.tokens.input, used.tokens.output), (12, 200));
    let pieces = collected.0.lock().unwrap().clone();
    assert_eq!(pieces.concat(), whole, "every word handed on, in order");
    assert!(
        pieces.len() > 1 && pieces.len() < 30,
        "coalesced into a few pieces, not one per token: {}",
        pieces.len()
    );
    assert_eq!(
        seen.lock().unwrap()[0].0,
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream",
        "signed and sent to ConverseStream"
    );

    // Without a watcher to hand pieces to, the same step asks Converse for the whole answer.
    let out = builtins
        .invoke(call(
            "llm",
            json!({"prompt": "go", "stream": true}),
            json!({}),
        ))
        .await
        .unwrap();
    assert_eq!(out.value["text"], "summary of: go");
}

#[tokio::test]
async fn an_exception_in_bedrocks_stream_fails_the_call_with_what_it_said() {
    let (base, _) = bedrock_server().await;
    let collected = Arc::new(Collected::default());
    let mut streamed = call(
        "llm",
        json!({"prompt": "throttle me", "stream": true}),
        json!({}),
    );
    streamed.deltas = Some(skein_core::ports::Deltas(collected.clone()));
    let failure = bedrock_builtins(&base, None)
        .invoke(streamed)
        .await
        .unwrap_err();
    assert_eq!(failure.error.as_str(), "Skein.AgentFailed", "{failure:?}");
    assert!(
        failure.message.contains("throttlingException")
            && failure.message.contains("Too many tokens"),
        "{failure:?}"
    );
}

/// On AWS the functions' role may invoke only the models the deployment names, and the
/// deployment tells the builtins the same list: a step naming another is refused when its
/// workflow is registered, and (registered before the list changed) before any request.
#[tokio::test]
async fn a_model_the_deployment_does_not_name_is_refused_up_front() {
    let (base, seen) = bedrock_server().await;
    let builtins = bedrock_builtins_with(
        &base,
        None,
        SECRET_KEY,
        vec!["meta.llama3-70b-instruct-v1:0".into()],
    );
    for allowed in [
        json!({"prompt": "hi"}),
        json!({"prompt": "hi", "model": "anthropic.claude-3-5-haiku-20241022-v1:0"}),
        json!({"prompt": "hi", "model": "meta.llama3-70b-instruct-v1:0"}),
    ] {
        assert_eq!(builtins.check("llm", Some(&allowed)), Ok(()), "{allowed}");
    }
    let other = json!({"prompt": "hi", "model": "mistral.mistral-large-2402-v1:0"});
    let problems = builtins.check("llm", Some(&other)).unwrap_err();
    assert_eq!(problems[0].0, ".with.model");
    assert!(
        problems[0].1.contains("`mistral.mistral-large-2402-v1:0` is not a model this deployment may use; use one of anthropic.claude-3-5-haiku-20241022-v1:0, meta.llama3-70b-instruct-v1:0"),
        "{problems:?}"
    );

    let failure = builtins
        .invoke(call("llm", other, json!({})))
        .await
        .unwrap_err();
    assert_eq!(failure.error.as_str(), "Skein.NonRetryable");
    assert!(seen.lock().unwrap().is_empty(), "Bedrock was never asked");
    builtins
        .invoke(call(
            "llm",
            json!({"prompt": "hi", "model": "meta.llama3-70b-instruct-v1:0"}),
            json!({}),
        ))
        .await
        .unwrap();
    assert_eq!(
        seen.lock().unwrap()[0].0,
        "/model/meta.llama3-70b-instruct-v1%3A0/converse"
    );
}
