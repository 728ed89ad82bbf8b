//! One item as one row of the `items` table: reading it, writing it, and checking a
//! transaction's conditions against the rows as they were before it.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value};
use skein_core::ports::{
    Change, Condition, Index, IndexKey, Item, Key, MAX_ITEM_BYTES, StoreError, WriteOp, item_size,
};

use super::unavailable;

pub(super) const COLUMNS: &str =
    "pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk, expires_at, version, body";

pub(super) fn index_columns(index: Index) -> (&'static str, &'static str) {
    match index {
        Index::Primary => ("pk", "sk"),
        Index::Gsi1 => ("gsi1pk", "gsi1sk"),
        Index::Gsi2 => ("gsi2pk", "gsi2sk"),
        Index::Gsi3 => ("gsi3pk", "gsi3sk"),
    }
}

pub(super) fn row_to_item(row: &Row<'_>) -> rusqlite::Result<Item> {
    sized_row_to_item(row).map(|(item, _)| item)
}

/// The item, and the size of its JSON.
fn sized_row_to_item(row: &Row<'_>) -> rusqlite::Result<(Item, usize)> {
    let index = |p: usize, s: usize| -> rusqlite::Result<Option<IndexKey>> {
        let pk: Option<String> = row.get(p)?;
        let sk: Option<String> = row.get(s)?;
        Ok(pk.zip(sk).map(|(pk, sk)| IndexKey::new(pk, sk)))
    };
    // Parsed from SQLite's own buffer, not a copy of it.
    let body = row.get_ref(10)?.as_str()?;
    let bytes = body.len();
    let body = serde_json::from_str::<Map<String, Value>>(body).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(10, rusqlite::types::Type::Text, Box::new(e))
    })?;
    let item = Item {
        key: Key::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?),
        gsi: [index(2, 3)?, index(4, 5)?, index(6, 7)?],
        expires_at: row.get(8)?,
        version: row.get::<_, i64>(9)? as u64,
        body,
    };
    Ok((item, bytes))
}

fn is_live(item: &Item, now: i64) -> bool {
    item.expires_at.is_none_or(|at| at > now)
}

/// The current, unexpired item at `key`, as seen by `conn`.
pub(super) fn read(conn: &Connection, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
    read_sized(conn, key, now).map(|(item, _)| item)
}

/// [`read`], and the size of the item's JSON (0 when there is none).
pub(super) fn read_sized(
    conn: &Connection,
    key: &Key,
    now: i64,
) -> Result<(Option<Item>, usize), StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2"
        ))
        .map_err(unavailable)?;
    let found = stmt
        .query_row(params![key.pk, key.sk], sized_row_to_item)
        .optional()
        .map_err(unavailable)?;
    Ok(match found {
        Some((item, bytes)) if is_live(&item, now) => (Some(item), bytes),
        _ => (None, 0),
    })
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

/// Writes an item over the one at its key in place: an index whose columns did not
/// change is not touched, where a replace deletes the row and inserts it again, and
/// every index entry with it.
const UPSERT: &str = "INSERT INTO items (pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk, expires_at, version, body)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
     ON CONFLICT (pk, sk) DO UPDATE SET
         gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk,
         gsi2pk = excluded.gsi2pk, gsi2sk = excluded.gsi2sk,
         gsi3pk = excluded.gsi3pk, gsi3sk = excluded.gsi3sk,
         expires_at = excluded.expires_at, version = excluded.version, body = excluded.body";

/// Writes `item`; returns the size of its JSON.
pub(super) fn write(conn: &Connection, item: &Item) -> Result<usize, StoreError> {
    let body = serde_json::to_string(&item.body).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let size = item_size(item, &body);
    if size > MAX_ITEM_BYTES {
        return Err(StoreError::TooLarge(format!(
            "a record of {size} bytes passes the {MAX_ITEM_BYTES}-byte item limit"
        )));
    }
    let (g1, g2, g3) = (&item.gsi[0], &item.gsi[1], &item.gsi[2]);
    let mut stmt = conn.prepare_cached(UPSERT).map_err(unavailable)?;
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
    Ok(body.len())
}

pub(super) fn remove(conn: &Connection, key: &Key) -> Result<(), StoreError> {
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
pub(super) fn prepare(
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
