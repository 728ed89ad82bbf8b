//! The edge Worker (functions/edge) in real workerd in front of a real `skein dev`: bad
//! tokens stop at the edge, good requests pass unchanged, rate limits hold across
//! connections, and watchers of a run get its events live from one origin feed.

mod agents;
mod stack;
mod watchers;

use std::time::{Duration, Instant};

use reqwest::Method;

use serde_json::{Value, json};
use skein_core::auth::{Principal, Role, TokenService, TokenSettings};
use skein_core::ids::{PrincipalId, TenantId};
use stack::{SECRET, Stack, claims, token_with};
use watchers::{Seen, SseWatcher, WsWatcher};

/// Look-alikes of the admin's token that the origin refuses, each for its own reason.
fn bad_tokens(admin: &str) -> Vec<(&'static str, String)> {
    let admin_claims = claims(admin);
    let principal = Principal {
        tenant: TenantId::parse(admin_claims["tenant"].as_str().unwrap()).unwrap(),
        id: PrincipalId::parse(admin_claims["sub"].as_str().unwrap()).unwrap(),
        roles: vec![Role::Admin],
    };
    let issuer = |audience: &str| {
        TokenService::new(
            skein_core::auth::KeyConfig::Hs256 {
                secret: SECRET.as_bytes().to_vec(),
            },
            TokenSettings {
                audience: audience.into(),
                ..TokenSettings::default()
            },
        )
        .unwrap()
    };
    let jti = || ulid::Ulid::new().to_string();
    let expired = issuer("skein-api")
        .issue_for(
            &principal,
            chrono::Utc::now() - chrono::Duration::hours(3),
            jti(),
            Duration::from_secs(60),
        )
        .unwrap()
        .access_token;
    let wrong_audience = issuer("someone-else")
        .issue(&principal, chrono::Utc::now(), jti())
        .unwrap()
        .access_token;
    let mut elevated = admin_claims.clone();
    elevated["tenant"] = json!("another-tenant");
    let signature = admin.rsplit('.').next().unwrap();
    let tampered = token_with(&json!({"alg": "HS256", "typ": "JWT"}), &elevated, signature);
    let unsigned = token_with(&json!({"alg": "none", "typ": "JWT"}), &admin_claims, "");
    vec![
        ("expired", expired),
        ("wrong-audience", wrong_audience),
        ("tampered", tampered),
        ("alg-none", unsigned),
        ("not-a-jwt", "not.a.jwt".into()),
    ]
}

async fn get(stack: &Stack, base: &str, path: &str, token: &str, id: &str) -> reqwest::Response {
    stack
        .http
        .get(stack.url(base, path))
        .bearer_auth(token)
        .header("x-request-id", id)
        .send()
        .await
        .unwrap()
}

