//! A step whose builtin only computes (echo, template, transform, decision) runs before
//! its start is written, and one write records its start and its end: its record is
//! written once more than its dependencies' done flags need, not twice. A builtin that
//! fails, or one that reaches outside (http, llm), records its start first as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::json;

#[path = "common/use_cases.rs"]
mod use_cases;
use skein_cli::dev::Wiring;
use skein_core::ports::{
    Change, Condition, Item, ItemStore, Key, Page, Query, StoreError, WriteOp,
};
use skein_core::runs::{Run, RunStatus, StartRun};

/// Passes every call on, counting the writes to each step's record (by sort key).
struct CountsStepWrites {
    inner: Arc<dyn ItemStore>,
    writes: Arc<Mutex<HashMap<String, usize>>>,
}

impl CountsStepWrites {
    fn count(&self, key: &Key) {
        if let Some(step) = key.sk.strip_prefix("S#") {
            *self
                .writes
                .lock()
                .unwrap()
                .entry(step.to_string())
                .or_default() += 1;
        }
    }
}

#[async_trait]
impl ItemStore for CountsStepWrites {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<u64, StoreError> {
        self.count(&item.key);
        self.inner.put(item, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        changes: Vec<Change>,
        condition: Condition,
    ) -> Result<Item, StoreError> {
        self.count(key);
        self.inner.update(key, changes, condition).await
    }
    async fn update_unhurried(
        &self,
        key: &Key,
        changes: Vec<Change>,
        condition: Condition,
    ) -> Result<Item, StoreError> {
        self.count(key);
        self.inner.update_unhurried(key, changes, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.count(key);
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> Result<Page<Item>, StoreError> {
        self.inner.query(query).await
    }
    async fn transact_write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.inner.transact_write(ops).await
    }
}

type Writes = Arc<Mutex<HashMap<String, usize>>>;

fn counting_platform() -> (use_cases::UseCases, Writes) {
    let writes = Writes::default();
    let counted = writes.clone();
    let cases = use_cases::open(Wiring {
        store: Box::new(move |inner| {
            Arc::new(CountsStepWrites {
                inner,
                writes: counted,
            })
        }),
        ..Wiring::default()
    });
    (cases, writes)
}

async fn run_to_end(cases: &use_cases::UseCases, workflow: &str, input: serde_json::Value) -> Run {
    let platform = &cases.local.platform;
    let registered = platform
        .workflows
        .register(&cases.admin, workflow)
        .await
        .unwrap();
    let request = StartRun {
        input,
        version: None,
    };
    let started = platform
        .runs
        .start(&cases.admin, &registered.version.workflow, request, None)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let run = platform
            .runs
            .get(&cases.admin, &started.run.id)
            .await
            .unwrap();
        if run.status.is_terminal() || Instant::now() > deadline {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn writes_to(writes: &Writes, step: &str) -> usize {
    writes.lock().unwrap().get(step).copied().unwrap_or(0)
}

const CHAIN: &str = "name: computed\nsteps:\n  - { id: a, builtin: echo, input: '{{ input }}' }\n  - { id: b, builtin: transform, input: '{{ steps.a.output }}', with: { program: '.n + 1' } }\n  - { id: c, builtin: template, input: '{{ steps.b.output }}', with: { template: 'n={{ input }}' } }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_only_computes_is_started_and_ended_in_one_write() {
    let (cases, writes) = counting_platform();
    let run = run_to_end(&cases, CHAIN, json!({"n": 1})).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.output, Some(json!({"c": "n=2"})));

    // a has no dependencies: its message's write starts and ends it. b and c are also
    // marked done by their dependency: one write for the flag, one for the message, and
    // the later of the two starts and ends the step.
    assert_eq!(writes_to(&writes, "a"), 1, "{writes:?}");
    assert_eq!(writes_to(&writes, "b"), 2, "{writes:?}");
    assert_eq!(writes_to(&writes, "c"), 2, "{writes:?}");

    let platform = &cases.local.platform;
    let view = platform.runs.view(&cases.admin, &run.id).await.unwrap();
    for step in &view.steps {
        assert_eq!(step.attempts.len(), 1, "{step:?}");
        let attempt = &step.attempts[0];
        let finished = attempt.finished_at.expect("the attempt is closed");
        assert!(attempt.started_at <= finished, "{step:?}");
    }
    // The stream still tells each step's start before its end.
    let events = platform
        .runs
        .events(&cases.admin, &run.id, None)
        .await
        .unwrap();
    for step in ["a", "b", "c"] {
        let kinds: Vec<&str> = events
            .iter()
            .filter(|e| e.step.as_deref() == Some(step))
            .map(|e| e.kind.as_str())
            .collect();
        assert_eq!(
            kinds,
            ["step.started", "step.succeeded"],
            "{step}: {events:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_computing_step_that_fails_records_its_start_then_its_failure() {
    let (cases, writes) = counting_platform();
    let failing = "name: fails\nsteps:\n  - { id: a, builtin: transform, input: '{{ input }}', with: { program: 'error(\"no such field\")' } }\n";
    let run = run_to_end(&cases, failing, json!({"n": 1})).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    assert_eq!(writes_to(&writes, "a"), 2, "{writes:?}");

    let platform = &cases.local.platform;
    let view = platform.runs.view(&cases.admin, &run.id).await.unwrap();
    let attempt = &view.steps[0].attempts[0];
    let error = attempt.error.as_ref().expect("the attempt's error is kept");
    assert!(error.cause.contains("no such field"), "{error:?}");
    let events = platform
        .runs
        .events(&cases.admin, &run.id, None)
        .await
        .unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e.step.as_deref() == Some("a"))
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(kinds, ["step.started", "step.failed"], "{events:?}");
}
