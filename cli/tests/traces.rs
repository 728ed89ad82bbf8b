//! Traces end to end: a separate `skein dev` process exports its spans over OTLP/HTTP to a
//! receiver in this test. A diamond workflow with an `http` step and a remote agent's step,
//! started with a caller's `traceparent`, is one trace: every span of the run in it, each
//! step's span a child of the request that started the run, the `http` step's request
//! carrying its span's context to the service, and the agent's claimed task carrying the
//! step's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use support::spawn_dev;

mod support;

const SECRET: &str = "traces-test-secret-traces-test-secret-0";
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// Every span an OTLP/HTTP (JSON) export delivered.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Value>>>);

async fn otlp_receiver() -> (String, Received) {
    let received = Received::default();
    let app = axum::Router::new()
        .route(
            "/v1/traces",
            axum::routing::post(
                |State(received): State<Received>, axum::Json(body): axum::Json<Value>| async move {
                    let mut spans = received.0.lock().unwrap();
                    for resource in body["resourceSpans"].as_array().into_iter().flatten() {
                        for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                            for span in scope["spans"].as_array().into_iter().flatten() {
                                let mut span = span.clone();
                                span["service"] = service_of(resource);
                                spans.push(span);
                            }
                        }
                    }
                    axum::Json(json!({}))
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

fn service_of(resource: &Value) -> Value {
    resource["resource"]["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["key"] == "service.name")
        .map(|a| a["value"]["stringValue"].clone())
        .unwrap_or(Value::Null)
}

/// A service for the `http` step that keeps the `traceparent` each request carried.
async fn traced_service() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route(
            "/lookup",
            axum::routing::post(
                |State(seen): State<Arc<Mutex<Vec<String>>>>, headers: HeaderMap| async move {
                    if let Some(tp) = headers.get("traceparent").and_then(|v| v.to_str().ok()) {
                        seen.lock().unwrap().push(tp.to_string());
                    }
                    axum::Json(json!({"found": true}))
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/lookup", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

fn string_attribute(span: &Value, key: &str) -> Option<String> {
    attribute(span, key).and_then(|v| v["stringValue"].as_str().map(str::to_string))
}

/// `00-{trace}-{span}-{flags}` -> (trace, span).
fn parse_traceparent(value: &str) -> (String, String) {
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "a W3C traceparent: {value}");
    (parts[1].to_string(), parts[2].to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_one_trace_from_the_callers_request_through_its_steps_and_agents() {
    let (collector, received) = otlp_receiver().await;
    let (service, seen) = traced_service().await;
    let dev = spawn_dev(SECRET, |command| {
        command
            .env("SKEIN_METRICS_ADDR", "off")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
            .env("OTEL_SERVICE_NAME", "skein-under-test")
            .env("OTEL_BSP_SCHEDULE_DELAY", "100");
    })
    .await;
    let (base, token) = (dev.base.clone(), dev.token.clone());
    let http = reqwest::Client::new();

    // A remote agent, and a diamond: start -> (lookup: http, review: the agent) -> join.
    let agent: Value = http
        .post(format!("{base}/v1/agents"))
        .bearer_auth(&token)
        .json(&json!({"name": "reviewer", "capabilities": ["review"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let agent_id = agent["agent"]["id"].as_str().unwrap().to_string();
    let agent_token: Value = http
        .post(format!("{base}/v1/auth/token"))
        .json(
            &json!({"client_id": agent_id, "client_secret": agent["credentials"]["client_secret"]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let agent_token = agent_token["access_token"].as_str().unwrap().to_string();
    let yaml = format!(
        "
name: traced
steps:
  - {{ id: start, builtin: echo, input: {{ q: 1 }} }}
  - {{ id: lookup, builtin: http, with: {{ url: '{service}' }}, input: '{{{{ steps.start.output }}}}' }}
  - {{ id: review, agent: reviewer, input: '{{{{ steps.start.output }}}}' }}
  - {{ id: join, builtin: echo, input: {{ a: '{{{{ steps.lookup.output }}}}', b: '{{{{ steps.review.output }}}}' }} }}
"
    );
    let registered = http
        .post(format!("{base}/v1/workflows"))
        .bearer_auth(&token)
        .body(yaml)
        .send()
        .await
        .unwrap();
    assert!(
        registered.status().is_success(),
        "{}",
        registered.text().await.unwrap()
    );

    let started: Value = http
        .post(format!("{base}/v1/workflows/traced/runs"))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .json(&json!({"input": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run = started["id"].as_str().unwrap().to_string();

    // The agent's claim carries the trace: the review step's span is its parent.
    let claim_deadline = Instant::now() + Duration::from_secs(20);
    let task = loop {
        let response = http
            .post(format!("{base}/v1/agents/{agent_id}/tasks/claim?wait=5"))
            .bearer_auth(&agent_token)
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            break response.json::<Value>().await.unwrap();
        }
        assert!(
            Instant::now() < claim_deadline,
            "the review task never came"
        );
    };
    let task_trace = task["trace"]
        .as_str()
        .expect("the task carries a traceparent")
        .to_string();
    let (task_trace_id, task_parent) = parse_traceparent(&task_trace);
    assert_eq!(task_trace_id, CALLER_TRACE, "{task}");
    let done = http
        .post(format!(
            "{base}/v1/tasks/{}/complete",
            task["id"].as_str().unwrap()
        ))
        .bearer_auth(&agent_token)
        .json(&json!({"result": {"ok": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);

    let view_deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let view: Value = http
            .get(format!("{base}/v1/runs/{run}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if view["status"] != "running" {
            assert_eq!(view["status"], "succeeded", "{view:#}");
            break;
        }
        assert!(
            Instant::now() < view_deadline,
            "the run never ended: {view:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The spans arrive within the batch delay.
    let step_names = ["step start", "step lookup", "step review", "step join"];
    let spans_deadline = Instant::now() + Duration::from_secs(15);
    let spans = loop {
        let spans = received.0.lock().unwrap().clone();
        let has = |name: &str| spans.iter().any(|s| s["name"] == name);
        if step_names.iter().all(|n| has(n)) && has("builtin http") {
            break spans;
        }
        assert!(
            Instant::now() < spans_deadline,
            "missing spans; got {:?}",
            spans.iter().map(|s| s["name"].clone()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let by_id: HashMap<String, &Value> = spans
        .iter()
        .map(|s| (s["spanId"].as_str().unwrap().to_lowercase(), s))
        .collect();
    // A step's message may be handled before its dependencies are done (it is held:
    // outcome `waiting`); the span that ran it has its outcome.
    let named = |name: &str| -> &Value {
        spans
            .iter()
            .filter(|s| s["name"] == name)
            .find(|s| string_attribute(s, "skein.outcome").as_deref() != Some("waiting"))
            .unwrap_or_else(|| panic!("no span {name}"))
    };
    assert_eq!(named("step start")["service"], "skein-under-test");

    // The request that started the run continues the caller's trace...
    let start_request = named("POST /v1/workflows/{id}/runs");
    assert_eq!(
        start_request["traceId"].as_str().unwrap().to_lowercase(),
        CALLER_TRACE
    );
    assert_eq!(
        start_request["parentSpanId"]
            .as_str()
            .unwrap()
            .to_lowercase(),
        CALLER_SPAN
    );
    // ...and every step's span, with what identifies it, is a child of that request.
    for name in step_names {
        let span = named(name);
        assert_eq!(
            span["traceId"].as_str().unwrap().to_lowercase(),
            CALLER_TRACE,
            "{name}"
        );
        assert_eq!(
            span["parentSpanId"], start_request["spanId"],
            "{name}: {span:#}"
        );
        assert_eq!(
            string_attribute(span, "skein.run").as_deref(),
            Some(run.as_str())
        );
        assert_eq!(
            string_attribute(span, "skein.workflow").as_deref(),
            Some("traced")
        );
        assert!(attribute(span, "skein.attempt").is_some(), "{span:#}");
        assert!(attribute(span, "skein.tenant").is_some(), "{span:#}");
    }
    for name in ["step start", "step lookup", "step join"] {
        assert_eq!(
            string_attribute(named(name), "skein.outcome").as_deref(),
            Some("succeeded"),
            "{name}"
        );
    }
    assert_eq!(
        string_attribute(named("step review"), "skein.outcome").as_deref(),
        Some("awaiting_agent")
    );

    // The http builtin's span is a child of its step's, and its request carried it.
    let builtin = named("builtin http");
    assert_eq!(builtin["parentSpanId"], named("step lookup")["spanId"]);
    let sent = seen.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (sent_trace, sent_parent) = parse_traceparent(&sent[0]);
    assert_eq!(sent_trace, CALLER_TRACE);
    assert_eq!(
        sent_parent,
        builtin["spanId"].as_str().unwrap().to_lowercase()
    );

    // The agent's task was created under the review step's span.
    assert_eq!(
        by_id.get(&task_parent).map(|s| s["name"].clone()),
        Some(json!("step review")),
        "the task's traceparent names the review step's span"
    );
}
