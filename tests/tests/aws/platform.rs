//! The platform each test cloud's functions run on: the settings the functions read at
//! start, and the DynamoDB store, counted when the test measures costs.

use std::collections::HashMap;
use std::sync::Arc;

use skein_aws::moto;
use skein_core::ports::{ItemStore, Layer, WorkflowEngine};
use skein_lambda::{AuthSettings, AwsPlatform, PlatformSettings};

use super::{MESSAGE_MAX_RECEIVES, counting};

pub(super) fn platform(
    sdk: &aws_config::SdkConfig,
    table: &str,
    queues: [&str; 2],
    counts: Option<Arc<counting::Counts>>,
) -> AwsPlatform {
    let layers = Layers {
        store: Box::new(move |dynamo| match counts {
            Some(counts) => Arc::new(counting::CountingStore {
                inner: dynamo,
                counts,
            }),
            None => dynamo,
        }),
        engine: Box::new(|engine| engine),
        step_lease_seconds: DEFAULT_STEP_LEASE_SECONDS,
        moto_server: 0,
    };
    layered_platform(sdk, table, queues, layers)
}

/// How long a started step belongs to the sandbox that started it.
pub const DEFAULT_STEP_LEASE_SECONDS: u32 = 60;

/// What a test wraps around the store and the engine ports.
pub struct Layers {
    pub store: Layer<dyn ItemStore>,
    pub engine: Layer<dyn WorkflowEngine>,
    /// `SKEIN_STEP_LEASE_SECONDS`: how long another sandbox leaves a started step alone.
    pub step_lease_seconds: u32,
    /// Which moto server (`skein_aws::moto::server`) the cloud lives on.
    pub moto_server: usize,
}

pub fn layered_platform(
    sdk: &aws_config::SdkConfig,
    table: &str,
    [step_queue, message_queue]: [&str; 2],
    layers: Layers,
) -> AwsPlatform {
    let env: HashMap<&str, String> = HashMap::from([
        (
            "SKEIN_JWT_SECRET",
            "moto-tests-secret-of-at-least-32-bytes".to_string(),
        ),
        ("SKEIN_TABLE", table.to_string()),
        ("SKEIN_STEP_QUEUE_URL", step_queue.to_string()),
        ("SKEIN_MESSAGE_QUEUE_URL", message_queue.to_string()),
        (
            "SKEIN_MESSAGE_MAX_RECEIVES",
            MESSAGE_MAX_RECEIVES.to_string(),
        ),
        // The cost table counts a run's own calls; the limiter's are not part of them.
        ("SKEIN_RATE_PRINCIPAL", "off".to_string()),
        ("SKEIN_RATE_TENANT", "off".to_string()),
        ("SKEIN_RATE_SOURCE", "off".to_string()),
        // The tests' upstream servers listen on loopback.
        ("SKEIN_HTTP_ALLOW", "127.0.0.0/8".to_string()),
        (
            "SKEIN_STATES_ROLE_ARN",
            format!("arn:aws:iam::{}:role/skein-states", moto::ACCOUNT),
        ),
        (
            "SKEIN_STEP_LEASE_SECONDS",
            layers.step_lease_seconds.to_string(),
        ),
    ]);
    let settings = PlatformSettings::from_lookup(&|name| env.get(name).cloned()).unwrap();
    let auth = AuthSettings::from_lookup(&|name| env.get(name).cloned()).unwrap();
    let dynamo: Arc<dyn ItemStore> = Arc::new(skein_aws::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        table,
    ));
    AwsPlatform::with_layers(&settings, &auth, sdk, (layers.store)(dynamo), layers.engine).unwrap()
}
