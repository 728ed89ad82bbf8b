//! Item-store contract cases for queries: order, ranges, pagination, secondary indexes.

use serde_json::json;

use super::store::{item, unique};
use crate::ports::{Condition, Index, IndexKey, Item, ItemStore, Query, SkRange, StartAfter};

async fn put_sorted(store: &dyn ItemStore, pk: &str, sks: &[&str]) {
    for sk in sks {
        store
            .put(item(pk, sk, json!({"sk": sk})), Condition::Always)
            .await
            .unwrap();
    }
}

pub(super) fn sks(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i.key.sk.clone()).collect()
}

pub async fn queries_return_a_partition_in_sort_key_order_page_by_page(store: &dyn ItemStore) {
    let pk = unique("qry");
    put_sorted(store, &pk, &["c", "a", "e", "b", "d"]).await;
    store
        .put(item(&unique("other"), "a", json!({})), Condition::Always)
        .await
        .unwrap();
    let mut query = Query::new(Index::Primary, &pk).limit(2);
    let mut seen = Vec::new();
    loop {
        let page = store.query(&query).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(sks(&page.items));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
}

pub async fn queries_filter_by_prefix_and_range_and_run_backwards(store: &dyn ItemStore) {
    let pk = unique("rng");
    put_sorted(store, &pk, &["A#1", "A#2", "B#1", "B#2", "C#1"]).await;
    let prefix = store
        .query(&Query::new(Index::Primary, &pk).sk(SkRange::Prefix("B#".into())))
        .await
        .unwrap();
    assert_eq!(sks(&prefix.items), ["B#1", "B#2"]);
    let range = Query::new(Index::Primary, &pk).sk(SkRange::Between("A#2".into(), "B#2".into()));
    assert_eq!(
        sks(&store.query(&range).await.unwrap().items),
        ["A#2", "B#1", "B#2"]
    );
    // From the very start: every timer sweep asks for "" to now.
    let from_start =
        Query::new(Index::Primary, &pk).sk(SkRange::Between(String::new(), "A#2".into()));
    assert_eq!(
        sks(&store.query(&from_start).await.unwrap().items),
        ["A#1", "A#2"]
    );
    let mut backwards = Query::new(Index::Primary, &pk).limit(2);
    backwards.descending = true;
    let first = store.query(&backwards).await.unwrap();
    assert_eq!(sks(&first.items), ["C#1", "B#2"]);
    backwards.after = first.next;
    assert_eq!(
        sks(&store.query(&backwards).await.unwrap().items),
        ["B#1", "A#2"]
    );
}

pub async fn secondary_indexes_are_sparse_and_follow_rewrites(store: &dyn ItemStore) {
    let pk = unique("gsi");
    let gpk = unique("g");
    let indexed = |sk: &str, gsk: &str| {
        item(&pk, sk, json!({})).with_gsi(Index::Gsi1, Some(IndexKey::new(&gpk, gsk)))
    };
    store
        .put(indexed("x", "2"), Condition::Always)
        .await
        .unwrap();
    store
        .put(indexed("y", "1"), Condition::Always)
        .await
        .unwrap();
    store
        .put(item(&pk, "z", json!({})), Condition::Always)
        .await
        .unwrap();
    let page = store.query(&Query::new(Index::Gsi1, &gpk)).await.unwrap();
    assert_eq!(
        sks(&page.items),
        ["y", "x"],
        "ordered by the index sort key; z is not indexed"
    );
    store
        .put(item(&pk, "y", json!({})), Condition::VersionIs(1))
        .await
        .unwrap();
    let page = store.query(&Query::new(Index::Gsi1, &gpk)).await.unwrap();
    assert_eq!(
        sks(&page.items),
        ["x"],
        "a rewrite without the index entry leaves the index"
    );
    assert!(
        store
            .query(&Query::new(Index::Gsi2, &gpk))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

pub async fn a_query_resumes_after_any_item(store: &dyn ItemStore) {
    let gpk = unique("resume");
    for (i, sk) in ["a", "b", "c", "d"].iter().enumerate() {
        let entry = IndexKey::new(&gpk, format!("k{i}"));
        store
            .put(
                item(&unique("p"), sk, json!({})).with_gsi(Index::Gsi3, Some(entry)),
                Condition::Always,
            )
            .await
            .unwrap();
    }
    let all = store.query(&Query::new(Index::Gsi3, &gpk)).await.unwrap();
    let after_second: StartAfter = StartAfter::of(&all.items[1], Index::Gsi3).unwrap();
    let rest = store
        .query(&Query::new(Index::Gsi3, &gpk).after(Some(after_second)))
        .await
        .unwrap();
    assert_eq!(sks(&rest.items), ["c", "d"]);
}
