//! Approvals are controls an admin puts in front of work: an operator may register new
//! versions of a workflow, but not ones that remove, change or add an approval, or that
//! take a step out from behind one.

mod common;

use common::{TestApp, assert_problem};
use reqwest::StatusCode;
use serde_json::json;

const GUARDED: &str = "
name: payout
steps:
  - { id: draft, builtin: echo }
  - { id: review, type: approval, depends_on: [draft], approval: { message: 'Pay?' } }
  - { id: pay, builtin: echo, depends_on: [review] }
";

async fn operator(app: &TestApp) -> String {
    let (status, created) = app
        .post(&app.admin, "/v1/clients", json!({"roles": ["operator"]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, token) = app
        .exchange(
            created["client_id"].as_str().unwrap(),
            created["client_secret"].as_str().unwrap(),
        )
        .await;
    token["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_operator_cannot_remove_or_bypass_an_approval_an_admin_put_in_front_of_a_payment() {
    let app = TestApp::spawn().await;
    app.apply_ok(GUARDED).await;
    let operator = operator(&app).await;
    let attempts = [
        (
            "removed",
            "name: payout\nsteps:\n  - { id: draft, builtin: echo }\n  - { id: pay, builtin: echo, depends_on: [draft] }\n",
        ),
        (
            "bypassed",
            "name: payout\nsteps:\n  - { id: draft, builtin: echo }\n  - { id: review, type: approval, depends_on: [draft], approval: { message: 'Pay?' } }\n  - { id: pay, builtin: echo, depends_on: [draft] }\n",
        ),
        (
            "changed",
            "name: payout\nsteps:\n  - { id: draft, builtin: echo }\n  - { id: review, type: approval, depends_on: [draft], approval: { message: 'Pay?', timeout: 1s } }\n  - { id: pay, builtin: echo, depends_on: [review] }\n",
        ),
    ];
    for (what, yaml) in attempts {
        let (status, body) = app.apply_as(&operator, yaml).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
        assert_problem(&body, status, "forbidden");
        assert!(
            body["detail"].as_str().unwrap().contains("only admins"),
            "{what}: {body}"
        );
    }
    let (_, versions) = app.get(&app.admin, "/v1/workflows/payout/versions").await;
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");

    let (status, body) = app
        .apply_as(
            &operator,
            &format!("{GUARDED}  - {{ id: receipt, builtin: echo, depends_on: [pay] }}\n"),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "other changes stay open to operators: {body}"
    );

    let (status, body) = app
        .apply_as(
            &app.admin,
            "name: payout\nsteps:\n  - { id: pay, builtin: echo }\n",
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "admins may change approvals: {body}"
    );
}
