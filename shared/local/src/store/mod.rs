//! The item store on SQLite. A call's conditions are checked and its writes applied in
//! one write on the writer connection (one write of a group commit, undone alone if it
//! fails, see [`group_commit`](crate::group_commit)), so each call is atomic. Single
//! items are read through [`cache`] when it holds them.

pub(crate) mod cache;
mod rows;

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use skein_core::ports::{
    Change, Condition, Item, ItemStore, Key, Page, Query, SkRange, StartAfter, StoreError, WriteOp,
};

use crate::db::SqliteDb;
use crate::group_commit::WriteFailed;
use cache::{Committed, Lookup};
use rows::{COLUMNS, index_columns, prepare, read_sized, remove, row_to_item, write};

#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) db: Arc<SqliteDb>,
}

const MAX_TRANSACTION_OPS: usize = 100;

impl SqliteStore {
    pub fn new(db: Arc<SqliteDb>) -> Self {
        Self { db }
    }
}

pub(crate) fn unavailable(err: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

impl From<WriteFailed> for StoreError {
    fn from(failed: WriteFailed) -> Self {
        StoreError::Unavailable(failed.to_string())
    }
}

pub(crate) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn op_key(op: &WriteOp) -> &Key {
    match op {
        WriteOp::Put { item, .. } => &item.key,
        WriteOp::Update { key, .. } | WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } => {
            key
        }
    }
}

/// When a call's write commits.
#[derive(Clone, Copy)]
enum Commit {
    /// In a group of its own unless others are waiting already.
    Now,
    /// With the next write's group, or shortly (see `GroupCommitter::write_soon_then`).
    Soon,
}

impl SqliteStore {
    /// Runs `ops` atomically; the first element of the error names failed conditions.
    async fn transact(&self, ops: Vec<WriteOp>, commit: Commit) -> Result<Vec<Item>, StoreError> {
        let db = self.db.clone();
        let work = move |conn: &rusqlite::Connection| {
            let now = now_secs();
            let mut failed = Vec::new();
            let mut writes = Vec::new();
            for (i, op) in ops.into_iter().enumerate() {
                let (ok, put, delete) = prepare(conn, op, now)?;
                if !ok {
                    failed.push(i);
                }
                writes.push((put, delete));
            }
            if !failed.is_empty() {
                return Err(StoreError::TransactionCanceled { failed });
            }
            let mut committed = Committed::default();
            for (put, delete) in writes {
                if let Some(item) = put {
                    let bytes = write(conn, &item)?;
                    committed.written.push((item, bytes));
                }
                if let Some(key) = delete {
                    remove(conn, &key)?;
                    committed.deleted.push(key);
                }
            }
            Ok(committed)
        };
        let on_commit = move |committed: &Committed| db.item_cache().committed(committed);
        let writes = self.db.writes();
        let committed = match commit {
            Commit::Now => writes.write_then(work, on_commit).await?,
            Commit::Soon => writes.write_soon_then(work, on_commit).await?,
        };
        Ok(committed
            .written
            .into_iter()
            .map(|(item, _)| item)
            .collect())
    }

    async fn update_committed(
        &self,
        key: &Key,
        changes: Vec<Change>,
        condition: Condition,
        commit: Commit,
    ) -> Result<Item, StoreError> {
        let update = WriteOp::Update {
            key: key.clone(),
            changes,
            condition,
        };
        let written = self.single(update, commit).await?;
        written.ok_or_else(|| StoreError::Unavailable("update wrote nothing".into()))
    }

