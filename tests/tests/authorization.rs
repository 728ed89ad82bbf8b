//! Authorization over HTTP: roles, agents' own tasks, and tenant isolation.

mod common;

use common::{SECRET, TestApp, claims, forge};
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_crosses_tenants() {
    let app = TestApp::spawn().await;
    let agent = app.register_agent("home", &["x"]).await;
    let task = app.create_task(json!({"agent": agent.id})).await;
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let outsider = forge(
        &claims(
            "other-tenant",
            "cli_01M7ZDNXVHNS4SDK4KZBA72F5A",
            &["admin"],
            "skein-api",
            60,
        ),
        Algorithm::HS256,
        &key,
    );

    assert_eq!(
        app.get(&outsider, &format!("/v1/agents/{}", agent.id))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(
            &outsider,
            &format!("/v1/tasks/{}", task["id"].as_str().unwrap())
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (_, agents) = app.get(&outsider, "/v1/agents").await;
    assert_eq!(agents["items"], json!([]));
    let (_, tasks) = app.get(&outsider, "/v1/tasks").await;
    assert_eq!(tasks["items"], json!([]));
    let (status, body) = app
        .post(&outsider, "/v1/tasks", json!({"agent": agent.id}))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another tenant's agent does not exist here: {body}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cannot_touch_another_agents_tasks() {
    let app = TestApp::spawn().await;
    let alice = app.register_agent("alice", &["a"]).await;
    let bob = app.register_agent("bob", &["b"]).await;
    let task = app.create_task(json!({"agent": alice.id})).await;
    let id = task["id"].as_str().unwrap();
    let (_, claimed) = app.claim(&alice, 0).await;
    assert_eq!(claimed["id"], task["id"]);

    for (path, body) in [
        (
            format!("/v1/tasks/{id}/complete"),
            json!({"result": "stolen"}),
        ),
        (
            format!("/v1/tasks/{id}/fail"),
            json!({"error": {"code": "x", "message": "y"}}),
        ),
        (format!("/v1/tasks/{id}/heartbeat"), json!({})),
        (
            format!("/v1/agents/{}/tasks/claim?wait=0", alice.id),
            json!({}),
        ),
        (format!("/v1/agents/{}/heartbeat", alice.id), json!({})),
    ] {
        let (status, problem) = app.post(&bob.token, &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {problem}");
    }
    assert_eq!(
        app.get(&bob.token, &format!("/v1/tasks/{id}")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&bob.token, &format!("/v1/tasks?agent={}", alice.id))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (_, own) = app.get(&bob.token, "/v1/tasks").await;
    assert_eq!(
        own["items"],
        json!([]),
        "an agent's listing shows only its own tasks"
    );
    let (_, alices) = app.get(&alice.token, "/v1/tasks").await;
    assert_eq!(alices["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get(&alice.token, &format!("/v1/tasks/{id}")).await.0,
        StatusCode::OK
    );

    assert_eq!(
        app.post(&bob.token, "/v1/tasks", json!({"agent": bob.id}))
            .await
            .0,
        StatusCode::FORBIDDEN,
        "agents do not create tasks"
    );
    assert_eq!(
        app.get(&bob.token, "/v1/agents").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&bob.token, &format!("/v1/agents/{}", bob.id))
            .await
            .0,
        StatusCode::OK,
        "an agent reads itself"
    );
    let (_, task) = app.get(&app.admin, &format!("/v1/tasks/{id}")).await;
    assert_eq!(
        (task["status"].clone(), task["result"].clone()),
        (json!("claimed"), json!(null)),
        "nothing bob did changed it"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_create_and_read_but_only_admins_manage() {
    let app = TestApp::spawn().await;
    let (status, operator) = app
        .post(
            &app.admin,
            "/v1/clients",
            json!({"roles": ["operator"], "description": "ci"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{operator}");
    let (_, token) = app
        .exchange(
            operator["client_id"].as_str().unwrap(),
            operator["client_secret"].as_str().unwrap(),
        )
        .await;
    let operator = token["access_token"].as_str().unwrap().to_string();

    let (status, registered) = app
        .post(&operator, "/v1/agents", json!({"name": "by-operator"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let agent_path = format!("/v1/agents/{}", registered["agent"]["id"].as_str().unwrap());
    assert_eq!(
        app.post(&operator, "/v1/tasks", json!({"capability": "any"}))
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(app.get(&operator, "/v1/tasks").await.0, StatusCode::OK);

    let (status, body) = app
        .call(Method::DELETE, &agent_path, Some(&operator), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["detail"], "only admin may delete agents");
    assert_eq!(
        app.call(
            Method::PATCH,
            &agent_path,
            Some(&operator),
            Some(json!({"status": "paused"}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(&operator, "/v1/clients", json!({"roles": ["admin"]}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = app
        .post(&app.admin, "/v1/clients", json!({"roles": ["agent"]}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    app.stop().await;
}
