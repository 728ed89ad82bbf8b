//! The item-store port on DynamoDB: one table keyed by `pk`/`sk`, three sparse GSIs
//! (`gsi1`..`gsi3`, keys `gsiNpk`/`gsiNsk`), TTL on `expires_at`, and a store-managed
//! `version` on every item for optimistic concurrency.

mod attrs;
mod expr;
mod transact;

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::ReturnValue;
use skein_core::ports::{
    Change, Condition, Item, ItemStore, Key, Page, Query, SkRange, StartAfter, StoreError, WriteOp,
};

use attrs::{Attributes, EXPIRES_AT, PK, VERSION, from_attributes, index_name, key, key_names, s};
use expr::Expr;

/// The DynamoDB actions this adapter calls; a function using it needs exactly these.
pub const IAM_ACTIONS: [&str; 6] = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
];

/// Conflicting writers retry a read-then-write this many times before giving up.
const MAX_RACES: usize = 16;

pub struct DynamoStore {
    client: Client,
    table: String,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A failed call as the port's error: a request DynamoDB refuses as invalid is `Invalid`
/// (retrying cannot help); anything else (throttling, a network error, a 5xx) is
/// `Unavailable`.
fn store_error<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let invalid = e.code() == Some("ValidationException");
    let detail = DisplayErrorContext(e).to_string();
    if invalid && detail.contains("Item size has exceeded") {
        StoreError::TooLarge("a record passes DynamoDB's 400 KB item limit".into())
    } else if invalid {
        StoreError::Invalid(detail)
    } else {
        StoreError::Unavailable(detail)
    }
}

/// `ConditionFailed` when the write's condition did not hold, `store_error` otherwise.
fn conditional<O, E, R>(result: Result<O, SdkError<E, R>>) -> Result<O, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    result.map_err(|err| {
        if err.code() == Some("ConditionalCheckFailedException") {
            StoreError::ConditionFailed
        } else {
            store_error(err)
        }
    })
}

fn is_live(attributes: &Attributes, now: i64) -> bool {
    attrs::expires_at(attributes).is_none_or(|at| at > now)
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The item's raw attributes if it exists and has not expired.
    async fn read(&self, key_of: &Key) -> Result<Option<Attributes>, StoreError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(key_of)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        Ok(found.item.filter(|a| is_live(a, now_secs())))
    }

    fn version_of(attributes: &Option<Attributes>) -> u64 {
        attributes
            .as_ref()
            .and_then(|a| match a.get(VERSION) {
                Some(aws_sdk_dynamodb::types::AttributeValue::N(v)) => v.parse().ok(),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// Removes the item only if it is past its TTL (so a fresh write starts empty).
    async fn reap_expired(&self, key_of: &Key) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let exp = e.name(EXPIRES_AT);
        let now = e.value(attrs::n(now_secs()));
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(key_of)))
            .condition_expression(format!("{exp} <= {now}"))
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await;
        // Not expired (or already gone): nothing to reap.
        match conditional(result) {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Writes the whole item at `version` if `condition` (an expression) holds.
    async fn put_at(
        &self,
        item: &Item,
        version: u64,
        condition: Condition,
    ) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let expression = e.condition(condition, now_secs());
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attrs::to_attributes(item, version)?))
            .set_condition_expression(expression)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await;
        conditional(result).map(drop)
    }
}

