//! What the deployment defines, created on the local AWS-protocol server: the resources
//! the functions of `skein_lambda::deploy::functions()` are granted (the table, the step
//! and messages queues with their DLQs and redrive, the executions' role), the variables
//! each function reads, and the tenant's first admin.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use skein_core::access::ClientSecret;
use skein_core::ids::TenantId;
use skein_lambda::deploy::{self, Resource};
use skein_lambda::{AuthSettings, AwsPlatform, PlatformSettings};

use super::AwsLocalError;
use crate::config::write_private;

/// moto's account, which ARNs name.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
/// Receives before the step-worker fails a step it cannot handle, and before the router
/// keeps a message as a dead letter (the templates' defaults); each queue's redrive to its
/// DLQ is one receive later, as in the templates.
/// `tests/deploy_consistency.rs` checks these against the Terraform's defaults.
pub const STEP_MAX_RECEIVES: u32 = 5;
pub const MESSAGE_MAX_RECEIVES: u32 = 5;
/// The consuming functions' timeouts; each queue's visibility timeout is six times its
/// function's, as in the templates.
pub const STEP_WORKER_TIMEOUT_SECONDS: u32 = 300;
pub const MESSAGE_ROUTER_TIMEOUT_SECONDS: u32 = 30;
const STEP_QUEUE_VISIBILITY_SECONDS: u32 = 6 * STEP_WORKER_TIMEOUT_SECONDS;
const MESSAGE_QUEUE_VISIBILITY_SECONDS: u32 = 6 * MESSAGE_ROUTER_TIMEOUT_SECONDS;

/// The local cloud's resources, named after the deployment's prefix.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub prefix: String,
    pub table: String,
    pub step_queue: String,
    pub message_queue: String,
    pub states_role_arn: String,
}

/// The resources the deployment's functions are granted, each created once (a second
/// run finds them and changes nothing).
pub async fn resources(
    sdk: &aws_config::SdkConfig,
    prefix: &str,
) -> Result<Provisioned, AwsLocalError> {
    let needed: BTreeSet<Resource> = deploy::functions()
        .iter()
        .flat_map(|f| f.grants.iter().map(|g| g.resource))
        .collect();
    let fail = |what: &str, e: &dyn std::fmt::Display| AwsLocalError::Provision {
        what: what.to_string(),
        detail: e.to_string(),
    };
    let table = prefix.to_string();
    if needed.contains(&Resource::Table) {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let exists = dynamodb
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .is_ok();
        if !exists {
            skein_aws::provision::create_table(&dynamodb, &table)
                .await
                .map_err(|e| fail("the table", &e))?;
        }
    }
    let sqs = aws_sdk_sqs::Client::new(sdk);
    // Creating a queue again with the same attributes answers its URL (SQS and moto).
    let step_queue = skein_aws::provision::create_queue(
        &sqs,
        &format!("{prefix}-steps"),
        STEP_MAX_RECEIVES + 1,
        STEP_QUEUE_VISIBILITY_SECONDS,
    )
    .await
    .map_err(|e| fail("the step queue", &e))?
    .url;
    let message_queue = skein_aws::provision::create_queue(
        &sqs,
        &format!("{prefix}-messages"),
        MESSAGE_MAX_RECEIVES + 1,
        MESSAGE_QUEUE_VISIBILITY_SECONDS,
    )
    .await
    .map_err(|e| fail("the messages queue", &e))?
    .url;
    Ok(Provisioned {
        prefix: prefix.to_string(),
        table,
        step_queue,
        message_queue,
        // Step Functions on moto takes the role's ARN without checking the role.
        states_role_arn: format!("arn:aws:iam::{ACCOUNT}:role/{prefix}-states"),
    })
}

