//! The item store: DynamoDB's data model, narrowed to what Skein needs.
//!
//! Items live in one table keyed by `pk`/`sk`, with up to three sparse global secondary
//! indexes. Every write bumps a store-managed `version`, which gives optimistic
//! concurrency (`Condition::VersionIs`). An item whose `expires_at` has passed is absent
//! for every read and condition, whether or not the backend has reaped it yet (DynamoDB's
//! TTL deletes lazily).

use async_trait::async_trait;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// A secondary index entry; an item without one is not in that index.
pub type IndexKey = Key;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    Primary,
    Gsi1,
    Gsi2,
    Gsi3,
}

impl Index {
    /// Position in `Item::gsi`, or None for the table itself.
    pub fn slot(self) -> Option<usize> {
        match self {
            Index::Primary => None,
            Index::Gsi1 => Some(0),
            Index::Gsi2 => Some(1),
            Index::Gsi3 => Some(2),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: Key,
    pub gsi: [Option<IndexKey>; 3],
    /// Epoch seconds after which the item is gone (DynamoDB's TTL attribute).
    pub expires_at: Option<i64>,
    /// Set by the store: 1 after the first write, +1 on every later write.
    pub version: u64,
    pub body: Map<String, Value>,
}

impl Item {
    pub fn new(key: Key, body: Map<String, Value>) -> Self {
        Self {
            key,
            gsi: [None, None, None],
            expires_at: None,
            version: 0,
            body,
        }
    }

    pub fn with_gsi(mut self, index: Index, key: Option<IndexKey>) -> Self {
        if let Some(slot) = index.slot() {
            self.gsi[slot] = key;
        }
        self
    }

    pub fn expiring_at(mut self, epoch_seconds: i64) -> Self {
        self.expires_at = Some(epoch_seconds);
        self
    }

    pub fn index_key(&self, index: Index) -> Option<&IndexKey> {
        match index.slot() {
            None => Some(&self.key),
            Some(slot) => self.gsi[slot].as_ref(),
        }
    }
}

/// Guards a write; the write is refused with `StoreError::ConditionFailed` when false.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Always,
    NotExists,
    Exists,
    VersionIs(u64),
}

/// An in-place change to a body attribute (an UpdateItem expression).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Set(String, Value),
    Remove(String),
    /// Atomic counter: adds to a number attribute, starting from 0 when absent.
    Add(String, i64),
}

#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "ops live briefly in one transaction's list (at most 100); boxing each put would only add an allocation"
)]
pub enum WriteOp {
    Put {
        item: Item,
        condition: Condition,
    },
    Update {
        key: Key,
        changes: Vec<Change>,
        condition: Condition,
    },
    Delete {
        key: Key,
        condition: Condition,
    },
    Check {
        key: Key,
        condition: Condition,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkRange {
    All,
    Prefix(String),
    /// Inclusive on both ends, like DynamoDB's BETWEEN.
    Between(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sk: SkRange,
    pub limit: usize,
    /// Resume after this item (from `Page::next` or `StartAfter::of`).
    pub after: Option<StartAfter>,
    pub descending: bool,
}

impl Query {
    pub fn new(index: Index, pk: impl Into<String>) -> Self {
        Self {
            index,
            pk: pk.into(),
            sk: SkRange::All,
            limit: 100,
            after: None,
            descending: false,
        }
    }

    pub fn sk(mut self, range: SkRange) -> Self {
        self.sk = range;
        self
    }

    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    pub fn after(mut self, cursor: Option<StartAfter>) -> Self {
        self.after = cursor;
        self
    }
}

/// A position in a query: the item's table key and its sort key in the queried index
/// (DynamoDB's ExclusiveStartKey). Any item can produce one, so a caller that filters
/// can stop in the middle of a page and resume exactly there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StartAfter {
    pub pk: String,
    pub sk: String,
    pub index_sk: String,
}

/// DynamoDB's largest sort key, in bytes (partition keys may be 2048).
const MAX_SORT_KEY_BYTES: usize = 1024;

impl StartAfter {
    /// Whether this position can continue `query`: keys DynamoDB accepts, in the query's
    /// partition (primary index) and inside its sort-key range.
    pub fn fits(&self, query: &Query) -> bool {
        let key_ok = |k: &str, max: usize| !k.is_empty() && k.len() <= max;
        if !key_ok(&self.pk, 2048)
            || !key_ok(&self.sk, MAX_SORT_KEY_BYTES)
            || !key_ok(&self.index_sk, MAX_SORT_KEY_BYTES)
        {
            return false;
        }
        let position = match query.index {
            Index::Primary => {
                if self.pk != query.pk {
                    return false;
                }
                &self.sk
            }
            _ => &self.index_sk,
        };
        match &query.sk {
            SkRange::All => true,
            SkRange::Prefix(prefix) => position.starts_with(prefix.as_str()),
            SkRange::Between(low, high) => {
                (low.as_str()..=high.as_str()).contains(&position.as_str())
            }
        }
    }

    pub fn of(item: &Item, index: Index) -> Option<Self> {
        let index_sk = item.index_key(index)?.sk.clone();
        Some(Self {
            pk: item.key.pk.clone(),
            sk: item.key.sk.clone(),
            index_sk,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when more items may follow; pass it as `Query::after`.
    pub next: Option<StartAfter>,
}

/// DynamoDB's item size limit: 400 KB, names and values together.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// An item's size as DynamoDB counts it, near enough: its keys plus `body_json`, its body
/// as JSON (which errs on the large side: quotes and braces count too). The caller passes
/// the JSON it writes, so the body is serialized once.
pub fn item_size(item: &Item, body_json: &str) -> usize {
    let keys: usize = item
        .gsi
        .iter()
        .flatten()
        .map(|k| k.pk.len() + k.sk.len())
        .sum();
    item.key.pk.len() + item.key.sk.len() + keys + body_json.len()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("the write's condition was not met")]
    ConditionFailed,
    /// A transaction was refused; the indexes are the operations whose condition failed.
    #[error("transaction canceled: conditions failed for operations {failed:?}")]
    TransactionCanceled { failed: Vec<usize> },
    #[error("invalid request to the store: {0}")]
    Invalid(String),
    /// The item would pass the store's item size limit (DynamoDB's 400 KB, which the
    /// embedded store enforces too, so that `skein dev` fails where AWS would).
    #[error("{0}")]
    TooLarge(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait ItemStore: Send + Sync {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;

    /// Writes the whole item, replacing any previous one. Returns the stored version.
    async fn put(&self, item: Item, condition: Condition) -> Result<u64, StoreError>;

    /// Changes attributes of an existing item (created empty when absent and the
    /// condition allows it) and returns the item as written.
    async fn update(
        &self,
        key: &Key,
        changes: Vec<Change>,
        condition: Condition,
    ) -> Result<Item, StoreError>;

    /// [`update`](Self::update), for a write on nobody's critical path (a step parked
    /// until its dependencies are done): the store may hold it briefly, to commit it with
    /// the next write instead of alone, and answers once it is written. A store that
    /// commits every write on its own writes it at once.
    async fn update_unhurried(
        &self,
        key: &Key,
        changes: Vec<Change>,
        condition: Condition,
    ) -> Result<Item, StoreError> {
        self.update(key, changes, condition).await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError>;

    async fn query(&self, query: &Query) -> Result<Page<Item>, StoreError>;

    /// All or nothing; at most 100 operations, each on a distinct key.
    async fn transact_write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError>;
}
