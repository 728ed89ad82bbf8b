//! The items written last, kept as they were committed, so that reading one back costs
//! a map lookup instead of a SQLite query and a JSON parse.
//!
//! A run reads back almost only what it wrote moments before: its record, its steps'
//! records, the outputs its next step's input is made of. Those reads were about a
//! quarter of `skein dev`'s CPU on a sequential 3-step run (profile in the commit that
//! added this), most of it the query and parsing the item's JSON.
//!
//! Only committed writes fill the cache, in the order they committed
//! ([`GroupCommitter::write_then`](crate::group_commit::GroupCommitter::write_then)), and
//! every write to the item table goes through [`SqliteStore`](super::SqliteStore) (one
//! process holds the database, see [`VFS`](crate::db::VFS)), so a cached item is the
//! item as the database holds it; a read never fills it, since what it read may be older
//! than a write that committed meanwhile. Reads inside a write transaction go to SQLite,
//! which sees the transaction's own changes. Expiry is checked on the way out, as it is
//! for a row.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use skein_core::ports::{Item, Key};

/// Past this size an item is not kept: its reads go to SQLite.
const LARGEST_KEPT: usize = 16 * 1024;
/// The most items kept, and the most bytes of their JSON (parsed, an item takes two to
/// four times its JSON's size). A run in flight reads back a handful of items, so this
/// covers hundreds of runs at once.
const MOST_ITEMS: usize = 4 * 1024;
const MOST_BYTES: usize = 8 * 1024 * 1024;

pub(crate) struct ItemCache(Mutex<Kept>);

#[derive(Default)]
struct Kept {
    items: HashMap<Key, Entry>,
    /// Keys in the order they were last taken in, oldest first, with the stamp they were
    /// taken in with: an entry taken in again since has a newer stamp and stays.
    order: VecDeque<(Key, u64)>,
    bytes: usize,
    /// Counts what was taken in: writes, reads and writes too large to keep.
    stamp: u64,
    /// The newest stamp of an entry dropped (evicted, or written too large): a read that
    /// began before it may have been overtaken by a write whose entry is gone.
    dropped_up_to: u64,
}

struct Entry {
    /// None: no live item (deleted, or read as absent).
    item: Option<Item>,
    bytes: usize,
    stamp: u64,
}

/// What one committed write did to the item table.
#[derive(Default)]
pub(crate) struct Committed {
    /// Each item written, with the size of its JSON.
    pub(crate) written: Vec<(Item, usize)>,
    pub(crate) deleted: Vec<Key>,
}

/// What the cache knows of a key.
// Matched at once by its one caller: boxing the item would cost an allocation per hit.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Lookup {
    /// The item as the database holds it; None when there is no live item.
    Kept(Option<Item>),
    /// Not kept: read SQLite, then [`ItemCache::fill`] with this.
    NotKept(ReadBegan),
}

/// Where the cache stood when a read from SQLite began.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadBegan(u64);

impl ItemCache {
    pub(crate) fn new() -> Self {
        Self(Mutex::default())
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn get(&self, key: &Key, now: i64) -> Lookup {
        let kept = self.kept();
        match kept.items.get(key) {
            None => Lookup::NotKept(ReadBegan(kept.stamp)),
            Some(entry) => Lookup::Kept(
                entry
                    .item
                    .as_ref()
                    .filter(|item| item.expires_at.is_none_or(|at| at > now))
                    .cloned(),
            ),
        }
    }

    /// Keeps what a read from SQLite found at `key` (None: no live item), unless a write
    /// to `key` was taken in since the read `began`: its item is the newer one.
    pub(crate) fn fill(&self, key: &Key, found: Option<&Item>, bytes: usize, began: ReadBegan) {
        if bytes > LARGEST_KEPT {
            return;
        }
        let mut kept = self.kept();
        if kept.items.contains_key(key) || kept.dropped_up_to > began.0 {
            return;
        }
        kept.keep(key.clone(), found.cloned(), bytes);
        kept.evict();
    }

    /// Takes in one committed write; called in commit order.
    pub(crate) fn committed(&self, write: &Committed) {
        let mut kept = self.kept();
        for (item, bytes) in &write.written {
            if *bytes > LARGEST_KEPT {
                kept.drop_written(&item.key);
            } else {
                kept.keep(item.key.clone(), Some(item.clone()), *bytes);
            }
        }
        for key in &write.deleted {
            kept.keep(key.clone(), None, 0);
        }
        kept.evict();
    }
}

impl Kept {
    fn keep(&mut self, key: Key, item: Option<Item>, bytes: usize) {
        self.stamp += 1;
        let stamp = self.stamp;
        self.order.push_back((key.clone(), stamp));
        self.bytes += bytes;
        let entry = Entry { item, bytes, stamp };
        if let Some(old) = self.items.insert(key, entry) {
            self.bytes -= old.bytes;
        }
    }

    /// A write too large to keep: what was kept of its key is stale, and so is what any
    /// read begun before it found.
    fn drop_written(&mut self, key: &Key) {
        self.stamp += 1;
        self.dropped_up_to = self.stamp;
        if let Some(old) = self.items.remove(key) {
            self.bytes -= old.bytes;
        }
    }

