//! The runs use cases below HTTP: the platform `skein dev` assembles (SQLite, the local
//! engine, the step-worker loop), called directly, with a layer around the engine port
//! that loses replies and records calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};

#[path = "common/use_cases.rs"]
mod use_cases;
use skein_cli::dev::Wiring;
use skein_core::ids::RunId;
use skein_core::ports::{EngineError, WorkflowEngine};
use skein_core::runs::{RunStatus, StartRun};
use skein_core::workflows::Mode;

/// Passes every call on; the first `start` is made but its reply is lost, and
/// `refused_registers` registrations are refused as by an engine that is down.
struct LosesFirstStartReply {
    inner: Arc<dyn WorkflowEngine>,
    starts: Arc<AtomicUsize>,
    ends_told: Arc<AtomicUsize>,
    refused_registers: Arc<AtomicUsize>,
}

#[async_trait]
impl WorkflowEngine for LosesFirstStartReply {
    async fn register(&self, machine: &str, mode: Mode, asl: &Value) -> Result<(), EngineError> {
        let refuse = self
            .refused_registers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refuse {
            return Err(EngineError::Unavailable("the engine is down".into()));
        }
        self.inner.register(machine, mode, asl).await
    }

    async fn start(&self, machine: &str, run: &str, input: &Value) -> Result<(), EngineError> {
        let n = self.starts.fetch_add(1, Ordering::SeqCst);
        self.inner.start(machine, run, input).await?;
        if n == 0 {
            return Err(EngineError::Unavailable("the reply was lost".into()));
        }
        Ok(())
    }

    async fn stop(
        &self,
        machine: &str,
        run: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), EngineError> {
        self.inner.stop(machine, run, error, cause).await
    }

    async fn send_task_success(&self, token: &str, output: &Value) -> Result<(), EngineError> {
        self.ends_told.fetch_add(1, Ordering::SeqCst);
        self.inner.send_task_success(token, output).await
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), EngineError> {
        self.ends_told.fetch_add(1, Ordering::SeqCst);
        self.inner.send_task_failure(token, error, cause).await
    }

    async fn probe(&self) -> Result<(), EngineError> {
        self.inner.probe().await
    }
}

struct Setup {
    cases: use_cases::UseCases,
    starts: Arc<AtomicUsize>,
    answers: Arc<AtomicUsize>,
    refused_registers: Arc<AtomicUsize>,
}

async fn setup() -> Setup {
    let starts = Arc::new(AtomicUsize::new(0));
    let answers = Arc::new(AtomicUsize::new(0));
    let refused_registers = Arc::new(AtomicUsize::new(0));
    let (s, a, r) = (starts.clone(), answers.clone(), refused_registers.clone());
    let wiring = Wiring {
        engine: Box::new(move |inner| {
            Arc::new(LosesFirstStartReply {
                inner,
                starts: s,
                ends_told: a,
                refused_registers: r,
            })
        }),
        ..Wiring::default()
    };
    Setup {
        cases: use_cases::open(wiring),
        starts,
        answers,
        refused_registers,
    }
}

