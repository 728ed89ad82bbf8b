//! The item-store contract suite, unchanged, against the DynamoDB adapter on a real moto
//! server: a fresh table per test, laid out as the Terraform and SAM templates will make it.

use skein_aws::moto as support;

use std::sync::Arc;

use skein_aws::DynamoStore;
use skein_core::ports::ItemStore;

async fn fresh() -> ((), Arc<dyn ItemStore>) {
    let client = aws_sdk_dynamodb::Client::new(&support::aws_config().await);
    let table = support::unique("skein");
    skein_aws::provision::create_table(&client, &table)
        .await
        .unwrap();
    ((), Arc::new(DynamoStore::new(client, table)))
}

skein_core::item_store_contract!(fresh().await);
