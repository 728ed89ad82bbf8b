//! The egress policy against real servers on loopback addresses this test owns: the
//! allowed one (127.0.0.1) and a "protected" one (127.0.0.2) standing in for an internal
//! service. Every way of naming the protected address must be refused before a request
//! reaches it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::routing::any;
use serde_json::{Value, json};
use skein_agents::{BuiltinSettings, Builtins, EgressPolicy};
use skein_core::ports::{AgentFailure, BuiltinAgents, BuiltinCall};

/// Serves `app` on `ip`, port 0; returns its port.
async fn serve(ip: &str, app: axum::Router) -> u16 {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

/// The protected service: counts every request that reaches it.
async fn protected() -> (Arc<AtomicUsize>, u16) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(any(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            "internal secrets"
        }
    }));
    (hits, serve("127.0.0.2", app).await)
}

fn builtins() -> Builtins {
    Builtins::new(BuiltinSettings {
        egress: EgressPolicy::parse("127.0.0.1/32").unwrap(),
        ..BuiltinSettings::default()
    })
}

async fn get(builtins: &Builtins, config: Value) -> Result<Value, AgentFailure> {
    builtins
        .invoke(BuiltinCall {
            name: "http".into(),
            config,
            input: json!({}),
            idempotency_key: "run:step:0".into(),
            timeout: Some(Duration::from_secs(5)),
            trace: None,
            deltas: None,
        })
        .await
        .map(|output| output.value)
}

fn assert_refused(outcome: Result<Value, AgentFailure>, ip: &str) {
    let failure = outcome.expect_err("the request must be refused");
    assert_eq!(failure.error.as_str(), "Skein.NonRetryable", "{failure:?}");
    assert!(
        failure.message.contains("egress policy")
            && failure.message.contains(ip)
            && failure.message.contains("SKEIN_HTTP_ALLOW"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn an_internal_address_is_refused_however_it_is_written() {
    let (hits, port) = protected().await;
    let b = builtins();
    for url in [
        format!("http://127.0.0.2:{port}/"),
        format!("http://2130706434:{port}/"),
        format!("http://0x7f000002:{port}/"),
        format!("http://[::ffff:127.0.0.2]:{port}/"),
        format!("http://[::ffff:7f00:2]:{port}/"),
    ] {
        let outcome = get(&b, json!({"url": url, "method": "GET", "retries": 0})).await;
        assert_refused(outcome, "127.0.0.2");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a request reached the service"
    );
}

#[tokio::test]
async fn a_host_name_that_resolves_to_an_internal_address_is_refused() {
    let b = Builtins::new(BuiltinSettings::default());
    let outcome = get(&b, json!({"url": "http://localhost:9/", "retries": 0})).await;
    let failure = outcome.unwrap_err();
    assert!(
        failure.message.contains("loopback") && failure.message.contains("SKEIN_HTTP_ALLOW"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn a_redirect_to_an_internal_address_is_refused_at_the_hop() {
    let (hits, port) = protected().await;
    let target = format!("http://127.0.0.2:{port}/");
    let app = axum::Router::new().fallback(any(move || {
        let target = target.clone();
        async move { (StatusCode::FOUND, [(header::LOCATION, target)], "") }
    }));
    let allowed = serve("127.0.0.1", app).await;
    let outcome = get(
        &builtins(),
        json!({"url": format!("http://127.0.0.1:{allowed}/"), "method": "GET", "retries": 0}),
    )
    .await;
    assert_refused(outcome, "127.0.0.2");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the redirect reached the service"
    );
}

#[tokio::test]
async fn an_allow_listed_address_is_reached() {
    let app = axum::Router::new().fallback(any(|| async { "ok" }));
    let port = serve("127.0.0.1", app).await;
    let out = get(
        &builtins(),
        json!({"url": format!("http://127.0.0.1:{port}/"), "method": "GET"}),
    )
    .await
    .unwrap();
    assert_eq!(out, json!({"status": 200, "body": "ok"}));
}

#[tokio::test]
async fn a_huge_response_is_cut_off_while_it_streams() {
    let app = axum::Router::new().fallback(any(|| async {
        let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 64 * 1024]));
        axum::body::Body::from_stream(futures_util::stream::iter(chunks))
    }));
    let port = serve("127.0.0.1", app).await;
    let failure = get(
        &builtins(),
        json!({"url": format!("http://127.0.0.1:{port}/"), "method": "GET"}),
    )
    .await
    .unwrap_err();
    assert_eq!(failure.error.as_str(), "Skein.NonRetryable");
    assert!(
        failure.message.contains("byte limit"),
        "{}",
        failure.message
    );
}

#[test]
fn routing_headers_and_year_long_timeouts_are_refused_at_registration() {
    let b = builtins();
    let problems = b
        .check(
            "http",
            Some(&json!({"url": "https://example.com", "headers": {"Host": "metadata"}})),
        )
        .unwrap_err();
    assert_eq!(problems[0].0, ".with.headers.Host");
    let problems = b
        .check(
            "http",
            Some(&json!({"url": "https://example.com", "timeout": "365d"})),
        )
        .unwrap_err();
    assert_eq!(problems[0].0, ".with.timeout");
}
