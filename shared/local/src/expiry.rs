//! Expired items: reads already skip them, as DynamoDB's do; this deletes them, as
//! DynamoDB's TTL does on AWS, so that idempotency records, failed-login counters and
//! rate buckets do not stay on disk for good. `skein dev`'s sweep calls it.

use skein_core::ports::StoreError;

use crate::store::{SqliteStore, now_secs, unavailable};

impl SqliteStore {
    /// Deletes up to `limit` items whose `expires_at` has passed, as DynamoDB's TTL does
    /// on AWS (reads already skip them; this reclaims the space). Returns how many.
    pub async fn purge_expired(&self, limit: usize) -> Result<usize, StoreError> {
        self.db
            .writes()
            .write(move |conn| {
                conn.execute(
                    "DELETE FROM items WHERE (pk, sk) IN (
                         SELECT pk, sk FROM items
                         WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2)",
                    rusqlite::params![now_secs(), limit as i64],
                )
                .map_err(unavailable)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Map;
    use skein_core::ports::{Condition, Item, ItemStore, Key};

    use super::*;
    use crate::SqliteDb;

    #[tokio::test]
    async fn the_sweep_deletes_expired_items_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(Arc::new(SqliteDb::open_dir(dir.path()).unwrap()));
        let item = |pk: &str, expires: Option<i64>| {
            let item = Item::new(Key::new(pk, "#"), Map::new());
            match expires {
                Some(at) => item.expiring_at(at),
                None => item,
            }
        };
        let now = now_secs();
        for (pk, expires) in [
            ("old", Some(now - 10)),
            ("soon", Some(now + 3600)),
            ("kept", None),
        ] {
            store
                .put(item(pk, expires), Condition::Always)
                .await
                .unwrap();
        }
        assert_eq!(store.purge_expired(100).await.unwrap(), 1);
        assert_eq!(store.purge_expired(100).await.unwrap(), 0);
        let conn = store.db.reader();
        let left: i64 = conn
            .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 2);
    }

    #[test]
    fn the_database_is_readable_only_by_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("fresh").join("data");
        let _db = SqliteDb::open_dir(&data).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("skein.db")), 0o600);
    }
}
