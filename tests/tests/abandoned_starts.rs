//! A step whose try failed for a passing reason gives its start up (so that the
//! redelivery runs it at once), but what that try set going is still out there: a reply
//! it waits for, a task an agent works on. Their results belong to the step's current
//! attempt and must end it, not be dropped as an earlier attempt's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::json;

#[path = "common/use_cases.rs"]
mod use_cases;
use skein_cli::dev::Wiring;
use skein_core::ids::MessageId;
use skein_core::messages::{Message, Recipient};
use skein_core::ports::{
    Change, Condition, Item, ItemStore, Key, Page, Query, StoreError, WriteOp,
};
use skein_core::runs::{RunStatus, StartRun};
use tokio::sync::Notify;

/// Passes every call on, except the step's puts of its wait on a reply meeting (`R#...`
/// items without a reply): the first is made and its reply lost; the next waits until
/// `go_on` rings, so the test's reply arrives while the step's start is given up.
struct LosesTheMeetingsReply {
    inner: Arc<dyn ItemStore>,
    meeting_puts: AtomicUsize,
    lost: Arc<Notify>,
    go_on: Arc<Notify>,
}

#[async_trait]
impl ItemStore for LosesTheMeetingsReply {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<u64, StoreError> {
        if !item.key.sk.starts_with("R#") || item.body.contains_key("reply") {
            return self.inner.put(item, condition).await;
        }
        match self.meeting_puts.fetch_add(1, Ordering::SeqCst) {
            0 => {
                self.inner.put(item, condition).await?;
                self.lost.notify_one();
                Err(StoreError::Unavailable("the reply was lost".into()))
            }
            1 => {
                self.go_on.notified().await;
                self.inner.put(item, condition).await
            }
            _ => self.inner.put(item, condition).await,
        }
    }

    async fn update(
        &self,
        key: &Key,
        changes: Vec<Change>,
        condition: Condition,
    ) -> Result<Item, StoreError> {
        self.inner.update(key, changes, condition).await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.inner.delete(key, condition).await
    }

    async fn query(&self, query: &Query) -> Result<Page<Item>, StoreError> {
        self.inner.query(query).await
    }

    async fn transact_write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.inner.transact_write(ops).await
    }
}

#[tokio::test]
async fn a_reply_that_arrives_while_its_steps_start_is_given_up_ends_the_step() {
    let (lost, go_on) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (l, g) = (lost.clone(), go_on.clone());
    let wiring = Wiring {
        store: Box::new(move |inner| {
            Arc::new(LosesTheMeetingsReply {
                inner,
                meeting_puts: AtomicUsize::new(0),
                lost: l,
                go_on: g,
            })
        }),
        ..Wiring::default()
    };
    let opened = use_cases::open(wiring);
    let (platform, admin) = (&opened.local.platform, &opened.admin);
    platform
        .workflows
        .register(
            admin,
            "name: waits\nsteps:\n  - { id: answer, builtin: message.await, timeout: 10m }\n",
        )
        .await
        .unwrap();
    let request = StartRun {
        input: json!({}),
        version: None,
    };
    let run = platform
        .runs
        .start(admin, "waits", request, None)
        .await
        .unwrap()
        .run;

    // The step registered its wait, but saw the write fail and gave its start up.
    tokio::time::timeout(Duration::from_secs(10), lost.notified())
        .await
        .expect("the step registers its wait");
    let now = chrono::Utc::now();
    let reply = Message {
        id: MessageId::from_ulid(ulid::Ulid::new()),
        tenant: admin.tenant.clone(),
        sender: admin.id.clone(),
        to: Recipient::Run {
            run: run.id.clone(),
        },
        kind: "answer".into(),
        payload: json!({"yes": true}),
        correlation_id: Some(run.id.to_string()),
        sent_at: now,
        expires_at: now + chrono::Duration::hours(1),
        attempt: 1,
    };
    platform.runs.reply_arrived(&run.id, &reply).await.unwrap();
    go_on.notify_one();

    let deadline = Instant::now() + Duration::from_secs(10);
    let ended = loop {
        let seen = platform.runs.get(admin, &run.id).await.unwrap();
        if seen.status.is_terminal() || Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(ended.status, RunStatus::Succeeded, "{ended:?}");
    let output = serde_json::to_value(&ended.output).unwrap();
    assert_eq!(
        output["answer"]["payload"],
        json!({"yes": true}),
        "{output}"
    );
}
