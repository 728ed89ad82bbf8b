//! Credentials that can be revoked and cannot be locked out: failed logins slow down
//! only the source that fails; deleting or pausing an agent or client, or rotating its
//! secret, stops its tokens at once for every action and read; admins list, delete and
//! rotate clients.

mod common;

use common::{TestAgent, TestApp, assert_problem};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A client whose requests come from 127.0.0.2: another source address than the tests'.
fn from_other_address() -> reqwest::Client {
    reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn exchange_with(
    http: &reqwest::Client,
    app: &TestApp,
    id: &str,
    secret: &str,
) -> StatusCode {
    http.post(format!("{}/v1/auth/token", app.url))
        .json(&json!({"client_id": id, "client_secret": secret}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secrets_slow_down_their_source_but_never_lock_the_client_out() {
    let app = TestApp::spawn().await;
    let admin = app.seeded_admin.clone();
    let attacker = from_other_address();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(exchange_with(&attacker, &app, &admin.client_id, "sks_guess").await);
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert_eq!(statuses[11], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    let response = attacker
        .post(format!("{}/v1/auth/token", app.url))
        .json(&json!({"client_id": admin.client_id, "client_secret": admin.client_secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the failing source waits"
    );
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_problem(&body, StatusCode::TOO_MANY_REQUESTS, "rate-limited");

    let (status, body) = app.exchange(&admin.client_id, &admin.client_secret).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the admin's own address still gets in: {body}"
    );
}

#[tokio::test]
async fn a_malformed_client_id_is_refused_with_what_a_client_id_looks_like() {
    let app = TestApp::spawn().await;
    let (status, body) = app.exchange("admin' OR 1=1", "x").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["detail"].as_str().unwrap().contains("cli_"), "{body}");
}

async fn claimed_task(app: &TestApp, agent: &TestAgent) -> (String, Value) {
    let task = app.create_task(json!({"agent": agent.id})).await;
    let (status, claimed) = app.claim(agent, 0).await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    (task["id"].as_str().unwrap().to_string(), claimed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_agents_token_stops_working_for_every_action_and_read() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("doomed", &["x"]).await;
    let (task, claimed) = claimed_task(&app, &agent).await;
    assert_eq!(
        app.delete(&app.admin, &format!("/v1/agents/{}", agent.id))
            .await,
        StatusCode::NO_CONTENT
    );

    let (status, body) = app
        .post(
            &agent.token,
            &format!("/v1/tasks/{task}/complete"),
            json!({"result": {}, "lease_id": claimed["lease"]["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "complete: {body}");
    assert_problem(&body, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (status, _) = app
        .get(&agent.token, &format!("/v1/agents/{}/inbox", agent.id))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "inbox");
    assert_eq!(
        app.exchange(&agent.id, &agent.secret).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_an_agent_stops_its_tokens_and_resuming_needs_a_new_token() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("napper", &["x"]).await;
    let agent_path = format!("/v1/agents/{}", agent.id);
    let patch = |status: &str| {
        app.call(
            reqwest::Method::PATCH,
            &agent_path,
            Some(&app.admin),
            Some(json!({"status": status})),
        )
    };
    assert_eq!(patch("paused").await.0, StatusCode::OK);
    let heartbeat = format!("/v1/agents/{}/heartbeat", agent.id);
    assert_eq!(
        app.post(&agent.token, &heartbeat, json!({})).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = app.exchange(&agent.id, &agent.secret).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a paused agent gets no token: {body}"
    );

    assert_eq!(patch("active").await.0, StatusCode::OK);
    assert_eq!(
        app.post(&agent.token, &heartbeat, json!({})).await.0,
        StatusCode::UNAUTHORIZED,
        "tokens from before the pause stay dead"
    );
    let (status, fresh) = app.exchange(&agent.id, &agent.secret).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    let token = fresh["access_token"].as_str().unwrap();
    assert_eq!(
        app.post(token, &heartbeat, json!({})).await.0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_a_secret_stops_the_old_secret_and_its_tokens_at_once() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("rotor", &["x"]).await;
    let (status, rotated) = app
        .post(
            &app.admin,
            &format!("/v1/agents/{}/secret", agent.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, agent.secret);
    let heartbeat = format!("/v1/agents/{}/heartbeat", agent.id);
    assert_eq!(
        app.post(&agent.token, &heartbeat, json!({})).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.exchange(&agent.id, &agent.secret).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, fresh) = app.exchange(&agent.id, new_secret).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    let token = fresh["access_token"].as_str().unwrap();
    assert_eq!(
        app.post(token, &heartbeat, json!({})).await.0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_list_rotate_and_delete_clients_and_a_deleted_clients_token_dies() {
    let app = TestApp::spawn().await;
    let (status, created) = app
        .post(
            &app.admin,
            "/v1/clients",
            json!({"roles": ["operator"], "description": "ci"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["client_id"].as_str().unwrap().to_string();
    let (_, token) = app
        .exchange(&id, created["client_secret"].as_str().unwrap())
        .await;
    let operator = token["access_token"].as_str().unwrap().to_string();

    let (status, listed) = app.get(&app.admin, "/v1/clients").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let listed = listed["items"].as_array().unwrap();
    let entry = listed
        .iter()
        .find(|c| c["client_id"] == id.as_str())
        .expect("listed");
    assert_eq!(entry["roles"], json!(["operator"]));
    assert!(entry.get("secret_hash").is_none(), "{entry}");
    assert_eq!(
        app.get(&operator, "/v1/clients").await.0,
        StatusCode::FORBIDDEN
    );

    let (status, rotated) = app
        .post(&app.admin, &format!("/v1/clients/{id}/secret"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(
        app.get(&operator, "/v1/agents").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, token) = app
        .exchange(&id, rotated["client_secret"].as_str().unwrap())
        .await;
    let operator = token["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.get(&operator, "/v1/agents").await.0, StatusCode::OK);

    let path = format!("/v1/clients/{id}");
    assert_eq!(app.delete(&app.admin, &path).await, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&operator, "/v1/agents").await.0,
        StatusCode::UNAUTHORIZED
    );
    let path = format!("/v1/clients/{id}");
    assert_eq!(app.delete(&app.admin, &path).await, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_without_a_token_are_limited_per_source_address_except_health() {
    let app = TestApp::spawn_with(|args| {
        args.rate_source = skein_cli::config::RateOrOff(Some("5/m".parse().unwrap()));
    })
    .await;
    let other = from_other_address();
    let info = format!("{}/v1/info", app.url);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(other.get(&info).send().await.unwrap().status());
    }
    assert_eq!(statuses[..5], [StatusCode::OK; 5], "{statuses:?}");
    let refused = other.get(&info).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(
        exchange_with(&other, &app, "cli_01M7ZDNXVHNS4SDK4KZBA72F5A", "x").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the token endpoint is limited too"
    );
    let health = format!("{}/v1/health", app.url);
    for _ in 0..10 {
        assert_eq!(
            other.get(&health).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    let mine = app.http.get(&info).send().await.unwrap();
    assert_eq!(
        mine.status(),
        StatusCode::OK,
        "another address is unaffected"
    );
}
