//! The item-store contract: DynamoDB's semantics, as Skein relies on them. Writes are
//! here; conditions are in `store_conditions` and query cases in `store_queries`.

pub use super::store_conditions::*;
use super::store_queries::sks;
pub use super::store_queries::*;

use serde_json::{Map, Value, json};

use crate::ports::{
    Change, Condition, Index, IndexKey, Item, ItemStore, Key, Query, StoreError, WriteOp,
};

pub(super) fn body(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("test body must be an object, got {other}"),
    }
}

pub(super) fn item(pk: &str, sk: &str, value: Value) -> Item {
    Item::new(Key::new(pk, sk), body(value))
}

pub(super) fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{nanos}-{}", N.fetch_add(1, Ordering::Relaxed))
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub async fn a_put_item_reads_back_with_version_one(store: &dyn ItemStore) {
    let pk = unique("put");
    let written = item(
        &pk,
        "a",
        json!({"name": "x", "n": 1, "nested": {"k": [1, 2]}}),
    )
    .with_gsi(Index::Gsi1, Some(IndexKey::new("g", "1")));
    assert_eq!(
        store.put(written.clone(), Condition::Always).await.unwrap(),
        1
    );
    let read = store
        .get(&Key::new(&pk, "a"))
        .await
        .unwrap()
        .expect("item should exist");
    assert_eq!(read.body, written.body);
    assert_eq!(read.gsi, written.gsi);
    assert_eq!(read.version, 1);
    assert_eq!(store.get(&Key::new(&pk, "b")).await.unwrap(), None);
}

pub async fn updates_set_remove_and_count_atomically(store: &dyn ItemStore) {
    let pk = unique("upd");
    let key = Key::new(&pk, "a");
    store
        .put(
            item(&pk, "a", json!({"keep": true, "drop": 1}))
                .with_gsi(Index::Gsi2, Some(IndexKey::new("g2", "s"))),
            Condition::Always,
        )
        .await
        .unwrap();
    let changes = vec![
        Change::Set("name".into(), json!("new")),
        Change::Remove("drop".into()),
        Change::Add("count".into(), 5),
    ];
    let updated = store
        .update(&key, changes, Condition::Exists)
        .await
        .unwrap();
    assert_eq!(
        updated.body,
        body(json!({"keep": true, "name": "new", "count": 5}))
    );
    assert_eq!(updated.version, 2);
    assert_eq!(
        updated.gsi[1],
        Some(IndexKey::new("g2", "s")),
        "an update keeps index entries"
    );
    let again = store
        .update(
            &key,
            vec![Change::Add("count".into(), -2)],
            Condition::VersionIs(2),
        )
        .await
        .unwrap();
    assert_eq!(again.body["count"], 3);
}

pub async fn concurrent_counter_adds_are_never_lost(store: &dyn ItemStore) {
    let pk = unique("ctr");
    let key = Key::new(&pk, "c");
    let adds =
        (0..25).map(|_| store.update(&key, vec![Change::Add("n".into(), 1)], Condition::Always));
    for result in futures_join_all(adds).await {
        result.unwrap();
    }
    assert_eq!(store.get(&key).await.unwrap().unwrap().body["n"], 25);
}

/// The guarantee the step engine's read-then-write loops rest on: of writers that read
/// the same version and write "if the version is still v", exactly one succeeds. (moto
/// breaks this unless started by skein-aws's launcher; see `moto_launcher`.)
pub async fn concurrent_conditional_writes_have_one_winner_per_version(store: &dyn ItemStore) {
    let pk = unique("race");
    let key = Key::new(&pk, "r");
    store
        .put(item(&pk, "r", json!({})), Condition::Always)
        .await
        .unwrap();
    let writer = |w: usize| {
        let key = key.clone();
        async move {
            let mut wins = 0u64;
            for round in 0..30 {
                let read = store.get(&key).await.unwrap().unwrap();
                let change = Change::Set(format!("w{w}"), json!(round));
                match store
                    .update(&key, vec![change], Condition::VersionIs(read.version))
                    .await
                {
                    Ok(_) => wins += 1,
                    Err(StoreError::ConditionFailed) => {}
                    Err(other) => panic!("writer {w}: {other}"),
                }
            }
            wins
        }
    };
    let wins: u64 = futures_join_all((0..8).map(writer)).await.into_iter().sum();
    let version = store.get(&key).await.unwrap().unwrap().version;
    assert_eq!(
        wins,
        version - 1,
        "{wins} conditional writes succeeded but the version moved {} times: two writers won the same version",
        version - 1
    );
}

async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    // Polls all futures in turn; enough to interleave adapter calls without a runtime dependency.
    let mut pending: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (i, future) in pending.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(out) => outputs[i] = Some(out),
                    std::task::Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future completed"))
        .collect()
}

pub async fn transactions_are_all_or_nothing_and_name_the_failed_operations(store: &dyn ItemStore) {
    let pk = unique("txn");
    store
        .put(item(&pk, "taken", json!({"v": 1})), Condition::Always)
        .await
        .unwrap();
    let ops = vec![
        WriteOp::Put {
            item: item(&pk, "new", json!({})),
            condition: Condition::NotExists,
        },
        WriteOp::Put {
            item: item(&pk, "taken", json!({"v": 2})),
            condition: Condition::NotExists,
        },
    ];
    assert_eq!(
        store.transact_write(ops).await,
        Err(StoreError::TransactionCanceled { failed: vec![1] })
    );
    assert_eq!(
        store.get(&Key::new(&pk, "new")).await.unwrap(),
        None,
        "nothing of a canceled transaction is written"
    );
    let ok = vec![
        WriteOp::Put {
            item: item(&pk, "new", json!({})),
            condition: Condition::NotExists,
        },
        WriteOp::Update {
            key: Key::new(&pk, "taken"),
            changes: vec![Change::Add("n".into(), 1)],
            condition: Condition::VersionIs(1),
        },
        WriteOp::Check {
            key: Key::new(&pk, "taken2"),
            condition: Condition::NotExists,
        },
        WriteOp::Delete {
            key: Key::new(&pk, "gone"),
            condition: Condition::Always,
        },
    ];
    store.transact_write(ok).await.unwrap();
    assert_eq!(
        store
            .get(&Key::new(&pk, "taken"))
            .await
            .unwrap()
            .unwrap()
            .body["n"],
        1
    );
    assert!(store.get(&Key::new(&pk, "new")).await.unwrap().is_some());
}

pub async fn expired_items_are_absent_everywhere(store: &dyn ItemStore) {
    let pk = unique("ttl");
    let gpk = unique("ttlg");
    let expired = item(&pk, "old", json!({}))
        .with_gsi(Index::Gsi1, Some(IndexKey::new(&gpk, "1")))
        .expiring_at(now_secs() - 10);
    store.put(expired, Condition::Always).await.unwrap();
    store
        .put(
            item(&pk, "live", json!({})).expiring_at(now_secs() + 3600),
            Condition::Always,
        )
        .await
        .unwrap();
    assert_eq!(store.get(&Key::new(&pk, "old")).await.unwrap(), None);
    assert_eq!(
        sks(&store
            .query(&Query::new(Index::Primary, &pk))
            .await
            .unwrap()
            .items),
        ["live"]
    );
    assert!(
        store
            .query(&Query::new(Index::Gsi1, &gpk))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    store
        .put(
            item(&pk, "old", json!({"reborn": true})),
            Condition::NotExists,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .get(&Key::new(&pk, "old"))
            .await
            .unwrap()
            .unwrap()
            .body["reborn"],
        true
    );
}
