//! The edge Worker (functions/edge) in real workerd in front of a real `skein dev`: bad
//! tokens stop at the edge, good requests pass unchanged, rate limits hold across
//! connections (here); watchers of a run get its events live from one origin feed
//! (feeds.rs); agents get their messages and tasks over a WebSocket (agents.rs); the web
//! console is served beside the API as static assets (console.rs).

#[path = "../support/mod.rs"]
mod support;

mod agents;
mod console;
mod feeds;
mod stack;
mod watchers;

use std::time::Duration;

use serde_json::{Value, json};
use skein_core::auth::{Principal, Role, TokenService, TokenSettings};
use skein_core::ids::{PrincipalId, TenantId};
use stack::{SECRET, Stack, claims, token_with};

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
