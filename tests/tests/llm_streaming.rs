//! `stream: true` end to end: a local server streams a chat completion slowly, and a client
//! of the run's event stream reads the answer as `step.delta` events while the step is still
//! running; once the run has ended, its history holds no deltas.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::routing::post;
use common::{TestApp, step};
use reqwest::StatusCode;
use serde_json::{Value, json};
use skein_cli::sse::FrameReader;

const WORDS: usize = 20;

/// Streams WORDS words, one every 100 ms, then the usage and the end.
async fn slow_streaming_llm() -> String {
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(|Json(body): Json<Value>| async move {
            assert_eq!(body["stream"], true, "the step asked for a stream");
            let chunks = futures_util::stream::unfold(0usize, |i| async move {
                if i > WORDS + 1 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                let data = match i {
                    i if i < WORDS => json!({"model": "gpt-test", "choices": [{"index": 0, "delta": {"content": format!("word{i} ")}, "finish_reason": null}]}).to_string(),
                    i if i == WORDS => json!({"model": "gpt-test", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": WORDS}}).to_string(),
                    _ => "[DONE]".to_string(),
                };
                Some((Ok::<_, Infallible>(format!("data: {data}\n\n")), i + 1))
            });
            axum::response::Response::builder()
                .header("content-type", "text/event-stream")
                .body(axum::body::Body::from_stream(chunks))
                .unwrap()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The run's event stream, from the start: each event as JSON, until `stop` says so.
async fn read_events(
    app: &TestApp,
    run: &str,
    mut on_event: impl AsyncFnMut(&Value) -> bool,
) -> Vec<Value> {
    let mut response = app
        .http
        .get(format!("{}/v1/runs/{run}/events", app.url))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut frames = FrameReader::default();
    let mut events = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(20), response.chunk())
        .await
        .expect("the stream keeps coming")
        .unwrap()
    {
        frames.push(&chunk);
        while let Some(frame) = frames.next_frame() {
            let event: Value = serde_json::from_str(&frame.data).unwrap();
            let go_on = on_event(&event).await;
            events.push(event);
            if !go_on {
                return events;
            }
        }
    }
    events
}

#[tokio::test]
async fn streamed_deltas_reach_an_event_stream_client_before_the_step_ends() {
    let llm = slow_streaming_llm().await;
    let app = TestApp::spawn_with(move |args| args.local.llm_base_url = Some(llm)).await;
    app.apply_ok(
        "name: talk\nsteps:\n  - { id: say, builtin: llm, with: { prompt: 'Talk', stream: true } }\n",
    )
    .await;
    let run = app.start_run("talk", json!({})).await;

    let mut seen_running = false;
    let events = read_events(&app, &run, async |event: &Value| {
        if event["type"] == "step.delta" && !seen_running {
            let (_, view) = app.get(&app.admin, &format!("/v1/runs/{run}")).await;
            seen_running = step(&view, "say")["status"] == "running";
        }
        !matches!(event["type"].as_str(), Some("run.succeeded" | "run.failed"))
    })
    .await;
    assert!(
        seen_running,
        "a delta arrived while the step was running: {events:#?}"
    );
    let deltas: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "step.delta")
        .collect();
    let text: String = deltas
        .iter()
        .map(|e| e["data"]["text"].as_str().unwrap())
        .collect();
    let whole: String = (0..WORDS).map(|i| format!("word{i} ")).collect();
    assert_eq!(text, whole, "every word, in order");
    assert!(
        deltas.len() > 1 && deltas.len() < WORDS,
        "coalesced: {} deltas for {WORDS} words",
        deltas.len()
    );
    assert!(
        deltas
            .iter()
            .all(|e| e["step"] == "say" && e["data"]["attempt"] == 1)
    );
    let succeeded = events
        .iter()
        .position(|e| e["type"] == "step.succeeded")
        .unwrap();
    let last_delta = events
        .iter()
        .rposition(|e| e["type"] == "step.delta")
        .unwrap();
    assert!(
        last_delta < succeeded,
        "every delta came before the step's end"
    );

    let (_, view) = app.get(&app.admin, &format!("/v1/runs/{run}")).await;
    assert_eq!(step(&view, "say")["output"]["text"], whole.as_str());
    // The run's history, read again once it has ended, holds no deltas.
    let history = read_events(&app, &run, async |_| true).await;
    assert!(history.iter().any(|e| e["type"] == "step.succeeded"));
    assert!(
        history.iter().all(|e| e["type"] != "step.delta"),
        "{history:#?}"
    );
}