/// Status, the headers a client reads, and the body.
async fn answer(response: reqwest::Response) -> (u16, Vec<(String, String)>, String) {
    let status = response.status().as_u16();
    let headers = [
        "content-type",
        "www-authenticate",
        "retry-after",
        "location",
        "x-request-id",
    ]
    .iter()
    .filter_map(|name| {
        response
            .headers()
            .get(*name)
            .map(|v| (name.to_string(), v.to_str().unwrap().to_string()))
    })
    .collect();
    (status, headers, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_refuses_bad_tokens_itself_and_passes_good_requests_unchanged() {
    let stack = Stack::start("1000/s", "10000/s").await;

    for (reason, token) in bad_tokens(&stack.admin) {
        let edge_id = format!("edge-refused-{reason}");
        let origin_id = format!("origin-refused-{reason}");
        let at_edge = answer(get(&stack, &stack.edge, "/v1/agents", &token, &edge_id).await).await;
        let at_origin =
            answer(get(&stack, &stack.origin, "/v1/agents", &token, &origin_id).await).await;
        assert_eq!(at_edge.0, 401, "{reason}: {at_edge:?}");
        // The same problem, challenge and body; only the request id differs (the
        // origin echoes the one it was sent; the edge sends none for its own refusals).
        let without_id = |(status, headers, body): &(u16, Vec<(String, String)>, String)| {
            let headers: Vec<_> = headers
                .iter()
                .filter(|(name, _)| name != "x-request-id")
                .cloned()
                .collect();
            (*status, headers, body.clone())
        };
        assert_eq!(without_id(&at_edge), without_id(&at_origin), "{reason}");
        assert_eq!(stack.origin_requests_with_id(&origin_id), 1, "{reason}");
        assert_eq!(
            stack.origin_requests_with_id(&edge_id),
            0,
            "{reason}: the origin saw a request the edge should have refused"
        );
    }

    // Good requests: what the edge answers is what the origin answers.
    let admin = &stack.admin;
    let created = stack
        .http
        .post(stack.url(&stack.edge, "/v1/agents"))
        .bearer_auth(admin)
        .header("x-request-id", "edge-create-agent")
        .json(&json!({"name": "edge-agent", "capabilities": ["summarize"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(
        created.headers()["x-request-id"],
        "edge-create-agent",
        "the origin's request id comes back through the edge"
    );
    assert_eq!(stack.origin_requests_with_id("edge-create-agent"), 1);
    let agent: Value = created.json().await.unwrap();
    let agent_id = agent["agent"]["id"].as_str().unwrap().to_string();
    // The token route's HTTP Basic credentials are not a bearer token: they go through.
    let credentials = &agent["credentials"];
    let issued = stack
        .http
        .post(stack.url(&stack.edge, "/v1/auth/token"))
        .basic_auth(
            credentials["client_id"].as_str().unwrap(),
            credentials["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), 200, "{:?}", issued.text().await);

    let task = stack
        .http
        .post(stack.url(&stack.edge, "/v1/tasks"))
        .bearer_auth(admin)
        .json(&json!({"capability": "summarize", "input": {"text": "hello"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(task.status(), 201, "{:?}", task.text().await);
    let task: Value = task.json().await.unwrap();

    let workflow = stack
        .http
        .post(stack.url(&stack.edge, "/v1/workflows"))
        .bearer_auth(admin)
        .body("name: edge-echo\nsteps:\n  - { id: hello, builtin: echo, input: { n: 1 } }\n")
        .send()
        .await
        .unwrap();
    assert_eq!(workflow.status(), 201);
    let run = stack
        .http
        .post(stack.url(&stack.edge, "/v1/workflows/edge-echo/runs?wait=5"))
        .bearer_auth(admin)
        .json(&json!({"input": {}}))
        .send()
        .await
        .unwrap();
    let run: Value = run.json().await.unwrap();
    assert_eq!(run["status"], "succeeded", "{run}");

    let paths = [
        format!("/v1/agents/{agent_id}"),
        format!("/v1/tasks/{}", task["id"].as_str().unwrap()),
        format!("/v1/runs/{}", run["id"].as_str().unwrap()),
        "/v1/workflows/edge-echo".to_string(),
        "/v1/agents?limit=5".to_string(),
        "/v1/agents/agt_01JD8X3Q4W5E6R7T8Y9V0K1M2N".to_string(),
    ];
    for (n, path) in paths.iter().enumerate() {
        let id = format!("same-{n}");
        let through_edge = answer(get(&stack, &stack.edge, path, admin, &id).await).await;
        let direct = answer(get(&stack, &stack.origin, path, admin, &id).await).await;
        assert_eq!(through_edge, direct, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_hold_across_connections_and_reset_after_retry_after() {
    let stack = Stack::start("5/s", "10000/s").await;
    // Two clients: two connections to the edge, one principal.
    let clients = [reqwest::Client::new(), reqwest::Client::new()];
    let mut refused = None;
    for n in 0..20 {
        let response = clients[n % 2]
            .get(stack.url(&stack.edge, "/v1/agents"))
            .bearer_auth(&stack.admin)
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            refused = Some((n, response));
            break;
        }
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["ratelimit-limit"], "5");
    }
    let (n, response) = refused.expect("20 requests at once were all admitted under 5/s");
    assert!(n >= 5, "refused after only {n} requests");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(response.headers()["ratelimit-remaining"], "0");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["type"], "urn:skein:problem:rate-limited",
        "{problem}"
    );
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let again = clients[1]
        .get(stack.url(&stack.edge, "/v1/agents"))
        .bearer_auth(&stack.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "still refused after Retry-After");
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_gets_messages_and_tasks_over_its_stream_and_answers_on_it() {
    let stack = Stack::start("1000/s", "10000/s").await;
    let agent = agents::register(&stack, "streamer").await;
    let other = agents::register(&stack, "bystander").await;

    // Only the agent itself may open its stream.
    let refused = agents::open_stream(&stack, &agent.id, &other.token).await;
    assert!(
        refused.unwrap_err().contains("403"),
        "another agent opened the stream"
    );
    let refused = agents::open_stream(&stack, &agent.id, &stack.admin).await;
    assert!(
        refused.unwrap_err().contains("403"),
        "a client opened an agent's stream"
    );
    let mut socket = agents::open_stream(&stack, &agent.id, &agent.token)
        .await
        .unwrap();
    // Let the object's long polls reach the origin before sending.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A message: pushed down the socket, acknowledged up it.
    let sent_at = Instant::now();
    let sent = stack
        .http
        .post(stack.url(&stack.edge, &format!("/v1/agents/{}/messages", agent.id)))
        .bearer_auth(&other.token)
        .json(&json!({"kind": "note", "payload": {"hello": "over the stream"}}))
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success(), "{:?}", sent.text().await);
    let (pushed, arrived) = agents::next_of(&mut socket, "message").await;
    eprintln!(
        "edge: a message reached its agent's stream {:?} after it was sent",
        arrived - sent_at
    );
    // An inbox entry, as GET /v1/agents/{id}/inbox gives it.
    let message = &pushed["message"]["message"];
    assert_eq!(
        message["payload"],
        json!({"hello": "over the stream"}),
        "{pushed}"
    );
    let message_id = message["id"].as_str().unwrap().to_string();
    agents::send(&mut socket, json!({"op": "ack", "id": message_id})).await;
    let (acked, _) = agents::next_of(&mut socket, "result").await;
    assert_eq!(acked["status"], 204, "{acked}");
    let inbox_url = stack.url(&stack.origin, &format!("/v1/agents/{}/inbox", agent.id));
    let (_, inbox) = stack
        .call(Method::GET, &inbox_url, &agent.token, None)
        .await;
    assert_eq!(
        inbox["messages"],
        json!([]),
        "the acknowledged message is still there"
    );

    // A task offer: pushed leased, completed up the socket.
    let offered_at = Instant::now();
    let (_, task) = stack
        .call(
            Method::POST,
            &stack.url(&stack.edge, "/v1/tasks"),
            &stack.admin,
            Some(json!({"agent": agent.id, "input": {"text": "stream me"}})),
        )
        .await;
    let (offer, arrived) = agents::next_of(&mut socket, "task").await;
    eprintln!(
        "edge: a task offer reached its agent's stream {:?} after it was created",
        arrived - offered_at
    );
    assert_eq!(offer["task"]["id"], task["id"], "{offer}");
    let lease = offer["task"]["lease_id"].clone();
    agents::send(
        &mut socket,
        json!({"op": "complete", "id": task["id"], "body": {"result": {"summary": "done"}, "lease_id": lease}}),
    )
    .await;
    let (completed, _) = agents::next_of(&mut socket, "result").await;
    assert_eq!(completed["status"], 200, "{completed}");
    let task_url = stack.url(
        &stack.origin,
        &format!("/v1/tasks/{}", task["id"].as_str().unwrap()),
    );
    let (_, finished) = stack.call(Method::GET, &task_url, &stack.admin, None).await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(finished["result"], json!({"summary": "done"}));

    // A command naming something that is not a task's id is refused at the edge.
    agents::send(
        &mut socket,
        json!({"op": "complete", "id": "../../agents", "body": {}}),
    )
    .await;
    let (error, _) = agents::next_of(&mut socket, "error").await;
    assert!(
        error["detail"].as_str().unwrap().contains("task id"),
        "{error}"
    );
}
