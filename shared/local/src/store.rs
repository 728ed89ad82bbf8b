//! The item store on SQLite. Conditions are checked and writes applied inside one
//! `BEGIN IMMEDIATE` transaction on the writer connection, so each call is atomic.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value};
use skein_core::ports::{
    Change, Condition, Index, IndexKey, Item, ItemStore, Key, MAX_ITEM_BYTES, Page, Query, SkRange,
    StartAfter, StoreError, WriteOp, item_size,
};

use crate::db::SqliteDb;
use crate::group_commit::WriteFailed;

#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) db: Arc<SqliteDb>,
}

const MAX_TRANSACTION_OPS: usize = 100;
const COLUMNS: &str =
    "pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk, expires_at, version, body";

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

fn index_columns(index: Index) -> (&'static str, &'static str) {
    match index {
        Index::Primary => ("pk", "sk"),
        Index::Gsi1 => ("gsi1pk", "gsi1sk"),
        Index::Gsi2 => ("gsi2pk", "gsi2sk"),
        Index::Gsi3 => ("gsi3pk", "gsi3sk"),
    }
}

fn row_to_item(row: &Row<'_>) -> rusqlite::Result<Item> {
    let index = |p: usize, s: usize| -> rusqlite::Result<Option<IndexKey>> {
        let pk: Option<String> = row.get(p)?;
        let sk: Option<String> = row.get(s)?;
        Ok(pk.zip(sk).map(|(pk, sk)| IndexKey::new(pk, sk)))
    };
    let body: String = row.get(10)?;
    let body = serde_json::from_str::<Map<String, Value>>(&body).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(10, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Item {
        key: Key::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?),
        gsi: [index(2, 3)?, index(4, 5)?, index(6, 7)?],
        expires_at: row.get(8)?,
        version: row.get::<_, i64>(9)? as u64,
        body,
    })
}

fn is_live(item: &Item, now: i64) -> bool {
    item.expires_at.is_none_or(|at| at > now)
}

/// The current, unexpired item at `key`, as seen by `conn`.
fn read(conn: &Connection, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2"
        ))
        .map_err(unavailable)?;
    let item = stmt
        .query_row(params![key.pk, key.sk], row_to_item)
        .optional()
        .map_err(unavailable)?;
    Ok(item.filter(|item| is_live(item, now)))
}

/// The version of the live item at `key`, without reading its body: conditions only
/// need this.
fn read_version(conn: &Connection, key: &Key, now: i64) -> Result<Option<u64>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT version FROM items WHERE pk = ?1 AND sk = ?2 AND (expires_at IS NULL OR expires_at > ?3)")
        .map_err(unavailable)?;
    let version = stmt
        .query_row(params![key.pk, key.sk, now], |row| row.get::<_, i64>(0))
        .optional()
        .map_err(unavailable)?;
    Ok(version.map(|v| v as u64))
}

/// Whether `condition` holds for an item whose current version is `current` (None: absent).
fn holds(condition: Condition, current: Option<u64>) -> bool {
    match condition {
        Condition::Always => true,
        Condition::NotExists => current.is_none(),
        Condition::Exists => current.is_some(),
        Condition::VersionIs(v) => current == Some(v),
    }
}

fn write(conn: &Connection, item: &Item) -> Result<(), StoreError> {
    let size = item_size(item);
    if size > MAX_ITEM_BYTES {
        return Err(StoreError::TooLarge(format!(
            "a record of {size} bytes passes the {MAX_ITEM_BYTES}-byte item limit"
        )));
    }
    let body = serde_json::to_string(&item.body).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let (g1, g2, g3) = (&item.gsi[0], &item.gsi[1], &item.gsi[2]);
    let mut stmt = conn
        .prepare_cached(&format!("INSERT OR REPLACE INTO items ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"))
        .map_err(unavailable)?;
    stmt.execute(params![
        item.key.pk,
        item.key.sk,
        g1.as_ref().map(|k| &k.pk),
        g1.as_ref().map(|k| &k.sk),
        g2.as_ref().map(|k| &k.pk),
        g2.as_ref().map(|k| &k.sk),
        g3.as_ref().map(|k| &k.pk),
        g3.as_ref().map(|k| &k.sk),
        item.expires_at,
        item.version as i64,
        body,
    ])
    .map_err(unavailable)?;
    Ok(())
}

