//! `skein dev`'s metrics, scraped as Prometheus would: a separate `skein dev` process, its
//! `/metrics` listener parsed as Prometheus text, and the counters moving with the runs,
//! steps and requests the test makes.

use std::time::{Duration, Instant};

use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue, Sample};
use serde_json::{Value, json};
use support::{DevProcess, free_port, spawn_dev};

mod support;

const SECRET: &str = "metrics-test-secret-metrics-test-secret";

const DIAMOND: &str = "
name: diamond
steps:
  - { id: a, builtin: echo, input: { n: 1 } }
  - { id: b, builtin: transform, with: { program: '.n * 2' }, input: '{{ steps.a.output }}' }
  - { id: c, builtin: transform, with: { program: '.n + 1' }, input: '{{ steps.a.output }}' }
  - { id: d, builtin: echo, input: { b: '{{ steps.b.output }}', c: '{{ steps.c.output }}' } }
";

const ASK: &str = "
name: ask
steps:
  - { id: answer, builtin: llm, with: { prompt: 'Say hi' } }
";

/// A server speaking OpenAI's chat completions, reporting 9 prompt tokens (3 cached) and 4
/// completion tokens per call.
async fn chat_completions() -> String {
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(|axum::Json(body): axum::Json<Value>| async move {
            axum::Json(json!({
                "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13,
                          "prompt_tokens_details": {"cached_tokens": 3}}
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

const BROKEN: &str = "
name: broken
steps:
  - { id: bad, builtin: transform, with: { program: 'error(\"no\")' } }
";

struct Dev {
    /// Stops the process when the test ends.
    _process: DevProcess,
    base: String,
    metrics: String,
    http: reqwest::Client,
    token: String,
}

impl Dev {
    /// A `skein dev` whose `llm` steps call `llm` (an OpenAI-compatible API root).
    async fn start(llm: Option<&str>) -> Dev {
        let metrics = free_port();
        let process = spawn_dev(SECRET, |command| {
            command.env("SKEIN_METRICS_ADDR", format!("127.0.0.1:{metrics}"));
            if let Some(base) = llm {
                command
                    .env("SKEIN_LLM_BASE_URL", base)
                    .env("SKEIN_LLM_MODEL", "gpt-test")
                    .env(
                        "SKEIN_LLM_PRICES",
                        r#"{"gpt-test": {"input": 1000, "output": 2000}}"#,
                    );
            }
        })
        .await;
        let dev = Dev {
            base: process.base.clone(),
            metrics: format!("http://127.0.0.1:{metrics}/metrics"),
            http: reqwest::Client::new(),
            token: process.token.clone(),
            _process: process,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while dev.http.get(&dev.metrics).send().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "the metrics listener did not start"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        dev
    }

    async fn apply(&self, yaml: &str) {
        let response = self
            .http
            .post(format!("{}/v1/workflows", self.base))
            .bearer_auth(&self.token)
            .body(yaml.to_string())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }

    /// Starts a run and waits for its end (`?wait=`).
    async fn run(&self, workflow: &str) -> Value {
        let response = self
            .http
            .post(format!(
                "{}/v1/workflows/{workflow}/runs?wait=20",
                self.base
            ))
            .bearer_auth(&self.token)
            .json(&json!({"input": {}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }

    async fn scrape(&self) -> Scrape {
        let response = self.http.get(&self.metrics).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let text = response.text().await.unwrap();
        parse_prometheus(&text)
            .unwrap_or_else(|e| panic!("the scrape is not Prometheus text ({e:?}):\n{text}"))
    }
}

type Scrape = MetricsExposition<PrometheusType, PrometheusValue>;

/// The samples of family `name` whose labels include `labels`.
fn samples<'a>(
    scrape: &'a Scrape,
    name: &str,
    labels: &[(&str, &str)],
) -> Vec<&'a Sample<PrometheusValue>> {
    let Some(family) = scrape.families.get(name) else {
        return Vec::new();
    };
    family
        .iter_samples()
        .filter(|sample| {
            let set = sample
                .get_labelset()
                .expect("a sample of a family has labels");
            labels
                .iter()
                .all(|(k, v)| set.get_label_value(k) == Some(*v))
        })
        .collect()
}

/// The value of the one sample of `name` whose labels include `labels`, or 0.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching = samples(scrape, name, labels);
    assert!(
        matching.len() <= 1,
        "{name} {labels:?} names several series"
    );
    match matching.first().map(|s| &s.value) {
        None => 0.0,
        Some(PrometheusValue::Counter(c)) => c.value.as_f64(),
        Some(PrometheusValue::Gauge(v) | PrometheusValue::Unknown(v)) => v.as_f64(),
        Some(other) => panic!("{name} is not a single number: {other:?}"),
    }
}

/// The number of observations of histogram `name` with `labels`.
fn observations(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> u64 {
    samples(scrape, name, labels)
        .iter()
        .map(|s| match &s.value {
            PrometheusValue::Histogram(h) => h.count.expect("a histogram has a count"),
            other => panic!("{name} is not a histogram: {other:?}"),
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_and_move_with_runs_steps_and_requests() {
    let llm = chat_completions().await;
    let dev = Dev::start(Some(&llm)).await;
    let before = dev.scrape().await;
    assert_eq!(value(&before, "skein_runs_started_total", &[]), 0.0);

    dev.apply(DIAMOND).await;
    dev.apply(BROKEN).await;
    dev.apply(ASK).await;
    let run = dev.run("ask").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let run = dev.run("diamond").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let run = dev.run("broken").await;
    assert_eq!(run["status"], "failed", "{run}");
    let missing = dev
        .http
        .get(format!("{}/no/such/page", dev.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let after = dev.scrape().await;
    let diamond = [("workflow", "diamond")];
    assert_eq!(value(&after, "skein_runs_started_total", &diamond), 1.0);
    assert_eq!(
        value(
            &after,
            "skein_runs_ended_total",
            &[("workflow", "diamond"), ("status", "succeeded")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "skein_runs_ended_total",
            &[("workflow", "broken"), ("status", "failed")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "skein_step_attempts_total",
            &[("outcome", "succeeded")]
        ),
        5.0
    );
    assert_eq!(
        value(
            &after,
            "skein_step_attempts_total",
            &[("outcome", "failed")]
        ),
        1.0
    );
    assert_eq!(
        observations(
            &after,
            "skein_step_attempt_duration_seconds",
            &[("outcome", "succeeded")]
        ),
        5
    );
    let llm = |kind| {
        [
            ("provider", "openai"),
            ("model", "gpt-test"),
            ("kind", kind),
        ]
    };
    assert_eq!(value(&after, "skein_llm_tokens_total", &llm("input")), 9.0);
    assert_eq!(value(&after, "skein_llm_tokens_total", &llm("output")), 4.0);
    assert_eq!(value(&after, "skein_llm_tokens_total", &llm("cached")), 3.0);
    // Priced by SKEIN_LLM_PRICES: 9 x 1000 + 4 x 2000 micro-dollars.
    assert_eq!(
        value(
            &after,
            "skein_llm_cost_microdollars_total",
            &[("provider", "openai"), ("model", "gpt-test")]
        ),
        17000.0
    );
    assert_eq!(
        value(
            &after,
            "skein_llm_calls_total",
            &[
                ("provider", "openai"),
                ("model", "gpt-test"),
                ("outcome", "ok")
            ]
        ),
        1.0
    );

    let start = [
        ("method", "POST"),
        ("route", "/v1/workflows/{id}/runs"),
        ("status", "201"),
    ];
    assert_eq!(value(&after, "skein_http_requests_total", &start), 3.0);
    assert_eq!(
        observations(
            &after,
            "skein_http_request_duration_seconds",
            &[("method", "POST"), ("route", "/v1/workflows/{id}/runs")]
        ),
        3
    );
    // A path nobody routes is one series, whatever the path.
    assert_eq!(
        value(
            &after,
            "skein_http_requests_total",
            &[("method", "GET"), ("route", "unmatched"), ("status", "404")]
        ),
        1.0
    );
    let every_label_value = after.families.values().flat_map(|family| {
        family.iter_samples().flat_map(|sample| {
            let set = sample.get_labelset().unwrap();
            set.iter_values().cloned().collect::<Vec<_>>()
        })
    });
    assert!(
        !every_label_value
            .into_iter()
            .any(|v| v.contains("/no/such/page")),
        "a raw path became a label"
    );
    // Sampled at each scrape.
    assert_eq!(
        samples(&after, "skein_queue_depth", &[("queue", "messages")]).len(),
        1,
        "the messages queue's depth is reported"
    );
    assert_eq!(
        value(&after, "skein_queue_depth", &[("queue", "messages")]),
        0.0
    );
    assert!(
        !after.families["skein_runs_started_total"].help.is_empty(),
        "series carry their HELP text"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_a_constant_answer_and_deep_health_checks_each_component_for_admins() {
    let dev = Dev::start(None).await;
    let get = |path: &str, token: Option<&str>| {
        let mut request = dev.http.get(format!("{}{path}", dev.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let plain: Value = get("/v1/health", None).await.unwrap().json().await.unwrap();
    assert_eq!(plain, json!({"status": "ok"}));

    let deep = get("/v1/health?deep=1", Some(&dev.token)).await.unwrap();
    assert_eq!(deep.status(), 200);
    let report: Value = deep.json().await.unwrap();
    let components: Vec<_> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["component"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        components,
        [("store", "ok"), ("queue", "ok"), ("engine", "ok")],
        "{report}"
    );

    let anonymous = get("/v1/health?deep=1", None).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let unreadable = get("/v1/health?deep=maybe", None).await.unwrap();
    assert_eq!(unreadable.status(), 400);
}