/// Every variable the functions read, for `cargo lambda watch --env-file`: the
/// resources, an HS256 secret (kept from an earlier env file, so tokens stay valid), the
/// builtins' settings as `skein dev` has them, and where the AWS SDK finds the server.
pub fn environment(
    provisioned: &Provisioned,
    endpoint: &str,
    jwt_secret: &str,
) -> BTreeMap<String, String> {
    let set = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    let step_max = STEP_MAX_RECEIVES.to_string();
    let message_max = MESSAGE_MAX_RECEIVES.to_string();
    let worker = format!("{}-step-worker", provisioned.prefix);
    set(&[
        ("SKEIN_NAME_PREFIX", &provisioned.prefix),
        ("SKEIN_TABLE", &provisioned.table),
        ("SKEIN_STEP_QUEUE_URL", &provisioned.step_queue),
        ("SKEIN_MESSAGE_QUEUE_URL", &provisioned.message_queue),
        ("SKEIN_STATES_ROLE_ARN", &provisioned.states_role_arn),
        ("SKEIN_WORKER_FUNCTION", &worker),
        ("SKEIN_STEP_MAX_RECEIVES", &step_max),
        ("SKEIN_MESSAGE_MAX_RECEIVES", &message_max),
        ("SKEIN_JWT_ALG", "HS256"),
        ("SKEIN_JWT_SECRET", jwt_secret),
        ("SKEIN_HTTP_ALLOW", "127.0.0.0/8,::1"),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("RUST_LOG", "info"),
    ])
}

/// The settings the functions will read from `env` (the platform's, and the API's token
/// settings): refused here, with the variable's name, rather than by every function at
/// its first invoke.
pub fn settings(
    env: &BTreeMap<String, String>,
) -> Result<(PlatformSettings, AuthSettings), AwsLocalError> {
    let lookup = |name: &str| env.get(name).cloned();
    let refused = |e: skein_lambda::ConfigError| AwsLocalError::Settings(e.to_string());
    Ok((
        PlatformSettings::from_lookup(&lookup).map_err(refused)?,
        AuthSettings::from_lookup(&lookup).map_err(refused)?,
    ))
}

/// `KEY=VALUE` lines, as `cargo lambda watch --env-file` and shells read them.
pub fn env_file_text(env: &BTreeMap<String, String>) -> String {
    let mut text = String::from(
        "# Written by `skein aws local`: what every function reads on the local cloud.\n",
    );
    for (key, value) in env {
        text.push_str(&format!("{key}={value}\n"));
    }
    text
}

/// A value from an earlier env file, if there is one.
pub fn earlier_value(path: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter_map(|line| line.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_string())
}

pub fn write_file(path: &Path, text: &str) -> Result<(), AwsLocalError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    std::fs::create_dir_all(&dir).map_err(|source| AwsLocalError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    write_private(&dir, path, text.as_bytes()).map_err(|e| AwsLocalError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// Creates the tenant and its first admin client, once; a second run finds the tenant and
/// keeps the credentials it wrote the first time.
pub async fn first_admin(
    settings: &PlatformSettings,
    auth: &AuthSettings,
    sdk: &aws_config::SdkConfig,
    tenant: &TenantId,
) -> Result<Option<ClientSecret>, AwsLocalError> {
    let aws = AwsPlatform::new(settings, auth, sdk)
        .map_err(|e| AwsLocalError::Settings(e.to_string()))?;
    aws.platform
        .access
        .bootstrap_tenant(tenant)
        .await
        .map_err(|e| AwsLocalError::Provision {
            what: format!("tenant {tenant}"),
            detail: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provisioned() -> Provisioned {
        Provisioned {
            prefix: "skein-local".into(),
            table: "skein-local".into(),
            step_queue: "http://127.0.0.1:5000/123456789012/skein-local-steps".into(),
            message_queue: "http://127.0.0.1:5000/123456789012/skein-local-messages".into(),
            states_role_arn: "arn:aws:iam::123456789012:role/skein-local-states".into(),
        }
    }

    #[test]
    fn the_env_file_carries_everything_the_functions_need_to_start() {
        let env = environment(
            &provisioned(),
            "http://127.0.0.1:5000",
            "a-local-secret-a-local-secret-0123",
        );
        let (settings, _) = settings(&env).expect("every required variable is set");
        assert_eq!(settings.table, "skein-local");
        assert_eq!(settings.step_max_receives, STEP_MAX_RECEIVES);
    }

    #[test]
    fn an_earlier_env_files_secret_is_found_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aws-local.env");
        let env = environment(&provisioned(), "http://127.0.0.1:5000", "s3cret-s3cret");
        write_file(&path, &env_file_text(&env)).unwrap();
        assert_eq!(
            earlier_value(&path, "SKEIN_JWT_SECRET").as_deref(),
            Some("s3cret-s3cret")
        );
        assert_eq!(earlier_value(&path, "SKEIN_NOPE"), None);
    }
}
