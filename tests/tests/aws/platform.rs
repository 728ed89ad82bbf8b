//! The platform each test cloud's functions run on: the settings the functions read at
//! start, and the DynamoDB store, counted when the test measures costs.

use std::collections::HashMap;
use std::sync::Arc;

use skein_aws::moto;
use skein_core::ports::ItemStore;
use skein_lambda::{AwsPlatform, PlatformSettings};

use super::{MESSAGE_MAX_RECEIVES, counting};

pub(super) fn platform(
    sdk: &aws_config::SdkConfig,
    table: &str,
    [step_queue, message_queue]: [&str; 2],
    counts: Option<Arc<counting::Counts>>,
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
        ("SKEIN_STEP_LEASE_SECONDS", "60".to_string()),
    ]);
    let settings = PlatformSettings::from_lookup(&|name| env.get(name).cloned()).unwrap();
    let dynamo: Arc<dyn ItemStore> = Arc::new(skein_aws::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        table,
    ));
    let store: Arc<dyn ItemStore> = match counts {
        Some(counts) => Arc::new(counting::CountingStore {
            inner: dynamo,
            counts,
        }),
        None => dynamo,
    };
    AwsPlatform::with_store(&settings, sdk, store).unwrap()
}