    /// A single operation: a one-element transaction whose failure is ConditionFailed.
    async fn single(&self, op: WriteOp, commit: Commit) -> Result<Option<Item>, StoreError> {
        match self.transact(vec![op], commit).await {
            Ok(mut written) => Ok(written.pop()),
            Err(StoreError::TransactionCanceled { .. }) => Err(StoreError::ConditionFailed),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl ItemStore for SqliteStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let now = now_secs();
        let cache = self.db.item_cache();
        match cache.get(key, now) {
            Lookup::Kept(item) => Ok(item),
            Lookup::NotKept(began) => {
                let (found, bytes) = read_sized(&self.db.reader(), key, now)?;
                cache.fill(key, found.as_ref(), bytes, began);
                Ok(found)
            }
        }
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<u64, StoreError> {
        let written = self
            .single(WriteOp::Put { item, condition }, Commit::Now)
            .await?;
        Ok(written.map_or(0, |item| item.version))
    }

    async fn update(
        &self,
        key: &Key,
        changes: Vec<Change>,
        condition: Condition,
    ) -> Result<Item, StoreError> {
        self.update_committed(key, changes, condition, Commit::Now)
            .await
    }

    async fn update_unhurried(
        &self,
        key: &Key,
        changes: Vec<Change>,
        condition: Condition,
    ) -> Result<Item, StoreError> {
        self.update_committed(key, changes, condition, Commit::Soon)
            .await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        let delete = WriteOp::Delete {
            key: key.clone(),
            condition,
        };
        self.single(delete, Commit::Now).await.map(|_| ())
    }

    async fn query(&self, query: &Query) -> Result<Page<Item>, StoreError> {
        let (pcol, scol) = index_columns(query.index);
        let (cmp, order) = if query.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let mut sql = format!(
            "SELECT {COLUMNS} FROM items WHERE {pcol} = ?1 AND (expires_at IS NULL OR expires_at > ?2)"
        );
        let mut args: Vec<String> = vec![query.pk.clone()];
        match &query.sk {
            SkRange::All => {}
            SkRange::Prefix(prefix) => {
                sql.push_str(&format!(" AND {scol} >= ?3 AND {scol} < ?4"));
                args.push(prefix.clone());
                args.push(format!("{prefix}\u{10FFFF}"));
            }
            SkRange::Between(low, high) => {
                sql.push_str(&format!(" AND {scol} >= ?3 AND {scol} <= ?4"));
                args.push(low.clone());
                args.push(high.clone());
            }
        }
        if let Some(after) = &query.after {
            let n = args.len() + 2;
            sql.push_str(&format!(
                " AND ({scol}, pk, sk) {cmp} (?{n}, ?{}, ?{})",
                n + 1,
                n + 2
            ));
            args.extend([after.index_sk.clone(), after.pk.clone(), after.sk.clone()]);
        }
        let limit = query.limit.clamp(1, 1000);
        sql.push_str(&format!(
            " ORDER BY {scol} {order}, pk {order}, sk {order} LIMIT {}",
            limit + 1
        ));

        let conn = self.db.reader();
        let mut stmt = conn.prepare_cached(&sql).map_err(unavailable)?;
        let mut bound: Vec<&dyn rusqlite::ToSql> = vec![&args[0]];
        let now = now_secs();
        bound.push(&now);
        for arg in &args[1..] {
            bound.push(arg);
        }
        let mut items = stmt
            .query_map(bound.as_slice(), row_to_item)
            .map_err(unavailable)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(unavailable)?;
        let next = if items.len() > limit {
            items.truncate(limit);
            items
                .last()
                .and_then(|last| StartAfter::of(last, query.index))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn transact_write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        if ops.is_empty() || ops.len() > MAX_TRANSACTION_OPS {
            return Err(StoreError::Invalid(format!(
                "a transaction holds 1 to {MAX_TRANSACTION_OPS} operations"
            )));
        }
        let mut keys = HashSet::new();
        if !ops.iter().all(|op| keys.insert(op_key(op).clone())) {
            return Err(StoreError::Invalid(
                "a transaction may touch each key only once".into(),
            ));
        }
        self.transact(ops, Commit::Now).await.map(|_| ())
    }
}

#[cfg(test)]
mod contract {
    use std::sync::Arc;

    use skein_core::ports::ItemStore;

    use super::*;

    fn fresh() -> (tempfile::TempDir, Arc<dyn ItemStore>) {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open_dir(dir.path()).unwrap();
        (dir, Arc::new(SqliteStore::new(Arc::new(db))))
    }

    skein_core::item_store_contract!(fresh());
}
