//! A template that drifts from the code is caught: an action taken away, a permission the
//! code never uses, a missing variable, route or event source, a buffering run-events URL,
//! the LLM key or a token setting given where nothing reads it.

mod templates;

use skein_tests::deploy;
use templates::{assert_caught, expected, read_sam, read_terraform};

#[tokio::test]
async fn an_action_removed_from_a_policy_is_caught() {
    let expected = expected().await;
    let start = r#"states_start     = ["states:StartExecution"]"#;
    let terraform = read_terraform(|s| {
        assert!(s.contains(start));
        s.replace(start, "states_start = []")
    });
    let problems = deploy::check("terraform", &terraform, &expected);
    assert_caught(
        &problems,
        "api-runs may not call states:StartExecution on StateMachines",
    );
    assert_caught(&problems, "scheduler may not call states:StartExecution");

    // In SAM, from the api-runs role only.
    let sam = read_sam(|s| {
        let line = "                  - states:StartExecution\n";
        let role = s.find("  ApiRunsRole:").unwrap();
        let at = role + s[role..].find(line).unwrap();
        format!("{}{}", &s[..at], &s[at + line.len()..])
    });
    let problems = deploy::check("SAM", &sam, &expected);
    assert_caught(
        &problems,
        "SAM: api-runs may not call states:StartExecution",
    );
    assert!(
        !problems.iter().any(|p| p.contains("scheduler")),
        "{problems:?}"
    );
}

#[tokio::test]
async fn a_run_events_url_that_buffers_is_caught() {
    let expected = expected().await;
    let streaming = r#"invoke_mode        = "RESPONSE_STREAM""#;
    let terraform = read_terraform(|s| {
        assert!(s.contains(streaming));
        s.replace(streaming, r#"invoke_mode = "BUFFERED""#)
    });
    let problems = deploy::check("terraform", &terraform, &expected);
    assert_caught(
        &problems,
        "api-run-events has no function URL with InvokeMode RESPONSE_STREAM",
    );
    let sam = read_sam(|s| s.replace("InvokeMode: RESPONSE_STREAM", "InvokeMode: BUFFERED"));
    let problems = deploy::check("SAM", &sam, &expected);
    assert_caught(
        &problems,
        "api-run-events has no function URL with InvokeMode RESPONSE_STREAM",
    );
}

#[tokio::test]
async fn a_permission_the_code_never_uses_is_caught() {
    let expected = expected().await;
    let terraform = read_terraform(|s| {
        s.replacen(
            "Table = local.actions.dynamodb\n",
            "Table = local.actions.dynamodb\nMessageQueue = local.actions.sqs_send\n",
            1,
        )
    });
    let problems = deploy::check("terraform", &terraform, &expected);
    assert_caught(
        &problems,
        "api-tasks has a `MessageQueue` statement its code does not need",
    );
}

#[tokio::test]
async fn a_missing_variable_route_or_event_source_is_caught() {
    let expected = expected().await;
    let sam = read_sam(|s| {
        s.replace("        SKEIN_MESSAGE_QUEUE_URL: !Ref MessageQueue\n", "")
            .replace("              - ReportBatchItemFailures\n", "")
    });
    let problems = deploy::check("SAM", &sam, &expected);
    assert_caught(
        &problems,
        "SAM: api-agents does not set SKEIN_MESSAGE_QUEUE_URL",
    );
    assert_caught(
        &problems,
        "step-worker's queue event source does not report per-message failures",
    );

    // The token settings back in the globals: every function, the step-worker included,
    // would hold them.
    let sam = read_sam(|s| {
        s.replacen(
            "        SKEIN_NAME_PREFIX: !Ref NamePrefix\n",
            "        SKEIN_NAME_PREFIX: !Ref NamePrefix\n        SKEIN_JWT_PUBLIC_KEY: !Ref JwtPublicKey\n        SKEIN_JWT_PRIVATE_KEY: !Ref JwtPrivateKey\n",
            1,
        )
    });
    let problems = deploy::check("SAM", &sam, &expected);
    assert_caught(
        &problems,
        "SAM: step-worker is given SKEIN_JWT_PRIVATE_KEY, a token signing key, but issues no tokens",
    );
    assert_caught(
        &problems,
        "SAM: scheduler is given SKEIN_JWT_PUBLIC_KEY, a token setting, but serves no API",
    );

    let terraform = read_terraform(|s| {
        s.replace(
            r#""POST /v1/runs/{id}/cancel""#,
            r#""POST /v1/runs/{id}/stop""#,
        )
        .replace(
            "SKEIN_JWT_PUBLIC_KEY    = var.jwt_public_key",
            "SKEIN_JWT_PUBLIC_KEY    = var.jwt_public_key\n    SKEIN_JWT_SECRET        = var.jwt_public_key",
        )
    });
    let problems = deploy::check("terraform", &terraform, &expected);
    assert_caught(
        &problems,
        "terraform: no route for POST /v1/runs/{id}/cancel",
    );
    assert_caught(
        &problems,
        "routes POST /v1/runs/{id}/stop, which the API does not serve",
    );
    assert_caught(
        &problems,
        "terraform: authorizer is given SKEIN_JWT_SECRET, a token signing key, but issues no tokens",
    );
}

#[tokio::test]
async fn the_llm_key_given_to_a_function_without_builtins_is_caught() {
    let expected = expected().await;
    // Back in the globals, every function would hold the key.
    let sam = read_sam(|s| {
        s.replacen(
            "        SKEIN_NAME_PREFIX: !Ref NamePrefix\n",
            "        SKEIN_NAME_PREFIX: !Ref NamePrefix\n        SKEIN_LLM_API_KEY: !Ref LlmApiKey\n",
            1,
        )
    });
    let problems = deploy::check("SAM", &sam, &expected);
    assert_caught(
        &problems,
        "SAM: api-runs is given SKEIN_LLM_API_KEY, a builtin agents' variable, but links no builtins",
    );
    assert!(
        !problems.iter().any(|p| p.contains("step-worker is given")),
        "{problems:?}"
    );
}
