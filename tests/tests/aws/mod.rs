//! The platform on AWS adapters against a real moto server: a fresh table and step queue
//! per test, the API functions' handlers called with API Gateway events built from the
//! samples in `events/`, and the test playing Lambda's SQS event source (receive, build
//! an `SqsEvent`, call the step-worker, delete what it did not report as failed) and
//! EventBridge (an execution's status change, onto the step queue).
#![allow(dead_code)]

pub mod counting;
mod drive;
mod platform;

pub use platform::Layers;
use platform::{layered_platform, platform};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use serde_json::{Value, json};
use skein_aws::moto;
use skein_core::ids::TenantId;
use skein_http::ApiGroup;
use skein_lambda::AwsPlatform;

pub const TENANT: &str = "acme";

/// Failed deliveries before the message-router dead-letters a message; the queue's own
/// redrive (one more) only ever takes malformed messages.
pub const MESSAGE_MAX_RECEIVES: u32 = 3;

pub struct Cloud {
    pub sdk: aws_config::SdkConfig,
    pub table: String,
    pub step_queue: String,
    pub message_queue: String,
    pub aws: AwsPlatform,
    pub admin: String,
    /// DynamoDB calls made by this cloud's functions.
    pub store_calls: Arc<counting::Counts>,
    /// Step-worker invocations, and the SQS messages they were given.
    pub invocations: AtomicUsize,
    pub messages: AtomicUsize,
    /// The step lease its functions run with.
    pub step_lease_seconds: u32,
}

