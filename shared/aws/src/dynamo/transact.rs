//! TransactWriteItems: all or nothing, naming the operations whose condition failed.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};
use skein_core::ports::{Condition, StoreError, WriteOp};

use super::attrs::{PK, key, to_attributes};
use super::expr::Expr;
use super::{DynamoStore, MAX_RACES, now_secs, store_error};

/// DynamoDB's limit on one transaction.
const MAX_OPS: usize = 100;

fn build_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(e.to_string())
}

pub(super) async fn run(store: &DynamoStore, ops: Vec<WriteOp>) -> Result<(), StoreError> {
    if ops.is_empty() || ops.len() > MAX_OPS {
        return Err(StoreError::Invalid(format!(
            "a transaction holds 1 to {MAX_OPS} operations; got {}",
            ops.len()
        )));
    }
    for _ in 0..MAX_RACES {
        // A put that replaces an item must bump its version, so it reads the current one and
        // guards on it; when only such guards fail, someone wrote in between: try again.
        let mut guarded = vec![false; ops.len()];
        let mut items = Vec::with_capacity(ops.len());
        let now = now_secs();
        for (i, op) in ops.iter().enumerate() {
            let mut e = Expr::default();
            let item = match op {
                WriteOp::Put { item, condition } => {
                    let (version, guard) = match *condition {
                        Condition::NotExists => (1, Condition::NotExists),
                        Condition::VersionIs(v) => (v + 1, Condition::VersionIs(v)),
                        Condition::Always | Condition::Exists => {
                            let current = store.read(&item.key).await?;
                            if *condition == Condition::Exists && current.is_none() {
                                return Err(StoreError::TransactionCanceled { failed: vec![i] });
                            }
                            guarded[i] = true;
                            let v = DynamoStore::version_of(&current);
                            (
                                v + 1,
                                if current.is_some() {
                                    Condition::VersionIs(v)
                                } else {
                                    Condition::NotExists
                                },
                            )
                        }
                    };
                    let expression = e.condition(guard, now);
                    let put = Put::builder()
                        .table_name(&store.table)
                        .set_item(Some(to_attributes(item, version)?))
                        .set_condition_expression(expression)
                        .set_expression_attribute_names(e.names())
                        .set_expression_attribute_values(e.values())
                        .build()
                        .map_err(build_error)?;
                    TransactWriteItem::builder().put(put).build()
                }
                WriteOp::Update {
                    key: k,
                    changes,
                    condition,
                } => {
                    let update = e.update(changes)?;
                    let expression = e.condition(*condition, now);
                    let update = Update::builder()
                        .table_name(&store.table)
                        .set_key(Some(key(k)))
                        .update_expression(update)
                        .set_condition_expression(expression)
                        .set_expression_attribute_names(e.names())
                        .set_expression_attribute_values(e.values())
                        .build()
                        .map_err(build_error)?;
                    TransactWriteItem::builder().update(update).build()
                }
                WriteOp::Delete { key: k, condition } => {
                    let expression = e.condition(*condition, now);
                    let delete = Delete::builder()
                        .table_name(&store.table)
                        .set_key(Some(key(k)))
                        .set_condition_expression(expression)
                        .set_expression_attribute_names(e.names())
                        .set_expression_attribute_values(e.values())
                        .build()
                        .map_err(build_error)?;
                    TransactWriteItem::builder().delete(delete).build()
                }
                WriteOp::Check { key: k, condition } => {
                    let expression = e.condition(*condition, now).unwrap_or_else(|| {
                        let pk = e.name(PK);
                        format!("(attribute_exists({pk}) OR attribute_not_exists({pk}))")
                    });
                    let check = ConditionCheck::builder()
                        .table_name(&store.table)
                        .set_key(Some(key(k)))
                        .condition_expression(expression)
                        .set_expression_attribute_names(e.names())
                        .set_expression_attribute_values(e.values())
                        .build()
                        .map_err(build_error)?;
                    TransactWriteItem::builder().condition_check(check).build()
                }
            };
            items.push(item);
        }
        let result = store
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) =
            err.as_service_error()
        else {
            return Err(store_error(err));
        };
        let failed: Vec<usize> = canceled
            .cancellation_reasons()
            .iter()
            .enumerate()
            .filter(|(_, reason)| reason.code() == Some("ConditionalCheckFailed"))
            .map(|(i, _)| i)
            .collect();
        let ours: Vec<usize> = failed.iter().copied().filter(|i| !guarded[*i]).collect();
        if !ours.is_empty() {
            return Err(StoreError::TransactionCanceled { failed: ours });
        }
        // Only our version guards failed, or another transaction conflicted: retry.
    }
    Err(StoreError::Unavailable(
        "too many concurrent writers; the transaction did not go through".into(),
    ))
}
