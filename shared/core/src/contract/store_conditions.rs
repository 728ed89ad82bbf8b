//! Item-store contract cases for conditions: a refused write changes nothing, versions
//! give optimistic concurrency, and every kind of write obeys its condition.

use serde_json::json;

use super::store::{item, unique};
use crate::ports::{Change, Condition, ItemStore, Key, StoreError};

pub async fn not_exists_refuses_to_overwrite(store: &dyn ItemStore) {
    let pk = unique("nx");
    store
        .put(item(&pk, "a", json!({"v": 1})), Condition::NotExists)
        .await
        .unwrap();
    let again = store
        .put(item(&pk, "a", json!({"v": 2})), Condition::NotExists)
        .await;
    assert_eq!(again, Err(StoreError::ConditionFailed));
    let read = store.get(&Key::new(&pk, "a")).await.unwrap().unwrap();
    assert_eq!(read.body["v"], 1, "a refused write must change nothing");
    let exists = store
        .put(item(&pk, "missing", json!({})), Condition::Exists)
        .await;
    assert_eq!(exists, Err(StoreError::ConditionFailed));
}

pub async fn version_conditions_give_optimistic_concurrency(store: &dyn ItemStore) {
    let pk = unique("ver");
    store
        .put(item(&pk, "a", json!({"v": 1})), Condition::Always)
        .await
        .unwrap();
    assert_eq!(
        store
            .put(item(&pk, "a", json!({"v": 2})), Condition::VersionIs(1))
            .await,
        Ok(2)
    );
    let stale = store
        .put(item(&pk, "a", json!({"v": 3})), Condition::VersionIs(1))
        .await;
    assert_eq!(stale, Err(StoreError::ConditionFailed));
    let read = store.get(&Key::new(&pk, "a")).await.unwrap().unwrap();
    assert_eq!((read.version, read.body["v"].clone()), (2, json!(2)));
}

/// An unhurried update may wait to share a commit, but it is an update: it obeys its
/// condition and answers with the item once that is written.
pub async fn an_unhurried_update_obeys_its_condition_and_is_written_when_answered(
    store: &dyn ItemStore,
) {
    let pk = unique("unhurried");
    let key = Key::new(&pk, "a");
    store
        .put(item(&pk, "a", json!({"v": 1})), Condition::Always)
        .await
        .unwrap();
    let parked = vec![Change::Set("token".into(), json!("t-1"))];
    let written = store
        .update_unhurried(&key, parked, Condition::VersionIs(1))
        .await
        .unwrap();
    assert_eq!(
        (written.version, written.body["token"].clone()),
        (2, json!("t-1"))
    );
    let read = store.get(&key).await.unwrap().unwrap();
    assert_eq!((read.version, read.body["v"].clone()), (2, json!(1)));
    let stale = store
        .update_unhurried(
            &key,
            vec![Change::Remove("token".into())],
            Condition::VersionIs(1),
        )
        .await;
    assert_eq!(stale.map(|_| ()), Err(StoreError::ConditionFailed));
}

pub async fn update_of_a_missing_item_obeys_its_condition(store: &dyn ItemStore) {
    let pk = unique("upm");
    let key = Key::new(&pk, "a");
    let refused = store
        .update(
            &key,
            vec![Change::Set("x".into(), json!(1))],
            Condition::Exists,
        )
        .await;
    assert_eq!(refused, Err(StoreError::ConditionFailed));
    assert_eq!(
        store.get(&key).await.unwrap(),
        None,
        "a refused update must not create the item"
    );
    let created = store
        .update(
            &key,
            vec![Change::Set("x".into(), json!(1))],
            Condition::NotExists,
        )
        .await
        .unwrap();
    assert_eq!((created.version, created.body["x"].clone()), (1, json!(1)));
}

pub async fn deletes_obey_their_condition(store: &dyn ItemStore) {
    let pk = unique("del");
    let key = Key::new(&pk, "a");
    store
        .put(item(&pk, "a", json!({})), Condition::Always)
        .await
        .unwrap();
    assert_eq!(
        store.delete(&key, Condition::VersionIs(7)).await,
        Err(StoreError::ConditionFailed)
    );
    store.delete(&key, Condition::VersionIs(1)).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), None);
    assert_eq!(
        store.delete(&key, Condition::Exists).await,
        Err(StoreError::ConditionFailed)
    );
    store.delete(&key, Condition::Always).await.unwrap();
}