/// A sample event from `events/`.
pub fn sample(path: &str) -> Value {
    let file = PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../events")
    .join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// An API Gateway v2 request: the sample's shape with this method, path, token and body.
pub fn api_event(
    method: &str,
    path_and_query: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Value {
    let mut event = sample("api-tasks/create-task.json");
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    event["routeKey"] = json!(format!("{method} {path}"));
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!(query);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    match token {
        Some(token) => event["headers"]["authorization"] = json!(format!("Bearer {token}")),
        None => {
            event["headers"]
                .as_object_mut()
                .unwrap()
                .remove("authorization");
        }
    }
    match body {
        Some(Value::String(text)) => event["body"] = json!(text),
        Some(body) => event["body"] = json!(body.to_string()),
        None => {
            event.as_object_mut().unwrap().remove("body");
        }
    }
    event
}

impl Cloud {
    pub async fn new() -> Cloud {
        Self::layered(None).await
    }

    /// A cloud whose functions run with `layers` around their store and engine.
    pub async fn with_layers(layers: Layers) -> Cloud {
        Self::layered(Some(layers)).await
    }

    async fn layered(layers: Option<Layers>) -> Cloud {
        let server = layers.as_ref().map_or(0, |l| l.moto_server);
        let sdk = moto::aws_config_on(server).await;
        let table = moto::unique("skein");
        skein_aws::provision::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
            .await
            .unwrap();
        let queue = skein_aws::provision::create_queue(
            &aws_sdk_sqs::Client::new(&sdk),
            &moto::unique("steps"),
            // As the templates set it: the step-worker's last receive (5), plus one.
            6,
            30,
        )
        .await
        .unwrap();
        let messages = skein_aws::provision::create_queue(
            &aws_sdk_sqs::Client::new(&sdk),
            &moto::unique("messages"),
            MESSAGE_MAX_RECEIVES + 1,
            30,
        )
        .await
        .unwrap();
        let store_calls = Arc::new(counting::Counts::default());
        let queues = [queue.url.as_str(), messages.url.as_str()];
        let step_lease_seconds = layers
            .as_ref()
            .map_or(platform::DEFAULT_STEP_LEASE_SECONDS, |l| {
                l.step_lease_seconds
            });
        let aws = match layers {
            Some(layers) => layered_platform(&sdk, &table, queues, layers),
            None => platform(&sdk, &table, queues, Some(store_calls.clone())),
        };
        let admin_client = aws
            .platform
            .access
            .bootstrap_tenant(&TenantId::parse(TENANT).unwrap())
            .await
            .unwrap()
            .unwrap();
        let mut cloud = Cloud {
            sdk,
            table,
            step_queue: queue.url,
            message_queue: messages.url,
            aws,
            admin: String::new(),
            store_calls,
            invocations: AtomicUsize::new(0),
            messages: AtomicUsize::new(0),
            step_lease_seconds,
        };
        let (status, token) = cloud
            .exchange(&admin_client.client_id, &admin_client.client_secret)
            .await;
        assert_eq!(status, 200, "{token}");
        cloud.admin = token["access_token"].as_str().unwrap().to_string();
        cloud
    }

    /// Another sandbox of the same functions: same table and queue, its own worker id.
    pub fn another_sandbox(&self) -> AwsPlatform {
        let queues = [self.step_queue.as_str(), self.message_queue.as_str()];
        let layers = Layers {
            store: Box::new(|store| store),
            engine: Box::new(|engine| engine),
            step_lease_seconds: self.step_lease_seconds,
            moto_server: 0, // unused: the sandbox talks to `self.sdk`'s server
        };
        layered_platform(&self.sdk, &self.table, queues, layers)
    }

    /// Registers an agent through the agents function; its id and an access token.
    pub async fn register_agent(&self, name: &str) -> (String, String) {
        let (status, agent) = self
            .post(
                ApiGroup::Agents,
                &self.admin,
                "/v1/agents",
                json!({ "name": name }),
            )
            .await;
        assert_eq!(status, 201, "{agent}");
        let id = agent["agent"]["id"].as_str().unwrap().to_string();
        let secret = agent["credentials"]["client_secret"].as_str().unwrap();
        let (status, token) = self.exchange(&id, secret).await;
        assert_eq!(status, 200, "{token}");
        (id, token["access_token"].as_str().unwrap().to_string())
    }

    /// Client credentials for a token, at api-agents' token endpoint.
    pub async fn exchange(&self, client_id: &str, client_secret: &str) -> (u16, Value) {
        let body = json!({"client_id": client_id, "client_secret": client_secret});
        self.api(
            ApiGroup::Agents,
            api_event("POST", "/v1/auth/token", None, Some(body)),
        )
        .await
    }

    /// Calls an API function's handler with an API Gateway v2 event, as Lambda would.
    pub async fn api(&self, group: ApiGroup, event: Value) -> (u16, Value) {
        let request: LambdaRequest =
            serde_json::from_value(event).expect("an API Gateway v2 event");
        let mut adapter = Adapter::from(skein_lambda::api::service(group.routes(), &self.aws));
        let response = adapter
            .call(LambdaEvent::new(request, Context::default()))
            .await
            .expect("the handler answers");
        let response = serde_json::to_value(response).unwrap();
        let status = response["statusCode"].as_u64().unwrap() as u16;
        let body = response["body"].as_str().unwrap_or("");
        (
            status,
            serde_json::from_str(body).unwrap_or_else(|_| json!(body)),
        )
    }

    pub async fn get(&self, group: ApiGroup, path: &str) -> (u16, Value) {
        self.api(group, api_event("GET", path, Some(&self.admin), None))
            .await
    }

    pub async fn post(
        &self,
        group: ApiGroup,
        token: &str,
        path: &str,
        body: Value,
    ) -> (u16, Value) {
        self.api(group, api_event("POST", path, Some(token), Some(body)))
            .await
    }

    /// Registers a workflow through the workflows function.
    pub async fn apply(&self, yaml: &str) {
        let (status, body) = self
            .post(
                ApiGroup::Workflows,
                &self.admin,
                "/v1/workflows",
                json!(yaml),
            )
            .await;
        assert!(status == 201 || status == 200, "apply: {status} {body}");
    }

    pub async fn start(&self, workflow: &str, input: Value) -> String {
        let (status, run) = self
            .post(
                ApiGroup::Runs,
                &self.admin,
                &format!("/v1/workflows/{workflow}/runs"),
                json!({ "input": input }),
            )
            .await;
        assert_eq!(status, 201, "start: {run}");
        run["id"].as_str().unwrap().to_string()
    }

    /// The state machine a workflow version runs as, as its registration stored it.
    pub async fn machine(&self, workflow: &str, version: &Value) -> String {
        let path = format!("/v1/workflows/{workflow}/versions/{version}");
        let (status, stored) = self.get(ApiGroup::Workflows, &path).await;
        assert_eq!(status, 200, "{stored}");
        stored["machine"].as_str().unwrap().to_string()
    }

    pub async fn run(&self, id: &str) -> Value {
        let (status, run) = self.get(ApiGroup::Runs, &format!("/v1/runs/{id}")).await;
        assert_eq!(status, 200, "{run}");
        run
    }

    /// The run's record, read straight from DynamoDB.
    pub async fn stored_run(
        &self,
        run: &str,
    ) -> HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
        use aws_sdk_dynamodb::types::AttributeValue;
        aws_sdk_dynamodb::Client::new(&self.sdk)
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("T#{TENANT}#RUN#{run}")))
            .key("sk", AttributeValue::S("#".into()))
            .send()
            .await
            .unwrap()
            .item
            .expect("the run is stored")
    }
}

impl Cloud {
    /// What the table holds about a run (its items, steps and meetings) and where its
    /// execution stands, for a test that saw it never end.
    pub async fn dump_run(&self, machine: &str, run: &str) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let scanned = aws_sdk_dynamodb::Client::new(&self.sdk)
            .scan()
            .table_name(&self.table)
            .filter_expression("contains(pk, :run) OR contains(sk, :run)")
            .expression_attribute_values(
                ":run",
                aws_sdk_dynamodb::types::AttributeValue::S(run.to_string()),
            )
            .send()
            .await;
        match scanned {
            Ok(output) => {
                for item in output.items.unwrap_or_default() {
                    let value: Value = serde_dynamo::from_item(item).unwrap_or(Value::Null);
                    let _ = writeln!(out, "    {value}");
                }
            }
            Err(e) => {
                let _ = writeln!(out, "    (cannot scan: {e})");
            }
        }
        match self.aws.engine.describe(machine, run).await {
            Ok(state) => {
                let _ = writeln!(
                    out,
                    "    execution ended: {:?}",
                    state.ended.map(|e| e.status)
                );
            }
            Err(e) => {
                let _ = writeln!(out, "    execution: {e}");
            }
        }
        out
    }
}
