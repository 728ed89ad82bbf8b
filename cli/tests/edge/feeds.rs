//! Live run events at the edge: watchers over SSE and WebSocket, resuming, and who the
//! run's feed admits.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::bad_tokens;
use crate::stack::Stack;
use crate::watchers::{Seen, SseWatcher, WsWatcher};

const WATCHED: &str = "name: edge-watch
steps:
  - { id: first, builtin: echo, input: { n: 1 } }
  - { id: review, type: approval, depends_on: [first] }
  - { id: last, builtin: echo, input: { n: 2 }, depends_on: [review] }
";

async fn start_watched_run(stack: &Stack) -> String {
    let registered = stack
        .http
        .post(stack.url(&stack.origin, "/v1/workflows"))
        .bearer_auth(&stack.admin)
        .body(WATCHED)
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success());
    let (_, run) = stack
        .call(
            Method::POST,
            &stack.url(&stack.origin, "/v1/workflows/edge-watch/runs"),
            &stack.admin,
            Some(json!({"input": {}})),
        )
        .await;
    run["id"].as_str().unwrap().to_string()
}

/// The run's events as the origin lists them, once it ended.
async fn origin_events(stack: &Stack, run: &str) -> Vec<String> {
    let mut watcher = SseWatcher::open(
        &stack.http,
        &stack.url(&stack.origin, &format!("/v1/runs/{run}/events")),
        &stack.admin,
        None,
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    watcher.until_run_ends(&mut seen).await;
    seen.into_iter().map(|event| event.id).collect()
}

fn ids(seen: &[Seen]) -> Vec<String> {
    seen.iter().map(|event| event.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_at_the_edge_see_a_run_live_from_one_origin_feed() {
    let stack = Stack::start("1000/s", "10000/s").await;
    let run = start_watched_run(&stack).await;
    let events_path = format!("/v1/runs/{run}/events");
    let url = stack.url(&stack.edge, &events_path);

    // An SSE watcher and a WebSocket watcher from the start.
    let mut sse = SseWatcher::open(&stack.http, &url, &stack.admin, None)
        .await
        .unwrap();
    let mut ws = WsWatcher::open(&url, &stack.admin).await.unwrap();
    // A watcher that drops mid-run and comes back with Last-Event-ID.
    let mut resumer = SseWatcher::open(&stack.http, &url, &stack.admin, None)
        .await
        .unwrap();
    let mut resumed = Vec::new();
    while let Some(event) = resumer.next(Duration::from_secs(30)).await {
        let waiting = event.kind == "approval.requested";
        resumed.push(event);
        if waiting {
            break;
        }
    }
    drop(resumer);
    // Many more watchers of the same run.
    let mut crowd = Vec::new();
    for _ in 0..100 {
        crowd.push(
            SseWatcher::open(&stack.http, &url, &stack.admin, None)
                .await
                .unwrap(),
        );
    }

    let approved = stack
        .http
        .post(stack.url(&stack.edge, &format!("/v1/runs/{run}/steps/review/approve")))
        .bearer_auth(&stack.admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(
        approved.status().is_success(),
        "{:?}",
        approved.text().await
    );
    let approved_at = Instant::now();

    let last_seen = resumed.last().unwrap().id.clone();
    let mut resumer = SseWatcher::open(&stack.http, &url, &stack.admin, Some(&last_seen))
        .await
        .unwrap();
    let mut sse_seen = Vec::new();
    let mut ws_seen = Vec::new();
    sse.until_run_ends(&mut sse_seen).await;
    ws.until_run_ends(&mut ws_seen).await;
    resumer.until_run_ends(&mut resumed).await;

    let expected = origin_events(&stack, &run).await;
    assert!(expected.len() >= 6, "{expected:?}");
    assert_eq!(ids(&sse_seen), expected, "the SSE watcher through the edge");
    assert_eq!(
        ids(&ws_seen),
        expected,
        "the WebSocket watcher through the edge"
    );
    assert_eq!(
        ids(&resumed),
        expected,
        "the watcher that reconnected with Last-Event-ID missed or repeated events"
    );
    for (n, watcher) in crowd.iter_mut().enumerate() {
        let mut seen = Vec::new();
        watcher.until_run_ends(&mut seen).await;
        assert_eq!(ids(&seen), expected, "crowd watcher {n}");
    }
    // The WebSocket way to resume: `?after=<id>`, here once the run has ended.
    let mut late = WsWatcher::open(&format!("{url}?after={}", expected[2]), &stack.admin)
        .await
        .unwrap();
    let mut late_seen = Vec::new();
    late.until_run_ends(&mut late_seen).await;
    assert_eq!(
        ids(&late_seen),
        expected[3..],
        "a WebSocket resuming after an id"
    );
    let last = sse_seen.last().unwrap();
    assert_eq!(last.kind, "run.succeeded");
    eprintln!(
        "edge: run.succeeded reached the SSE watcher {:?} after the approval",
        last.at - approved_at
    );

    // The origin served one feed (plus the final listing above, made directly), and one
    // small admission read per watcher.
    let feeds = stack.origin_requests_for_route("/v1/runs/{id}/events");
    assert_eq!(
        feeds, 2,
        "the origin served {feeds} event feeds for 105 watchers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_feed_admits_only_those_the_origin_admits() {
    let stack = Stack::start("1000/s", "10000/s").await;
    let run = start_watched_run(&stack).await;
    let url = stack.url(&stack.edge, &format!("/v1/runs/{run}/events"));
    // No token, a bad token: the edge's 401.
    let no_token = stack.http.get(&url).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    for (reason, token) in bad_tokens(&stack.admin) {
        let refused = SseWatcher::open(&stack.http, &url, &token, None).await;
        assert_eq!(
            refused.err().map(|(status, _)| status),
            Some(401),
            "{reason}"
        );
        assert!(WsWatcher::open(&url, &token).await.is_err(), "{reason}");
    }
    // A run that does not exist: the origin's 404, relayed.
    let missing = stack.url(
        &stack.edge,
        "/v1/runs/run_01JD8X3Q4W5E6R7T8Y9V0K1M2N/events",
    );
    let refused = SseWatcher::open(&stack.http, &missing, &stack.admin, None).await;
    let (status, body) = refused.err().expect("a missing run was watched");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("urn:skein:problem:not-found"), "{body}");
}
