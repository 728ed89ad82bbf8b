//! A Lambda function's AWS configuration, read from the variables Lambda sets, against a
//! real moto server: the global endpoint and a per-service one, each where the SDK's own
//! loader would send the call.

use std::collections::HashMap;
use std::sync::Arc;

use skein_aws::moto as support;

/// Where nothing listens: a call sent here fails to connect.
const NOWHERE: &str = "http://127.0.0.1:9";

fn config(variables: &[(&str, &str)]) -> aws_config::SdkConfig {
    let env: HashMap<String, String> = variables
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    skein_aws::lambda_config(Arc::new(move |name| env.get(name).cloned()))
}

fn lambda_variables(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_SESSION_TOKEN", "session".into()),
        ("AWS_ENDPOINT_URL", endpoint.into()),
    ]
}

fn borrowed<'a>(variables: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    variables.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

#[tokio::test]
async fn the_global_endpoint_and_the_environment_credentials_reach_every_service() {
    let moto = &support::server(0).endpoint;
    let sdk = config(&borrowed(&lambda_variables(moto)));
    assert_eq!(sdk.region().map(|r| r.as_ref()), Some("us-east-1"));
    aws_sdk_dynamodb::Client::new(&sdk)
        .list_tables()
        .send()
        .await
        .expect("DynamoDB answers at AWS_ENDPOINT_URL");
    aws_sdk_sqs::Client::new(&sdk)
        .list_queues()
        .send()
        .await
        .expect("SQS answers at AWS_ENDPOINT_URL");
}

#[tokio::test]
async fn a_per_service_endpoint_wins_over_the_global_one_for_its_service_only() {
    let moto = support::server(0).endpoint.clone();
    let mut variables = lambda_variables(NOWHERE);
    variables.push(("AWS_ENDPOINT_URL_DYNAMODB", moto));
    let sdk = config(&borrowed(&variables));
    aws_sdk_dynamodb::Client::new(&sdk)
        .list_tables()
        .send()
        .await
        .expect("DynamoDB answers at AWS_ENDPOINT_URL_DYNAMODB");
    let sqs = aws_sdk_sqs::Client::new(&sdk).list_queues().send().await;
    assert!(
        sqs.is_err(),
        "SQS went to AWS_ENDPOINT_URL, where nothing listens"
    );
}

#[tokio::test]
async fn without_credentials_a_call_is_refused_before_it_is_sent() {
    let moto = support::server(0).endpoint.clone();
    let sdk = config(&[("AWS_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", &moto)]);
    let error = aws_sdk_sqs::Client::new(&sdk)
        .list_queues()
        .send()
        .await
        .expect_err("no credentials, no signature");
    let shown = format!("{:?}", error);
    // The SDK finds no identity to sign with, so nothing reaches moto.
    assert!(shown.contains("NoIdentityResolver"), "{shown}");
}
