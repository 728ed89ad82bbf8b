//! What the deployment checks share: the templates as read (optionally edited), the
//! functions and routes the code expects, and the assertions on the problems found.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use axum::body::Body;
use axum::http::Request;
use skein_cli::aws_local::gateway::function_of;
use skein_http::ApiGroup;
use skein_lambda::{AuthSettings, AwsPlatform, PlatformSettings};
use skein_tests::deploy::{self, Deployment, Expected, Route, sam, terraform};
use tower::ServiceExt;

pub fn repo() -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("..")
}

/// The Lambda crates under functions/: every crate there but the edge Worker, which
/// wrangler deploys (its wrangler.toml says so).
pub fn crates() -> BTreeSet<String> {
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
pub fn offline_platform() -> AwsPlatform {
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
pub async fn expected_routes() -> BTreeMap<String, Route> {
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

pub async fn expected() -> Expected {
    Expected {
        crates: crates(),
        functions: skein_lambda::deploy::functions(),
        routes: expected_routes().await,
    }
}

pub fn read_terraform(edit: impl Fn(String) -> String) -> Deployment {
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

pub fn read_sam(edit: impl Fn(String) -> String) -> Deployment {
    let source = std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap();
    sam::deployment(&sam::Template::parse(&edit(source)).unwrap()).unwrap()
}

pub fn assert_agrees(source: &str, deployment: &Deployment, expected: &Expected) {
    let problems = deploy::check(source, deployment, expected);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

pub fn assert_caught(problems: &[String], wanted: &str) {
    assert!(
        problems.iter().any(|p| p.contains(wanted)),
        "expected a problem containing {wanted:?}, got:\n{}",
        problems.join("\n")
    );
}
