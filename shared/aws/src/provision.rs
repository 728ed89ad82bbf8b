//! Creates the table and queues exactly as the Terraform and SAM templates lay them out,
//! for tests on moto and for a local AWS-protocol server. Production never calls this.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("name and type are set")
}

/// The single table: `pk`/`sk`, sparse GSIs `gsi1`..`gsi3`, TTL on `expires_at`.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), Failure> {
    let mut create = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range));
    for n in 1..=3 {
        let (pk, sk) = (format!("gsi{n}pk"), format!("gsi{n}sk"));
        create = create
            .attribute_definitions(attribute(&pk))
            .attribute_definitions(attribute(&sk))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(format!("gsi{n}"))
                    .key_schema(key(&pk, KeyType::Hash))
                    .key_schema(key(&sk, KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()?,
            );
    }
    create.send().await?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

/// A queue and its dead-letter queue (`{name}-dlq`), after `max_receives` receives.
pub struct QueueUrls {
    pub url: String,
    pub dead_letters: String,
}

pub async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    max_receives: u32,
    visibility_seconds: u32,
) -> Result<QueueUrls, Failure> {
    let dead_letters = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await?
        .queue_url
        .ok_or("SQS returned no queue URL")?;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dead_letters)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or("SQS returned no queue ARN")?;
    let redrive =
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receives}"}}"#);
    let url = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_seconds.to_string(),
        )
        .send()
        .await?
        .queue_url
        .ok_or("SQS returned no queue URL")?;
    Ok(QueueUrls { url, dead_letters })
}
