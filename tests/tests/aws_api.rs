//! The agent and task lifecycle through the API functions' handlers, called with API
//! Gateway v2 events (no socket), on DynamoDB in a real moto server; and the authorizer.

mod aws;

use aws::{Cloud, api_event, sample};
use serde_json::json;
use skein_core::auth::TokenService;
use skein_http::ApiGroup;

#[tokio::test]
async fn an_agent_registers_claims_a_task_and_completes_it_through_the_api_functions() {
    let cloud = Cloud::new().await;
    let (status, registered) = cloud
        .post(
            ApiGroup::Agents,
            &cloud.admin,
            "/v1/agents",
            json!({"name": "summarizer", "capabilities": ["summarize"]}),
        )
        .await;
    assert_eq!(status, 201, "{registered}");
    let agent_id = registered["agent"]["id"].as_str().unwrap();
    let secret = registered["credentials"]["client_secret"].as_str().unwrap();
    let (status, token) = cloud.exchange(agent_id, secret).await;
    assert_eq!(status, 200, "{token}");
    let agent = token["access_token"].as_str().unwrap();

    let (status, task) = cloud
        .post(
            ApiGroup::Tasks,
            &cloud.admin,
            "/v1/tasks",
            json!({"capability": "summarize", "input": {"text": "hello"}}),
        )
        .await;
    assert_eq!(
        (status, task["status"].clone()),
        (201, json!("queued")),
        "{task}"
    );
    let task_id = task["id"].as_str().unwrap();

    let (status, claimed) = cloud
        .post(
            ApiGroup::Tasks,
            agent,
            &format!("/v1/agents/{agent_id}/tasks/claim?wait=0"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(claimed["id"], task["id"]);
    let lease = claimed["lease"]["id"].clone();

    let (status, beat) = cloud
        .post(
            ApiGroup::Tasks,
            agent,
            &format!("/v1/tasks/{task_id}/heartbeat"),
            json!({"lease_id": lease}),
        )
        .await;
    assert_eq!(status, 200, "{beat}");
    let (status, done) = cloud
        .post(
            ApiGroup::Tasks,
            agent,
            &format!("/v1/tasks/{task_id}/complete"),
            json!({"result": {"summary": "hi"}, "lease_id": lease}),
        )
        .await;
    assert_eq!(
        (status, done["status"].clone()),
        (200, json!("succeeded")),
        "{done}"
    );

    let (_, fetched) = cloud
        .get(ApiGroup::Tasks, &format!("/v1/tasks/{task_id}"))
        .await;
    assert_eq!(fetched["result"], json!({"summary": "hi"}));
    let (_, agents) = cloud
        .get(ApiGroup::Agents, "/v1/agents?capability=summarize")
        .await;
    assert_eq!(agents["items"][0]["id"], json!(agent_id), "{agents}");
}

#[tokio::test]
async fn each_api_function_serves_only_its_own_routes_and_refuses_missing_tokens() {
    let cloud = Cloud::new().await;
    let (status, problem) = cloud.get(ApiGroup::Tasks, "/v1/agents").await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(
        problem["type"],
        json!("urn:skein:problem:not-found"),
        "{problem}"
    );

    let (status, problem) = cloud
        .api(ApiGroup::Tasks, api_event("GET", "/v1/tasks", None, None))
        .await;
    assert_eq!(status, 401, "{problem}");

    let (status, problem) = cloud
        .post(
            ApiGroup::Tasks,
            &cloud.admin,
            "/v1/tasks",
            json!("{not json"),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    let (status, _) = cloud
        .api(ApiGroup::Agents, sample("api-agents/health.json"))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn every_api_sample_event_reaches_a_handler_of_its_function() {
    let cloud = Cloud::new().await;
    for (group, file) in [
        (ApiGroup::Agents, "api-agents/register-agent.json"),
        (ApiGroup::Tasks, "api-tasks/create-task.json"),
        (ApiGroup::Workflows, "api-workflows/register-workflow.json"),
        (ApiGroup::Workflows, "api-workflows/list-workflows.json"),
        (ApiGroup::Runs, "api-runs/start-run.json"),
        (ApiGroup::Runs, "api-runs/list-runs.json"),
        (ApiGroup::Messages, "api-messages/broadcast.json"),
    ] {
        let mut event = sample(file);
        event["headers"]["authorization"] = json!(format!("Bearer {}", cloud.admin));
        let (status, body) = cloud.api(group, event).await;
        assert!((200..300).contains(&status), "{file}: {status} {body}");
    }
}

#[tokio::test]
async fn the_authorizer_lets_valid_tokens_through_with_their_tenant_and_refuses_the_rest() {
    let cloud = Cloud::new().await;
    let settings = skein_lambda::AuthSettings::from_lookup(&|name| {
        (name == "SKEIN_JWT_SECRET").then(|| "moto-tests-secret-of-at-least-32-bytes".to_string())
    })
    .unwrap();
    let tokens = TokenService::new(settings.keys, settings.tokens).unwrap();
    let request = |token: &str| {
        let mut event = sample("authorizer/request.json");
        event["identitySource"] = json!([format!("Bearer {token}")]);
        serde_json::from_value(event).unwrap()
    };
    let allowed = skein_lambda::authorizer::authorize(&tokens, &request(&cloud.admin));
    assert!(allowed.is_authorized);
    assert_eq!(allowed.context.tenant, "acme");
    assert_eq!(allowed.context.roles, "admin");

    let tampered = format!("{}x", cloud.admin);
    assert!(!skein_lambda::authorizer::authorize(&tokens, &request(&tampered)).is_authorized);
    let unsigned = sample("authorizer/request.json");
    assert!(
        !skein_lambda::authorizer::authorize(&tokens, &serde_json::from_value(unsigned).unwrap())
            .is_authorized
    );
}

#[tokio::test]
async fn forged_cursors_and_oversized_idempotency_keys_are_400s_on_dynamodb_not_500s() {
    use base64::Engine as _;
    let cloud = Cloud::new().await;
    for position in [
        json!({"pk": "T#other#AGENT#x", "sk": "", "index_sk": "x"}),
        json!({"pk": "x".repeat(3000), "sk": "#", "index_sk": "x"}),
        json!({"pk": "T#t#AGENT#x", "sk": "#", "index_sk": "y".repeat(2000)}),
    ] {
        let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&position).unwrap());
        let (status, body) = cloud
            .get(ApiGroup::Agents, &format!("/v1/agents?cursor={cursor}"))
            .await;
        assert_eq!(status, 400, "{position}: {body}");
    }
    let (status, body) = cloud
        .post(
            ApiGroup::Workflows,
            &cloud.admin,
            "/v1/workflows",
            json!("name: once\nsteps:\n  - { id: a, builtin: echo }\n"),
        )
        .await;
    assert!(status == 201 || status == 200, "{body}");
    let mut event = api_event(
        "POST",
        "/v1/workflows/once/runs",
        Some(&cloud.admin),
        Some(json!({"input": {}})),
    );
    event["headers"]["idempotency-key"] = json!("k".repeat(2048));
    let (status, body) = cloud.api(ApiGroup::Runs, event).await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn an_admins_deep_health_check_reaches_dynamodb_sqs_and_step_functions() {
    let cloud = Cloud::new().await;
    let (status, plain) = cloud
        .api(ApiGroup::Agents, api_event("GET", "/v1/health", None, None))
        .await;
    assert_eq!((status, plain), (200, json!({"status": "ok"})));

    let (status, report) = cloud.get(ApiGroup::Agents, "/v1/health?deep=1").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["status"], "ok", "{report}");
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
    assert_eq!(report["checks"][1]["messages"], 0, "{report}");

    let (status, refused) = cloud
        .api(
            ApiGroup::Agents,
            api_event("GET", "/v1/health?deep=1", None, None),
        )
        .await;
    assert_eq!(status, 401, "{refused}");
}
