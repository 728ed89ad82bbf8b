//! The deployment templates agree with the code: every `functions/` crate is deployed by
//! Terraform and by SAM, with every variable it reads at start, allowed exactly the AWS
//! actions its code calls (on the resources it calls them on), and reached by the event
//! sources it expects. That the check fails when a template drifts is `deploy_drift.rs`.

mod templates;

use std::collections::BTreeSet;

use skein_cli::aws_local::gateway::function_of;
use skein_tests::deploy::{self, Deployment};
use templates::{
    assert_agrees, assert_caught, expected, expected_routes, read_sam, read_terraform, repo,
};

#[tokio::test]
async fn terraform_deploys_every_function_with_what_its_code_needs() {
    let expected = expected().await;
    assert_eq!(expected.crates.len(), 10);
    assert_agrees("terraform", &read_terraform(|s| s), &expected);
}

#[tokio::test]
async fn sam_deploys_every_function_with_what_its_code_needs() {
    let expected = expected().await;
    assert_agrees("SAM", &read_sam(|s| s), &expected);
}

/// `skein aws local` serves the API's routes on one address, sending each to a function by
/// its OpenAPI tag: the same function the deployment routes it to.
#[tokio::test]
async fn the_local_clouds_routes_go_where_the_deployments_do() {
    use skein_cli::aws_local::gateway::RouteTable;
    let table = RouteTable::from_openapi();
    for (route, expected) in expected_routes().await {
        let (method, path) = route.split_once(' ').unwrap();
        let concrete = path.replace(['{', '}'], "");
        let group = table
            .group(&method.parse().unwrap(), &concrete)
            .unwrap_or_else(|| panic!("the local gateway has no route for {route}"));
        assert_eq!(function_of(group), expected.function, "{route}");
    }
}

/// The local cloud's queues are set up as the Terraform's defaults set the real ones.
#[test]
fn the_local_clouds_queue_settings_are_the_terraform_defaults() {
    use skein_cli::aws_local::provision::{
        MESSAGE_MAX_RECEIVES, MESSAGE_ROUTER_TIMEOUT_SECONDS, STEP_MAX_RECEIVES,
        STEP_WORKER_TIMEOUT_SECONDS,
    };
    let root = skein_tests::deploy::terraform::read_dir(&repo().join("terraform")).unwrap();
    let default_of = |name: &str| -> u64 {
        root.blocks()
            .find(|b| b.identifier() == "variable" && b.labels()[0].as_str() == name)
            .and_then(|b| {
                b.body()
                    .attributes()
                    .find(|a| a.key() == "default")
                    .map(|a| a.expr().to_string())
            })
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("variable {name} has a number default"))
    };
    assert_eq!(
        default_of("step_max_receives"),
        u64::from(STEP_MAX_RECEIVES)
    );
    assert_eq!(
        default_of("message_max_receives"),
        u64::from(MESSAGE_MAX_RECEIVES)
    );
    assert_eq!(
        default_of("step_worker_timeout"),
        u64::from(STEP_WORKER_TIMEOUT_SECONDS)
    );
    let functions = std::fs::read_to_string(repo().join("terraform/functions.tf")).unwrap();
    let router = &functions[functions.find("\"message-router\" = {").unwrap()..];
    let timeout = router
        .lines()
        .find_map(|l| l.trim().strip_prefix("timeout"))
        .and_then(|l| l.trim_start_matches([' ', '=']).trim().parse::<u32>().ok())
        .expect("the message-router's timeout");
    assert_eq!(timeout, MESSAGE_ROUTER_TIMEOUT_SECONDS);
}

/// With Bedrock the step-worker's role may invoke exactly the models the deployment names,
/// in Terraform `llm.model` and `llm.models`, in SAM `LlmModel`, and nothing else does.
#[tokio::test]
async fn bedrock_is_granted_on_the_named_models_alone() {
    let models_of = |deployment: &Deployment, function: &str| {
        deployment.functions[function]
            .permissions
            .get("Models")
            .map(|statement| statement.resources.clone())
    };
    let named = |models: &[&str]| -> BTreeSet<String> {
        models
            .iter()
            .flat_map(|m| deploy::bedrock_model_arns(m))
            .collect()
    };
    let expected = expected().await;

    let llama = "meta.llama3-70b-instruct-v1:0";
    let terraform = read_terraform(|s| {
        let models = "concat([var.llm.model], var.llm.models)";
        assert!(s.contains(models));
        s.replace(models, &format!("concat([var.llm.model], [\"{llama}\"])"))
    });
    assert_eq!(
        models_of(&terraform, "step-worker"),
        Some(named(&[deploy::LLM_MODEL, llama]))
    );
    assert_eq!(models_of(&terraform, "api-workflows"), None);
    let problems = deploy::check("terraform", &terraform, &expected);
    assert_caught(&problems, "step-worker's `Models` statement names");

    let sam = read_sam(|s| s);
    assert_eq!(
        models_of(&sam, "step-worker"),
        Some(named(&[deploy::LLM_MODEL]))
    );
    let sam = read_sam(|s| s.replace("inference-profile/${LlmModel}", "inference-profile/*"));
    assert_caught(
        &deploy::check("SAM", &sam, &expected),
        "step-worker's `Models` statement names",
    );
    let sam = read_sam(|s| {
        s.replace(
            "\n                    - bedrock:InvokeModelWithResponseStream",
            "",
        )
    });
    assert_caught(
        &deploy::check("SAM", &sam, &expected),
        "step-worker may not call bedrock:InvokeModelWithResponseStream on Models",
    );
}