fn remove(conn: &Connection, key: &Key) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .map_err(unavailable)?;
    stmt.execute(params![key.pk, key.sk]).map_err(unavailable)?;
    Ok(())
}

fn apply_changes(
    current: Option<Item>,
    key: &Key,
    changes: Vec<Change>,
) -> Result<Item, StoreError> {
    let mut item = current.unwrap_or_else(|| Item::new(key.clone(), Map::new()));
    for change in changes {
        match change {
            Change::Set(name, value) => {
                item.body.insert(name, value);
            }
            Change::Remove(name) => {
                item.body.remove(&name);
            }
            Change::Add(name, delta) => {
                let current = match item.body.get(&name) {
                    None => 0,
                    Some(value) => value.as_i64().ok_or_else(|| {
                        StoreError::Invalid(format!("cannot add to `{name}`: it is not an integer"))
                    })?,
                };
                item.body.insert(name, Value::from(current + delta));
            }
        }
    }
    Ok(item)
}

fn next_version(current: Option<u64>) -> u64 {
    current.map_or(1, |version| version + 1)
}

/// One operation of a transaction, checked against the state before the transaction.
fn prepare(
    conn: &Connection,
    op: WriteOp,
    now: i64,
) -> Result<(bool, Option<Item>, Option<Key>), StoreError> {
    match op {
        WriteOp::Put {
            mut item,
            condition,
        } => {
            let current = read_version(conn, &item.key, now)?;
            item.version = next_version(current);
            Ok((holds(condition, current), Some(item), None))
        }
        WriteOp::Update {
            key,
            changes,
            condition,
        } => {
            let current = read(conn, &key, now)?;
            let current_version = current.as_ref().map(|item| item.version);
            let ok = holds(condition, current_version);
            let version = next_version(current_version);
            let mut item = apply_changes(current, &key, changes)?;
            item.version = version;
            Ok((ok, Some(item), None))
        }
        WriteOp::Delete { key, condition } => {
            let ok = holds(condition, read_version(conn, &key, now)?);
            Ok((ok, None, Some(key)))
        }
        WriteOp::Check { key, condition } => {
            let ok = holds(condition, read_version(conn, &key, now)?);
            Ok((ok, None, None))
        }
    }
}

fn op_key(op: &WriteOp) -> &Key {
    match op {
        WriteOp::Put { item, .. } => &item.key,
        WriteOp::Update { key, .. } | WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } => {
            key
        }
    }
}

impl SqliteStore {
    /// Runs `ops` atomically; the first element of the error names failed conditions.
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<Vec<Item>, StoreError> {
        self.db
            .writes()
            .write(move |conn| {
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
                let mut written = Vec::new();
                for (put, delete) in writes {
                    if let Some(item) = put {
                        write(conn, &item)?;
                        written.push(item);
                    }
                    if let Some(key) = delete {
                        remove(conn, &key)?;
                    }
                }
                Ok(written)
            })
            .await
    }

    /// A single operation: a one-element transaction whose failure is ConditionFailed.
    async fn single(&self, op: WriteOp) -> Result<Option<Item>, StoreError> {
        match self.transact(vec![op]).await {
            Ok(mut written) => Ok(written.pop()),
            Err(StoreError::TransactionCanceled { .. }) => Err(StoreError::ConditionFailed),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl ItemStore for SqliteStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        read(&self.db.reader(), key, now_secs())
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<u64, StoreError> {
        let written = self.single(WriteOp::Put { item, condition }).await?;
        Ok(written.map_or(0, |item| item.version))
    }

    async fn update(
        &self,
        key: &Key,
        changes: Vec<Change>,
        condition: Condition,
    ) -> Result<Item, StoreError> {
        let written = self
            .single(WriteOp::Update {
                key: key.clone(),
                changes,
                condition,
            })
            .await?;
        written.ok_or_else(|| StoreError::Unavailable("update wrote nothing".into()))
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.single(WriteOp::Delete {
            key: key.clone(),
            condition,
        })
        .await
        .map(|_| ())
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
        self.transact(ops).await.map(|_| ())
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
