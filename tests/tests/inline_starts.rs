//! A worker call runs the step its step made ready itself, and starts it in the write that
//! marks its dependency done. If the call then fails (its answer to the engine is lost),
//! the step it started must not be stranded: it is given back to the step queue with its
//! start given up, and the run still ends.

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

/// Passes every call on, except the first `lost_answers` step answers: they never reach
/// the engine, as when it is briefly unreachable.
struct LosesAnswers {
    inner: Arc<dyn WorkflowEngine>,
    lost_answers: Arc<AtomicUsize>,
}

impl LosesAnswers {
    fn loses_this_one(&self) -> bool {
        self.lost_answers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

#[async_trait]
impl WorkflowEngine for LosesAnswers {
    async fn register(&self, machine: &str, mode: Mode, asl: &Value) -> Result<(), EngineError> {
        self.inner.register(machine, mode, asl).await
    }

    async fn start(&self, machine: &str, run: &str, input: &Value) -> Result<(), EngineError> {
        self.inner.start(machine, run, input).await
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
        if self.loses_this_one() {
            return Err(EngineError::Unavailable("the engine did not answer".into()));
        }
        self.inner.send_task_success(token, output).await
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), EngineError> {
        self.inner.send_task_failure(token, error, cause).await
    }

    async fn probe(&self) -> Result<(), EngineError> {
        self.inner.probe().await
    }
}

fn platform_losing(lost_answers: usize) -> use_cases::UseCases {
    let lost = Arc::new(AtomicUsize::new(lost_answers));
    use_cases::open(Wiring {
        engine: Box::new(move |inner| {
            Arc::new(LosesAnswers {
                inner,
                lost_answers: lost,
            })
        }),
        ..Wiring::default()
    })
}

async fn ended(cases: &use_cases::UseCases, id: &RunId) -> skein_core::runs::Run {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let run = cases
            .local
            .platform
            .runs
            .get(&cases.admin, id)
            .await
            .unwrap();
        if run.status.is_terminal() || Instant::now() > deadline {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const CHAIN: &str = "name: chain\nsteps:\n  - { id: a, builtin: echo, input: '{{ input }}' }\n  - { id: b, builtin: transform, input: '{{ steps.a.output }}', with: { program: '.n + 1' } }\n  - { id: c, builtin: transform, input: '{{ steps.b.output }}', with: { program: '. * 10' } }\n";

async fn run_chain(cases: &use_cases::UseCases) -> skein_core::runs::Run {
    let platform = &cases.local.platform;
    platform
        .workflows
        .register(&cases.admin, CHAIN)
        .await
        .unwrap();
    let request = StartRun {
        input: json!({"n": 1}),
        version: None,
    };
    let started = platform
        .runs
        .start(&cases.admin, "chain", request, None)
        .await
        .unwrap();
    ended(cases, &started.run.id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_runs_each_step_once_with_its_dependencys_output() {
    let cases = platform_losing(0);
    let run = run_chain(&cases).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.output, Some(json!({"c": 20})));
    let view = cases
        .local
        .platform
        .runs
        .view(&cases.admin, &run.id)
        .await
        .unwrap();
    for step in &view.steps {
        assert_eq!(step.attempts.len(), 1, "{step:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_started_by_a_call_whose_answer_was_lost_still_runs() {
    // a's answer is lost after a's end was recorded and b was started in the write that
    // marked a done: the call fails, b is given back, and the redelivered a answers again.
    let cases = platform_losing(1);
    let run = run_chain(&cases).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.output, Some(json!({"c": 20})));
}
