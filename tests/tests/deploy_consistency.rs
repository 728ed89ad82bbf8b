//! The deployment templates agree with the code: every `functions/` crate is deployed by
//! Terraform and by SAM, with every variable it reads at start, allowed exactly the AWS
//! actions its code calls (on the resources it calls them on), and reached by the event
//! sources it expects. And the check does fail when a template drifts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use axum::body::Body;
use axum::http::Request;
use skein_cli::aws_local::gateway::function_of;
use skein_http::ApiGroup;
use skein_lambda::{AuthSettings, AwsPlatform, PlatformSettings};
use skein_tests::deploy::{self, Deployment, Expected, Route, sam, terraform};
use tower::ServiceExt;

fn repo() -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("..")
}

/// The Lambda crates under functions/: every crate there but the edge Worker, which
/// wrangler deploys (its wrangler.toml says so).
fn crates() -> BTreeSet<String> {
    std::fs::read_dir(repo().join("functions"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .filter(|e| !e.path().join("wrangler.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The platform on AWS adapters that never reach AWS: a request without a token stops
/// at authentication, so asking each group's router tells which one serves a route.
fn offline_platform() -> AwsPlatform {
    let env: BTreeMap<&str, &str> = [
        ("SKEIN_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ("SKEIN_TABLE", "skein"),
        ("SKEIN_STEP_QUEUE_URL", "http://127.0.0.1:9/1/skein-steps"),
        (
            "SKEIN_MESSAGE_QUEUE_URL",
            "http://127.0.0.1:9/1/skein-messages",
        ),
        (
            "SKEIN_STATES_ROLE_ARN",
            "arn:aws:iam::123456789012:role/skein-executions",
        ),
        ("SKEIN_RATE_PRINCIPAL", "off"),
        ("SKEIN_RATE_TENANT", "off"),
    ]
    .into();
    let lookup = |name: &str| env.get(name).map(|v| v.to_string());
    let settings = PlatformSettings::from_lookup(&lookup).unwrap();
    let auth = AuthSettings::from_lookup(&lookup).unwrap();
    let sdk = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("eu-west-1"))
        .endpoint_url("http://127.0.0.1:9")
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    AwsPlatform::new(&settings, &auth, &sdk).unwrap()
}

/// Every operation of the OpenAPI document (and the document's own route), to the API
/// function whose router serves it.
async fn expected_routes() -> BTreeMap<String, Route> {
    let document = serde_json::to_value(skein_http::openapi_document()).unwrap();
    let mut operations = vec![("GET /v1/openapi.json".to_string(), true)];
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            // Public when a caller may come without credentials: no requirement at all, or
            // an empty one among the alternatives (`/v1/health`: a token only for `deep`).
            let public = operation["security"]
                .as_array()
                .is_some_and(|alternatives| {
                    alternatives.is_empty() || alternatives.contains(&serde_json::json!({}))
                });
            operations.push((format!("{} {path}", method.to_uppercase()), public));
        }
    }
    let aws = offline_platform();
    let mut routes = BTreeMap::new();
    for (route, public) in operations {
        let (method, path) = route.split_once(' ').unwrap();
        let concrete = path.replace(['{', '}'], "");
        let mut served_by = Vec::new();
        for group in ApiGroup::ALL {
            let request = Request::builder()
                .method(method)
                .uri(&concrete)
                .body(Body::empty())
                .unwrap();
            let response = skein_lambda::api::service(group.routes(), &aws)
                .oneshot(request)
                .await
                .unwrap();
            if ![404, 405].contains(&response.status().as_u16()) {
                served_by.push(function_of(group));
            }
        }
        assert_eq!(served_by.len(), 1, "{route} is served by {served_by:?}");
        let function = served_by[0].to_string();
        routes.insert(route, Route { function, public });
    }
    routes
}

async fn expected() -> Expected {
    Expected {
        crates: crates(),
        functions: skein_lambda::deploy::functions(),
        routes: expected_routes().await,
    }
}

fn read_terraform(edit: impl Fn(String) -> String) -> Deployment {
    let dir = repo().join("terraform");
    let mut tf = terraform::Terraform::read(&dir).unwrap();
    let mut source = String::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    for file in files {
        source.push_str(&std::fs::read_to_string(file).unwrap());
        source.push('\n');
    }
    tf.root = hcl::parse(&edit(source)).unwrap();
    terraform::deployment(&tf).unwrap()
}

fn read_sam(edit: impl Fn(String) -> String) -> Deployment {
    let source = std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap();
    sam::deployment(&sam::Template::parse(&edit(source)).unwrap()).unwrap()
}

fn assert_agrees(source: &str, deployment: &Deployment, expected: &Expected) {
    let problems = deploy::check(source, deployment, expected);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn assert_caught(problems: &[String], wanted: &str) {
    assert!(
        problems.iter().any(|p| p.contains(wanted)),
        "expected a problem containing {wanted:?}, got:\n{}",
        problems.join("\n")
    );
}

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
