//! Items as DynamoDB attributes. Keys, index keys, `expires_at` (the table's TTL attribute)
//! and `version` are attributes of their own; each body field is an attribute named
//! `b.<field>`, so updates and atomic counters work on single fields.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value};
use skein_core::ports::{Index, IndexKey, Item, Key, StoreError};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const EXPIRES_AT: &str = "expires_at";
pub const VERSION: &str = "version";
pub const BODY_PREFIX: &str = "b.";

pub type Attributes = HashMap<String, AttributeValue>;

/// The partition and sort key attribute names of an index (the table's for Primary).
pub fn key_names(index: Index) -> (&'static str, &'static str) {
    match index {
        Index::Primary => (PK, SK),
        Index::Gsi1 => ("gsi1pk", "gsi1sk"),
        Index::Gsi2 => ("gsi2pk", "gsi2sk"),
        Index::Gsi3 => ("gsi3pk", "gsi3sk"),
    }
}

pub fn index_name(index: Index) -> Option<&'static str> {
    match index {
        Index::Primary => None,
        Index::Gsi1 => Some("gsi1"),
        Index::Gsi2 => Some("gsi2"),
        Index::Gsi3 => Some("gsi3"),
    }
}

pub const INDEXES: [Index; 3] = [Index::Gsi1, Index::Gsi2, Index::Gsi3];

pub fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn key(key: &Key) -> Attributes {
    HashMap::from([(PK.to_string(), s(&key.pk)), (SK.to_string(), s(&key.sk))])
}

pub fn json_to_attribute(value: &Value) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value)
        .map_err(|e| StoreError::Invalid(format!("cannot store value: {e}")))
}

/// The whole item, with the given version, as PutItem writes it.
pub fn to_attributes(item: &Item, version: u64) -> Result<Attributes, StoreError> {
    let mut out = key(&item.key);
    for index in INDEXES {
        if let Some(IndexKey { pk, sk }) = item.index_key(index) {
            let (pk_name, sk_name) = key_names(index);
            out.insert(pk_name.to_string(), s(pk));
            out.insert(sk_name.to_string(), s(sk));
        }
    }
    if let Some(at) = item.expires_at {
        out.insert(EXPIRES_AT.to_string(), n(at));
    }
    out.insert(VERSION.to_string(), n(version));
    for (field, value) in &item.body {
        out.insert(format!("{BODY_PREFIX}{field}"), json_to_attribute(value)?);
    }
    Ok(out)
}

fn string(attributes: &Attributes, name: &str) -> Option<String> {
    match attributes.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

fn number(attributes: &Attributes, name: &str) -> Option<i64> {
    match attributes.get(name) {
        Some(AttributeValue::N(value)) => value.parse().ok(),
        _ => None,
    }
}

pub fn expires_at(attributes: &Attributes) -> Option<i64> {
    number(attributes, EXPIRES_AT)
}

pub fn from_attributes(attributes: Attributes) -> Result<Item, StoreError> {
    let unreadable = || StoreError::Invalid("an item without pk/sk".into());
    let key = Key::new(
        string(&attributes, PK).ok_or_else(unreadable)?,
        string(&attributes, SK).ok_or_else(unreadable)?,
    );
    let mut item = Item::new(key, Map::new());
    for index in INDEXES {
        let (pk_name, sk_name) = key_names(index);
        if let (Some(pk), Some(sk)) = (string(&attributes, pk_name), string(&attributes, sk_name)) {
            item = item.with_gsi(index, Some(IndexKey::new(pk, sk)));
        }
    }
    item.expires_at = expires_at(&attributes);
    item.version = number(&attributes, VERSION).unwrap_or(0).max(0) as u64;
    for (name, value) in attributes {
        if let Some(field) = name.strip_prefix(BODY_PREFIX) {
            let value: Value = serde_dynamo::from_attribute_value(value).map_err(|e| {
                StoreError::Invalid(format!("stored field {field} is unreadable: {e}"))
            })?;
            item.body.insert(field.to_string(), value);
        }
    }
    Ok(item)
}