async fn ended(setup: &Setup, id: &RunId) -> skein_core::runs::Run {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let run = setup
            .cases
            .local
            .platform
            .runs
            .get(&setup.cases.admin, id)
            .await
            .unwrap();
        if run.status.is_terminal() || Instant::now() > deadline {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_start_whose_reply_was_lost_is_made_again_and_the_run_succeeds() {
    let setup = setup().await;
    let platform = &setup.cases.local.platform;
    platform
        .workflows
        .register(
            &setup.cases.admin,
            "name: twice\nsteps:\n  - { id: double, builtin: transform, input: '{{ input }}', with: { program: '.n * 2' } }\n",
        )
        .await
        .unwrap();
    let request = StartRun {
        input: json!({"n": 21}),
        version: None,
    };
    let started = platform
        .runs
        .start(&setup.cases.admin, "twice", request, None)
        .await
        .expect("a lost start reply is retried, not a failed start");
    assert_eq!(setup.starts.load(Ordering::SeqCst), 2);
    let run = ended(&setup, &started.run.id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.output, Some(json!({"double": 42})));
}

#[tokio::test]
async fn an_execution_end_reported_again_changes_nothing_once_the_runs_ended() {
    let setup = setup().await;
    let platform = &setup.cases.local.platform;
    platform
        .workflows
        .register(
            &setup.cases.admin,
            "name: child\nsteps:\n  - { id: echo, builtin: echo }\n",
        )
        .await
        .unwrap();
    platform
        .workflows
        .register(
            &setup.cases.admin,
            "name: parent\nsteps:\n  - { id: sub, type: workflow, workflow: { name: child } }\n",
        )
        .await
        .unwrap();
    let request = StartRun {
        input: json!({}),
        version: None,
    };
    let parent = platform
        .runs
        .start(&setup.cases.admin, "parent", request, None)
        .await
        .unwrap();
    let run = ended(&setup, &parent.run.id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let view = platform
        .runs
        .view(&setup.cases.admin, &parent.run.id)
        .await
        .unwrap();
    let child = view.steps[0]
        .child_run
        .clone()
        .expect("the step names its child");
    let answers = setup.answers.load(Ordering::SeqCst);

    // The child's end arrives again, as a redelivered EventBridge event would.
    let again = skein_core::ports::ExecutionEnded {
        run: child.to_string(),
        input: json!({"run": child, "tenant": "default"}),
        status: skein_core::ports::ExecutionStatus::Succeeded,
        error: None,
        cause: None,
    };
    platform.runs.execution_ended(again).await.unwrap();
    let child_run = platform.runs.get(&setup.cases.admin, &child).await.unwrap();
    assert_eq!(child_run.status, RunStatus::Succeeded);
    // The parent had ended already: nobody is told again, and its step is not re-run.
    assert_eq!(setup.answers.load(Ordering::SeqCst), answers);
    let view = platform
        .runs
        .view(&setup.cases.admin, &parent.run.id)
        .await
        .unwrap();
    assert_eq!(view.steps[0].attempts.len(), 1, "{view:?}");
}

#[tokio::test]
async fn a_version_whose_engine_registration_failed_runs_nothing_until_applied_again() {
    let setup = setup().await;
    let platform = &setup.cases.local.platform;
    let text = "name: flaky\nsteps:\n  - { id: echo, builtin: echo, input: '{{ input }}' }\n";
    setup.refused_registers.store(1, Ordering::SeqCst);
    let refused = platform.workflows.register(&setup.cases.admin, text).await;
    assert!(
        matches!(refused, Err(skein_core::Error::Unavailable(_))),
        "{:?}",
        refused.err()
    );
    // The version was claimed first: it exists, marked pending, and no run starts on it.
    let claimed = platform
        .workflows
        .version(&setup.cases.admin, "flaky", Some(1))
        .await
        .unwrap();
    assert!(claimed.pending);
    let request = || StartRun {
        input: json!({"n": 1}),
        version: None,
    };
    let refused = platform
        .runs
        .start(&setup.cases.admin, "flaky", request(), None)
        .await;
    match refused {
        Err(skein_core::Error::Unavailable(why)) => {
            assert!(why.contains("apply the workflow again"), "{why}")
        }
        other => panic!("{:?}", other.err()),
    }
    // Applying the same text again finishes version 1 rather than adding version 2.
    let registered = platform
        .workflows
        .register(&setup.cases.admin, text)
        .await
        .unwrap();
    assert_eq!(registered.version.version, 1);
    assert!(!registered.version.pending);
    let started = platform
        .runs
        .start(&setup.cases.admin, "flaky", request(), None)
        .await
        .unwrap();
    let run = ended(&setup, &started.run.id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
}
