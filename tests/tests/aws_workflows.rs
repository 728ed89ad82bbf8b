//! Workflows that moto's Step Functions actually executes: every step a task-token SQS
//! message, the test playing Lambda's SQS event source for the step-worker and the
//! EventBridge rule that reports how an execution ended.

mod aws;
#[path = "common/large_values.rs"]
mod large_values;
#[path = "common/upstream.rs"]
mod upstream;

use std::time::{Duration, Instant};

use aws::Cloud;
use serde_json::json;
use skein_http::ApiGroup;
use skein_lambda::step_worker::StepWorker;

const DIAMOND: &str = "
name: diamond
steps:
  - { id: a, builtin: echo, input: { n: '{{ input.n }}' } }
  - { id: b, builtin: transform, with: { program: '.n * 2' }, input: '{{ steps.a.output }}' }
  - { id: c, builtin: transform, with: { program: '.n + 1' }, input: '{{ steps.a.output }}' }
  - { id: d, builtin: echo, input: { doubled: '{{ steps.b.output }}', next: '{{ steps.c.output }}' } }
";

fn status(run: &serde_json::Value, step: &str) -> String {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == step)
        .map(|s| s["status"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_diamond_runs_on_step_functions_to_succeeded_with_its_outputs_in_dynamodb() {
    let cloud = Cloud::new().await;
    cloud.apply(DIAMOND).await;
    let run = cloud.start("diamond", json!({"n": 20})).await;
    let ended = cloud.drive_to_end(&run).await;
    assert_eq!(ended["status"], "succeeded", "{ended:#}");
    assert_eq!(
        ended["output"]["d"],
        json!({"doubled": 40, "next": 21}),
        "{ended:#}"
    );
    let stored = cloud.stored_run(&run).await;
    // The run's record as DynamoDB holds it (body fields are `b.<field>` attributes).
    assert_eq!(stored["b.status"].as_s().unwrap(), "succeeded");
    let output = stored["b.output"].as_m().unwrap();
    assert_eq!(output["d"].as_m().unwrap()["doubled"].as_n().unwrap(), "40");
    let machine = cloud.machine("diamond", &json!(1)).await;
    let state = cloud.aws.engine.describe(&machine, &run).await.unwrap();
    assert_eq!(
        state.ended.unwrap().status,
        skein_core::ports::ExecutionStatus::Succeeded
    );
}

#[tokio::test]
async fn an_approval_waits_for_a_person_then_the_run_finishes() {
    let cloud = Cloud::new().await;
    cloud
        .apply(
            "
name: reviewed
steps:
  - { id: draft, builtin: template, with: { template: 'Report on {{ input.topic }}' }, input: '{{ input }}' }
  - { id: review, type: approval, approval: { message: 'Publish?', timeout: 1h }, depends_on: [draft] }
  - { id: publish, builtin: echo, input: { text: '{{ steps.draft.output }}', by: '{{ steps.review.output.by }}' } }
",
        )
        .await;
    let run = cloud.start("reviewed", json!({"topic": "tides"})).await;
    cloud
        .drive_until(&run, "an approval request", |r| {
            status(r, "review") == "awaiting_approval"
        })
        .await;
    let (code, pending) = cloud.get(ApiGroup::Runs, "/v1/approvals").await;
    assert_eq!(
        (code, pending[0]["step"].clone()),
        (200, json!("review")),
        "{pending}"
    );
    let (code, body) = cloud
        .post(
            ApiGroup::Runs,
            &cloud.admin,
            &format!("/v1/runs/{run}/steps/review/approve"),
            json!({"comment": "ship it"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let ended = cloud.drive_to_end(&run).await;
    assert_eq!(ended["status"], "succeeded", "{ended:#}");
    assert_eq!(ended["output"]["publish"]["text"], "Report on tides");
}

#[tokio::test]
async fn a_failing_step_ends_the_execution_failed_with_its_error_name() {
    let cloud = Cloud::new().await;
    cloud
        .apply(
            "
name: doomed
steps:
  - { id: check, builtin: transform, with: { program: 'error(\"the numbers do not add up\")' } }
  - { id: after, builtin: echo, depends_on: [check] }
",
        )
        .await;
    let run = cloud.start("doomed", json!({})).await;
    let ended = cloud.drive_to_end(&run).await;
    assert_eq!(ended["status"], "failed", "{ended:#}");
    let machine = cloud.machine("doomed", &json!(1)).await;
    let execution = cloud.aws.engine.describe(&machine, &run).await.unwrap();
    let execution = execution.ended.unwrap();
    assert_eq!(execution.status, skein_core::ports::ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("Skein.NonRetryable"));
    assert_eq!(ended["error"]["error"], "Skein.NonRetryable", "{ended:#}");
    assert_eq!(status(&ended, "after"), "cancelled", "{ended:#}");
}

#[tokio::test]
async fn values_larger_than_a_dynamodb_item_are_kept_apart_and_the_run_succeeds() {
    let cloud = Cloud::new().await;
    cloud.apply(large_values::WORKFLOW).await;
    let run = cloud.start("big", large_values::input()).await;
    let ended = cloud.drive_to_end(&run).await;
    large_values::check(&ended);
}

#[tokio::test]
async fn a_redelivered_step_message_does_not_run_the_step_twice() {
    let cloud = Cloud::new().await;
    let upstream = upstream::Upstream::start().await;
    cloud
        .apply(&format!(
            "
name: once
steps:
  - {{ id: call, builtin: http, with: {{ url: '{}/work?ms=1500' }} }}
",
            upstream.url
        ))
        .await;
    let run = cloud.start("once", json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let message = loop {
        if let Some(message) = cloud.receive().await.into_iter().next() {
            break message;
        }
        assert!(Instant::now() < deadline, "the step message never came");
    };
    // Two sandboxes get the same message: SQS delivers at least once.
    let first = StepWorker::new(&cloud.aws);
    let second = StepWorker::new(&cloud.another_sandbox());
    let running = {
        let batch = vec![message.clone()];
        let cloud = &cloud;
        let first = &first;
        async move { cloud.deliver(first, batch).await }
    };
    let duplicate = async {
        while upstream.calls.count("") == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cloud.deliver(&second, vec![message.clone()]).await
    };
    let (first_failed, second_failed) = tokio::join!(running, duplicate);
    assert!(first_failed.is_empty());
    assert_eq!(
        second_failed,
        vec![message.message_id.clone().unwrap()],
        "inside the first worker's lease, the copy goes back to the queue"
    );
    // After the step finished, the copy only re-sends the recorded outcome.
    assert!(cloud.deliver(&second, vec![message]).await.is_empty());
    let ended = cloud.drive_to_end(&run).await;
    assert_eq!(ended["status"], "succeeded", "{ended:#}");
    assert_eq!(upstream.calls.count(""), 1, "{:?}", upstream.calls.keys());
}

#[tokio::test]
async fn a_slow_step_in_a_batch_does_not_hold_back_the_others() {
    let cloud = Cloud::new().await;
    let upstream = upstream::Upstream::start().await;
    cloud
        .apply(&format!(
            "name: slow\nsteps:\n  - {{ id: call, builtin: http, with: {{ url: '{}/work?ms=20000', retries: 0 }} }}\n",
            upstream.url
        ))
        .await;
    cloud
        .apply("name: quick\nsteps:\n  - { id: echo, builtin: echo }\n")
        .await;
    let slow = cloud.start("slow", json!({})).await;
    let quick = cloud.start("quick", json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut batch = Vec::new();
    while batch.len() < 2 {
        batch.extend(cloud.receive().await);
        assert!(Instant::now() < deadline, "the step messages never came");
    }
    let run_of = |m: &aws_lambda_events::sqs::SqsMessage| -> String {
        let body: serde_json::Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
        body["run"].as_str().unwrap().to_string()
    };
    let slow_message = batch.iter().find(|m| run_of(m) == slow).unwrap().clone();
    let mut event = aws_lambda_events::sqs::SqsEvent::default();
    event.records = batch.clone();
    // The invocation must report within a second: the slow step cannot finish by then.
    let report_by = std::time::Instant::now() + Duration::from_secs(1);
    let response = StepWorker::new(&cloud.aws)
        .handle_batch_until(event, Some(report_by))
        .await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, vec![slow_message.message_id.clone().unwrap()]);
    let view = cloud.run(&quick).await;
    assert_eq!(status(&view, "echo"), "succeeded", "{view:#}");
}

#[tokio::test]
async fn the_schedulers_tick_runs_the_same_sweep_as_skein_dev() {
    let cloud = Cloud::new().await;
    // A task whose lease ends at once: the tick's sweep requeues it.
    let (status, agent) = cloud
        .post(
            skein_http::ApiGroup::Agents,
            &cloud.admin,
            "/v1/agents",
            json!({"name": "sleepy"}),
        )
        .await;
    assert_eq!(status, 201, "{agent}");
    let report =
        skein_lambda::scheduler::handle(&cloud.aws.platform, aws::sample("scheduler/tick.json"))
            .await
            .expect("the tick's sweep succeeds");
    let sweep = report.sweep.expect("a tick reports its sweep");
    assert_eq!(sweep.failures, 0, "{sweep:?}");
    let refused =
        skein_lambda::scheduler::handle(&cloud.aws.platform, json!({"action": "dance"})).await;
    assert!(matches!(
        refused,
        Err(skein_lambda::scheduler::SchedulerError::BadEvent(_))
    ));
}

/// The run's step once its task for the agent exists.
async fn waiting_on_its_task(cloud: &Cloud, run: &str) {
    cloud
        .drive_until(run, "a task for its step", |view| {
            view["steps"][0]["task"].is_string()
        })
        .await;
}

// moto drops the cause of SendTaskFailure, so the run's own cause is empty there; the
// step's error, which the platform records before it answers the engine, carries it.

#[tokio::test]
async fn an_agents_40_kib_error_message_fails_the_run_with_the_cause_clipped() {
    let cloud = Cloud::new().await;
    let (agent, token) = cloud.register_agent("writer").await;
    cloud
        .apply("name: waits\nsteps:\n  - { id: draft, agent: writer }\n")
        .await;
    let run = cloud.start("waits", json!({})).await;
    waiting_on_its_task(&cloud, &run).await;
    let claim = format!("/v1/agents/{agent}/tasks/claim?wait=0");
    let (status, task) = cloud.post(ApiGroup::Tasks, &token, &claim, json!({})).await;
    assert_eq!(status, 200, "{task}");
    let message = "e".repeat(40 * 1024);
    let fail = format!("/v1/tasks/{}/fail", task["id"].as_str().unwrap());
    let body = json!({"error": {"code": "boom", "message": message}, "retryable": false});
    let (status, failed) = cloud.post(ApiGroup::Tasks, &token, &fail, body).await;
    assert_eq!(status, 200, "{failed}");
    let ended = cloud.drive_to_end(&run).await;
    assert_eq!(ended["status"], "failed");
    assert_eq!(ended["error"]["error"], "Skein.AgentFailed");
    let cause = ended["steps"][0]["error"]["cause"].as_str().unwrap();
    assert_eq!(cause.chars().count(), skein_core::steps::MAX_CAUSE_CHARS);
    assert!(
        cause.ends_with(" [truncated]"),
        "{}",
        &cause[cause.len() - 40..]
    );
}

#[tokio::test]
async fn deleting_the_agent_a_step_waits_for_ends_the_run_naming_it() {
    let cloud = Cloud::new().await;
    let (agent, _) = cloud.register_agent("writer").await;
    cloud
        .apply("name: waits\nsteps:\n  - { id: draft, agent: writer }\n")
        .await;
    let run = cloud.start("waits", json!({})).await;
    waiting_on_its_task(&cloud, &run).await;
    let delete = aws::api_event(
        "DELETE",
        &format!("/v1/agents/{agent}"),
        Some(&cloud.admin),
        None,
    );
    let (status, body) = cloud.api(ApiGroup::Agents, delete).await;
    assert_eq!(status, 204, "{body}");
    // The scheduler's next tick fails the deleted agent's queued tasks.
    let swept = cloud.aws.platform.sweep().await;
    assert_eq!((swept.task_timers_fired, swept.failures), (1, 0));
    let ended = cloud.drive_to_end(&run).await;
    assert_eq!(ended["status"], "failed", "{ended:#}");
    assert_eq!(ended["error"]["error"], "Skein.AgentGone");
    let cause = ended["steps"][0]["error"]["cause"].as_str().unwrap();
    assert!(
        cause.contains(&agent) && cause.contains("deleted"),
        "{cause}"
    );
}

#[tokio::test]
async fn an_input_that_renders_too_large_fails_its_step_at_once_naming_it() {
    let cloud = Cloud::new().await;
    cloud
        .apply(
            "
name: copies
steps:
  - { id: big, builtin: transform, with: { program: '\"x\" * 200000' } }
  - id: twice
    builtin: echo
    input: { a: '{{ steps.big.output }}', b: '{{ steps.big.output }}' }
    retry: { max_attempts: 3, backoff: 1s }
",
        )
        .await;
    let run = cloud.start("copies", json!({})).await;
    let ended = cloud.drive_to_end(&run).await;
    assert_eq!(ended["status"], "failed");
    assert_eq!(ended["error"]["error"], "Skein.NonRetryable");
    let twice = &ended["steps"][1];
    let cause = twice["error"]["cause"].as_str().unwrap();
    assert!(
        cause.contains("step `twice`") && cause.contains("more than 262144 bytes"),
        "{cause}"
    );
    assert_eq!(twice["attempts"].as_array().unwrap().len(), 1);
}
