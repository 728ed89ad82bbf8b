//! Traces from the Lambda handlers (the `otlp` feature): a run started through API
//! Gateway with X-Ray's trace header, its steps run by the step-worker handler on moto, and
//! every span exported over OTLP/HTTP to a receiver in this test as each invocation ends.

mod aws;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws::{Cloud, api_event};
use axum::extract::State;
use serde_json::{Value, json};
use skein_http::ApiGroup;
use skein_lambda::traces::{ExportSettings, Protocol};

const DIAMOND: &str = "
name: diamond
steps:
  - { id: a, builtin: echo, input: { n: '{{ input.n }}' } }
  - { id: b, builtin: transform, with: { program: '.n * 2' }, input: '{{ steps.a.output }}' }
  - { id: c, builtin: transform, with: { program: '.n + 1' }, input: '{{ steps.a.output }}' }
  - { id: d, builtin: echo, input: { doubled: '{{ steps.b.output }}', next: '{{ steps.c.output }}' } }
";

const XRAY_TRACE: &str = "5759e988bd862e3fe1be46a994272793";
const XRAY_PARENT: &str = "53995c3f42cd8ad8";

async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let spans: Arc<Mutex<Vec<Value>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/v1/traces",
            axum::routing::post(
                |State(spans): State<Arc<Mutex<Vec<Value>>>>,
                 axum::Json(body): axum::Json<Value>| async move {
                    let mut all = spans.lock().unwrap();
                    for resource in body["resourceSpans"].as_array().into_iter().flatten() {
                        for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                            all.extend(scope["spans"].as_array().into_iter().flatten().cloned());
                        }
                    }
                    axum::Json(json!({}))
                },
            ),
        )
        .with_state(spans.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, spans)
}

fn string_attribute(span: &Value, key: &str) -> Option<String> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .and_then(|a| a["value"]["stringValue"].as_str().map(str::to_string))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_through_the_lambdas_is_one_trace_continuing_x_rays_header() {
    let (url, spans) = receiver().await;
    skein_lambda::init_tracing_with(Some(ExportSettings {
        traces_url: Some(url),
        protocol: Protocol::HttpJson,
        service: "skein-lambda-test".into(),
    }));
    let cloud = Cloud::new().await;
    cloud.apply(DIAMOND).await;
    let mut event = api_event(
        "POST",
        "/v1/workflows/diamond/runs",
        Some(&cloud.admin),
        Some(json!({"input": {"n": 20}})),
    );
    event["headers"]["x-amzn-trace-id"] = json!(format!(
        "Root=1-{}-{};Parent={XRAY_PARENT};Sampled=1",
        &XRAY_TRACE[..8],
        &XRAY_TRACE[8..]
    ));
    let (status, run) = cloud.api(ApiGroup::Runs, event).await;
    assert_eq!(status, 201, "{run}");
    let run = run["id"].as_str().unwrap().to_string();
    let ended = cloud.drive_to_end(&run).await;
    assert_eq!(ended["status"], "succeeded", "{ended:#}");

    // Each invocation flushed its spans as it ended.
    let deadline = Instant::now() + Duration::from_secs(15);
    let (start_request, steps) = loop {
        let all = spans.lock().unwrap().clone();
        let start = all
            .iter()
            .find(|s| s["name"] == "POST /v1/workflows/{id}/runs")
            .cloned();
        let steps: Vec<Value> = all
            .iter()
            .filter(|s| s["name"].as_str().is_some_and(|n| n.starts_with("step ")))
            .filter(|s| string_attribute(s, "skein.outcome").as_deref() == Some("succeeded"))
            .cloned()
            .collect();
        if let (Some(start), 4) = (&start, steps.len()) {
            break (start.clone(), steps);
        }
        assert!(Instant::now() < deadline, "spans so far: {all:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let lower = |v: &Value| v.as_str().unwrap().to_lowercase();
    assert_eq!(lower(&start_request["traceId"]), XRAY_TRACE);
    assert_eq!(lower(&start_request["parentSpanId"]), XRAY_PARENT);
    for step in &steps {
        assert_eq!(lower(&step["traceId"]), XRAY_TRACE, "{step:#}");
        assert_eq!(step["parentSpanId"], start_request["spanId"], "{step:#}");
        assert_eq!(
            string_attribute(step, "skein.run").as_deref(),
            Some(run.as_str())
        );
    }
}
