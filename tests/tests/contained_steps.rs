//! Tenant code in steps is contained: a jq program that loops or recurses forever fails
//! its own step and nothing else, and an `http` step reaches only what the egress policy
//! allows. Each attack runs against the real dev server.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use axum::routing::any;
use common::TestApp;
use serde_json::{Value, json};

/// Starts a run of a one-transform workflow and returns the finished run.
async fn run_transform(app: &TestApp, name: &str, program: &str) -> Value {
    app.apply_ok(&format!(
        "name: {name}\nsteps:\n  - id: spin\n    builtin: transform\n    timeout: 2s\n    with: {{ program: '{program}' }}\n"
    ))
    .await;
    let id = app.start_run(name, json!({})).await;
    app.finished_run(&id).await
}

/// Asks for `/v1/health` until `done` is set; returns the slowest answer. A request
/// that gets no answer within 10 s fails the test: the server stalled.
async fn watch_health(url: String, http: reqwest::Client, done: Arc<AtomicUsize>) -> Duration {
    let mut slowest = Duration::ZERO;
    while done.load(Ordering::SeqCst) == 0 {
        let started = Instant::now();
        let response = tokio::time::timeout(
            Duration::from_secs(10),
            http.get(format!("{url}/v1/health")).send(),
        )
        .await
        .expect("/v1/health answers while steps spin")
        .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    slowest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transform_that_never_ends_fails_its_step_while_the_server_keeps_answering() {
    let app = TestApp::spawn().await;
    let done = Arc::new(AtomicUsize::new(0));
    let health = tokio::spawn(watch_health(
        app.url.clone(),
        app.http.clone(),
        done.clone(),
    ));
    let run = run_transform(&app, "spin", "last(range(1e15))").await;
    done.store(1, Ordering::SeqCst);
    let slowest = health.await.expect("/v1/health kept answering");
    eprintln!("slowest /v1/health while the step spun: {slowest:?}");
    assert_eq!(run["status"], "failed", "{run:#}");
    let cause = run["error"]["cause"].as_str().unwrap();
    assert!(cause.contains("was stopped"), "{run:#}");
}

#[tokio::test]
async fn a_transform_that_recurses_forever_fails_its_step_not_the_process() {
    let app = TestApp::spawn().await;
    let run = run_transform(&app, "recurse", "def f: 1 + f; f").await;
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["error"]["error"], "Skein.NonRetryable", "{run:#}");
    assert!(
        run["error"]["cause"]
            .as_str()
            .unwrap()
            .contains("recursed too deeply"),
        "{run:#}"
    );
    let ok = run_transform(&app, "after", "{ok: true}").await;
    assert_eq!(
        ok["status"], "succeeded",
        "the server still runs steps: {ok:#}"
    );
}

/// A service on 127.0.0.2 standing in for an internal address; counts what reaches it.
async fn internal_service() -> (Arc<AtomicUsize>, u16) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(any(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            "internal"
        }
    }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.2", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (hits, port)
}

#[tokio::test]
async fn an_http_step_cannot_reach_an_address_outside_the_allow_list() {
    let app = TestApp::spawn_with(|args| {
        args.local.http_allow = skein_agents::EgressPolicy::parse("127.0.0.1/32").unwrap();
    })
    .await;
    let (hits, port) = internal_service().await;
    let redirector = {
        let target = format!("http://127.0.0.2:{port}/");
        let app = axum::Router::new().fallback(any(move || {
            let target = target.clone();
            async move { (StatusCode::FOUND, [(header::LOCATION, target)], "") }
        }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        port
    };
    let urls = [
        format!("http://127.0.0.2:{port}/"),
        format!("http://2130706434:{port}/"),
        format!("http://[::ffff:127.0.0.2]:{port}/"),
        format!("http://127.0.0.1:{redirector}/"),
    ];
    for (i, url) in urls.iter().enumerate() {
        let name = format!("reach-{i}");
        app.apply_ok(&format!(
            "name: {name}\nsteps:\n  - {{ id: call, builtin: http, with: {{ url: '{url}', method: GET, retries: 0 }} }}\n"
        ))
        .await;
        let id = app.start_run(&name, json!({})).await;
        let run = app.finished_run(&id).await;
        assert_eq!(run["status"], "failed", "{url}: {run:#}");
        let cause = run["error"]["cause"].as_str().unwrap();
        assert!(
            cause.contains("egress policy") && cause.contains("SKEIN_HTTP_ALLOW"),
            "{url}: {cause}"
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a step reached 127.0.0.2");
}

#[tokio::test]
async fn an_input_that_renders_too_large_fails_its_step_at_once_naming_it() {
    let app = TestApp::spawn().await;
    app.apply_ok(
        "
name: copies
steps:
  - { id: big, builtin: transform, with: { program: '\"x\" * 200000' } }
  - id: twice
    builtin: echo
    input: { a: '{{ steps.big.output }}', b: '{{ steps.big.output }}' }
    retry: { max_attempts: 3, backoff: 1s }
",
    )
    .await;
    let id = app.start_run("copies", json!({})).await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["error"]["error"], "Skein.NonRetryable");
    let cause = run["error"]["cause"].as_str().unwrap();
    assert!(
        cause.contains("step `twice`") && cause.contains("more than 262144 bytes"),
        "{cause}"
    );
    let attempts = common::step(&run, "twice")["attempts"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(attempts, 1, "a deterministic failure is not retried");
}