#[async_trait]
impl ItemStore for DynamoStore {
    async fn get(&self, key_of: &Key) -> Result<Option<Item>, StoreError> {
        self.read(key_of).await?.map(from_attributes).transpose()
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<u64, StoreError> {
        match condition {
            Condition::NotExists => self.put_at(&item, 1, condition).await.map(|()| 1),
            Condition::VersionIs(v) => self.put_at(&item, v + 1, condition).await.map(|()| v + 1),
            Condition::Always | Condition::Exists => {
                // A put replaces the item, so the next version needs the current one:
                // read it, then write only if nobody wrote in between.
                for _ in 0..MAX_RACES {
                    let current = self.read(&item.key).await?;
                    if condition == Condition::Exists && current.is_none() {
                        return Err(StoreError::ConditionFailed);
                    }
                    let version = Self::version_of(&current);
                    let guard = if current.is_some() {
                        Condition::VersionIs(version)
                    } else {
                        Condition::NotExists
                    };
                    match self.put_at(&item, version + 1, guard).await {
                        Ok(()) => return Ok(version + 1),
                        Err(StoreError::ConditionFailed) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(StoreError::Unavailable(
                    "too many concurrent writers on one item".into(),
                ))
            }
        }
    }

    async fn update(
        &self,
        key_of: &Key,
        changes: Vec<Change>,
        condition: Condition,
    ) -> Result<Item, StoreError> {
        for _ in 0..MAX_RACES {
            let mut e = Expr::default();
            let update = e.update(&changes)?;
            let now = now_secs();
            let expression = match condition {
                // Present-and-live or absent: an expired leftover is reaped first, so that
                // the update starts from an empty item as on a store that deletes at once.
                Condition::Always => {
                    let pk = e.name(PK);
                    let live = e.live(now);
                    format!("(attribute_not_exists({pk}) OR {live})")
                }
                Condition::NotExists => format!("attribute_not_exists({})", e.name(PK)),
                other => e.condition(other, now).unwrap_or_default(),
            };
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(key_of)))
                .update_expression(update)
                .condition_expression(expression)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match conditional(result) {
                Ok(written) => return from_attributes(written.attributes.unwrap_or_default()),
                Err(StoreError::ConditionFailed) => match condition {
                    Condition::Always | Condition::NotExists => {
                        let present = self.read(key_of).await?;
                        if condition == Condition::NotExists && present.is_some() {
                            return Err(StoreError::ConditionFailed);
                        }
                        self.reap_expired(key_of).await?;
                    }
                    _ => return Err(StoreError::ConditionFailed),
                },
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Unavailable(
            "too many concurrent writers on one item".into(),
        ))
    }

    async fn delete(&self, key_of: &Key, condition: Condition) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let expression = e.condition(condition, now_secs());
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(key_of)))
            .set_condition_expression(expression)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await;
        conditional(result).map(drop)
    }

    async fn query(&self, query: &Query) -> Result<Page<Item>, StoreError> {
        let (pk_name, sk_name) = key_names(query.index);
        let mut e = Expr::default();
        let pk = e.name(pk_name);
        let partition = e.value(s(&query.pk));
        let mut key_condition = format!("{pk} = {partition}");
        match &query.sk {
            SkRange::All => {}
            SkRange::Prefix(prefix) if prefix.is_empty() => {}
            SkRange::Prefix(prefix) => {
                let sk = e.name(sk_name);
                let prefix = e.value(s(prefix));
                key_condition += &format!(" AND begins_with({sk}, {prefix})");
            }
            // DynamoDB refuses an empty string as a key value, so "from the start" is
            // written as `<=` (every timer sweep queries from "" to now).
            SkRange::Between(low, high) if low.is_empty() => {
                let sk = e.name(sk_name);
                let high = e.value(s(high));
                key_condition += &format!(" AND {sk} <= {high}");
            }
            SkRange::Between(low, high) => {
                let sk = e.name(sk_name);
                let (low, high) = (e.value(s(low)), e.value(s(high)));
                key_condition += &format!(" AND {sk} BETWEEN {low} AND {high}");
            }
        }
        let filter = e.live(now_secs());
        let start = query.after.as_ref().map(|after| {
            let mut start = key(&Key::new(&after.pk, &after.sk));
            if query.index != skein_core::ports::Index::Primary {
                start.insert(pk_name.to_string(), s(&query.pk));
                start.insert(sk_name.to_string(), s(&after.index_sk));
            }
            start
        });
        let found = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index_name(query.index).map(str::to_string))
            .key_condition_expression(key_condition)
            .filter_expression(filter)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .set_exclusive_start_key(start)
            .scan_index_forward(!query.descending)
            .limit(query.limit.clamp(1, 1000) as i32)
            .consistent_read(query.index == skein_core::ports::Index::Primary)
            .send()
            .await
            .map_err(store_error)?;
        let items = found
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_attributes)
            .collect::<Result<Vec<_>, _>>()?;
        let next = found.last_evaluated_key.and_then(|last| {
            let text = |name: &str| match last.get(name) {
                Some(aws_sdk_dynamodb::types::AttributeValue::S(v)) => Some(v.clone()),
                _ => None,
            };
            Some(StartAfter {
                pk: text(PK)?,
                sk: text(attrs::SK)?,
                index_sk: text(sk_name)?,
            })
        });
        Ok(Page { items, next })
    }

    async fn transact_write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        transact::run(self, ops).await
    }
}
