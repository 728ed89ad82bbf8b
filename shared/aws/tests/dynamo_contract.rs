//! The item-store contract suite, unchanged, against the DynamoDB adapter on a real moto
//! server: a fresh table per test, laid out as the Terraform and SAM templates will make it.

mod support;

use std::sync::Arc;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use skein_aws::DynamoStore;
use skein_core::ports::ItemStore;

fn attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap()
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap()
}

async fn fresh() -> ((), Arc<dyn ItemStore>) {
    let client = aws_sdk_dynamodb::Client::new(&support::aws_config().await);
    let table = support::unique("skein");
    let mut create = client
        .create_table()
        .table_name(&table)
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
                    .build()
                    .unwrap(),
            );
    }
    create.send().await.unwrap();
    ((), Arc::new(DynamoStore::new(client, table)))
}

skein_core::item_store_contract!(fresh().await);
