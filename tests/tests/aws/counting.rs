//! An item store that counts the calls it passes on, as DynamoDB would bill them: each
//! operation of a transaction is a write. It can also fail transactions on demand (an
//! outage of the writes that deliver messages into inboxes).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use skein_core::ports::{
    Change, Condition, Item, ItemStore, Key, Page, Query, StoreError, WriteOp,
};

#[derive(Default)]
pub struct Counts {
    pub reads: AtomicUsize,
    pub writes: AtomicUsize,
    /// While set, every transaction fails as if DynamoDB were unavailable.
    pub fail_transactions: AtomicBool,
}

impl Counts {
    pub fn snapshot(&self) -> (usize, usize) {
        (
            self.reads.load(Ordering::SeqCst),
            self.writes.load(Ordering::SeqCst),
        )
    }
}

pub struct CountingStore {
    pub inner: Arc<dyn ItemStore>,
    pub counts: Arc<Counts>,
}

impl CountingStore {
    fn read(&self) {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
    }
    fn write(&self, n: usize) {
        self.counts.writes.fetch_add(n, Ordering::SeqCst);
    }
}

#[async_trait]
impl ItemStore for CountingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.read();
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<u64, StoreError> {
        self.write(1);
        self.inner.put(item, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        changes: Vec<Change>,
        condition: Condition,
    ) -> Result<Item, StoreError> {
        self.write(1);
        self.inner.update(key, changes, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.write(1);
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> Result<Page<Item>, StoreError> {
        self.read();
        self.inner.query(query).await
    }
    async fn transact_write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.write(ops.len());
        if self.counts.fail_transactions.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("injected outage".into()));
        }
        self.inner.transact_write(ops).await
    }
}