    fn evict(&mut self) {
        while self.items.len() > MOST_ITEMS
            || self.bytes > MOST_BYTES
            || self.order.len() > 2 * MOST_ITEMS
        {
            let Some((key, stamp)) = self.order.pop_front() else {
                return;
            };
            let current = self
                .items
                .get(&key)
                .is_some_and(|entry| entry.stamp == stamp);
            if current && let Some(old) = self.items.remove(&key) {
                self.bytes -= old.bytes;
                self.dropped_up_to = self.dropped_up_to.max(stamp);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;

    fn item(pk: &str, n: i64) -> Item {
        let mut body = Map::new();
        body.insert("n".into(), json!(n));
        Item::new(Key::new(pk, "#"), body)
    }

    fn wrote(cache: &ItemCache, item: Item, bytes: usize) {
        cache.committed(&Committed {
            written: vec![(item, bytes)],
            deleted: vec![],
        });
    }

    /// None: not kept; Some(None): kept as absent.
    fn n_of(lookup: Lookup) -> Option<Option<Value>> {
        match lookup {
            Lookup::NotKept(_) => None,
            Lookup::Kept(item) => Some(item.map(|item| item.body["n"].clone())),
        }
    }

    fn began(cache: &ItemCache, key: &Key) -> ReadBegan {
        match cache.get(key, 0) {
            Lookup::NotKept(began) => began,
            Lookup::Kept(_) => panic!("{key:?} is kept"),
        }
    }

    #[test]
    fn the_last_committed_write_of_a_key_is_what_it_holds() {
        let cache = ItemCache::new();
        let key = Key::new("a", "#");
        assert!(
            n_of(cache.get(&key, 0)).is_none(),
            "never written: not kept"
        );
        for n in 1..=3 {
            wrote(&cache, item("a", n), 10);
        }
        assert_eq!(n_of(cache.get(&key, 0)), Some(Some(json!(3))));
        cache.committed(&Committed {
            written: vec![],
            deleted: vec![key.clone()],
        });
        assert_eq!(
            n_of(cache.get(&key, 0)),
            Some(None),
            "deleted: kept as absent"
        );
    }

    #[test]
    fn an_expired_item_reads_as_absent() {
        let cache = ItemCache::new();
        wrote(&cache, item("a", 1).expiring_at(100), 10);
        let key = Key::new("a", "#");
        assert_eq!(n_of(cache.get(&key, 99)), Some(Some(json!(1))));
        assert_eq!(n_of(cache.get(&key, 100)), Some(None));
    }

    #[test]
    fn a_read_fills_the_cache_unless_a_write_to_its_key_came_in_meanwhile() {
        let cache = ItemCache::new();
        let key = Key::new("a", "#");
        let read = began(&cache, &key);
        cache.fill(&key, Some(&item("a", 1)), 10, read);
        assert_eq!(n_of(cache.get(&key, 0)), Some(Some(json!(1))));

        let other = Key::new("b", "#");
        let read = began(&cache, &other);
        wrote(&cache, item("b", 2), 10);
        // The read began before the write and found the old item: the write's stays.
        cache.fill(&other, Some(&item("b", 1)), 10, read);
        assert_eq!(n_of(cache.get(&other, 0)), Some(Some(json!(2))));
    }

    #[test]
    fn a_large_write_is_not_kept_and_no_read_begun_before_it_is_kept_either() {
        let cache = ItemCache::new();
        let key = Key::new("a", "#");
        wrote(&cache, item("a", 1), 10);
        wrote(&cache, item("a", 2), LARGEST_KEPT + 1);
        let read = began(&cache, &key);
        assert!(n_of(cache.get(&key, 0)).is_none());

        let other = Key::new("b", "#");
        let before = began(&cache, &other);
        wrote(&cache, item("b", 2), LARGEST_KEPT + 1);
        cache.fill(&other, Some(&item("b", 1)), 10, before);
        assert!(
            n_of(cache.get(&other, 0)).is_none(),
            "the read may have found the old item"
        );
        cache.fill(&key, Some(&item("a", 2)), 10, read);
        assert!(
            n_of(cache.get(&key, 0)).is_none(),
            "a later large write came in"
        );
    }

    #[test]
    fn the_oldest_go_first_and_the_bounds_hold() {
        let cache = ItemCache::new();
        for n in 0..(MOST_ITEMS as i64 + 10) {
            wrote(&cache, item(&format!("k{n}"), n), 100);
            // One key written again and again stays.
            wrote(&cache, item("hot", n), 100);
        }
        let kept = cache.kept();
        assert!(kept.items.len() <= MOST_ITEMS);
        assert!(kept.order.len() <= 2 * MOST_ITEMS);
        assert_eq!(kept.bytes, kept.items.len() * 100);
        assert!(!kept.items.contains_key(&Key::new("k0", "#")));
        assert!(kept.items.contains_key(&Key::new("hot", "#")));
        let newest = format!("k{}", MOST_ITEMS + 9);
        assert!(kept.items.contains_key(&Key::new(newest, "#")));
    }
}
