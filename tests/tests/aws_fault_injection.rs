//! The fault-injection suite on the AWS adapters against moto: DynamoDB, SQS and Step
//! Functions, with the test playing Lambda's SQS event source, EventBridge and the
//! scheduler's tick. The same seeded faults as `fault_injection.rs` (a refused call, a
//! lost reply, the functions dying at the Nth call and new sandboxes taking over) at the
//! store and engine ports; the same checks: every run ends, a failed run had a fault,
//! no step's effect happens twice, and no request answers 500.
//!
//! `SKEIN_AWS_FAULT_SEEDS` sets the number of seeds (100 in `make test`, 1,000 in `make
//! faults`), and `SKEIN_FAULT_FIRST_SEED` the first one. moto is the limit here: one
//! Python process per server, busy copying tables in every transaction. So the seeds are
//! spread over one moto server per core, and the driver drains the step queue before its
//! clients poll again.

mod aws;
mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws::{Cloud, Layers};
use common::fault_batch::{
    Effects, STARTS, SeedOutcome, WORKFLOWS, check_effects, diamond, run_seeds,
};
use common::faults::{FaultPlan, FaultyEngine, FaultyStore};
use common::upstream::Upstream;
use serde_json::{Value, json};
use skein_http::ApiGroup;
use skein_lambda::message_router::MessageRouterFunction;
use skein_lambda::step_worker::StepWorker;

const SEED_DEADLINE: Duration = Duration::from_secs(90);

/// Calls an API function, retrying a 503 or 429 as a client does; a 500 is a problem.
async fn call(
    cloud: &Cloud,
    problems: &mut Vec<String>,
    group: ApiGroup,
    event: Value,
) -> (u16, Value) {
    for _ in 0..20 {
        let (status, body) = cloud.api(group, event.clone()).await;
        if status == 500 {
            problems.push(format!("{} answered 500: {body}", event["rawPath"]));
        }
        if status != 503 && status != 429 {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (503, Value::Null)
}

async fn run_seed(seed: u64, upstream: &Upstream) -> SeedOutcome {
    let plan = FaultPlan::from_seed(seed);
    let (store_plan, engine_plan) = (plan.clone(), plan.clone());
    let mut cloud = Cloud::with_layers(Layers {
        store: Box::new(move |inner| {
            Arc::new(FaultyStore {
                inner,
                plan: store_plan,
            })
        }),
        engine: Box::new(move |inner| {
            Arc::new(FaultyEngine {
                inner,
                plan: engine_plan,
            })
        }),
        // Steps here take milliseconds; a sandbox that died holds its steps this long.
        // (The driver makes a failed message visible again after 1 s, where SQS waits
        // six times the worker's timeout, so the lease is short to match.)
        step_lease_seconds: 2,
        // One moto process uses one core: the seeds are spread over one per core.
        moto_server: seed as usize % moto_servers(),
    })
    .await;
    let mut problems = Vec::new();
    let admin = cloud.admin.clone();
    let (agent_id, agent_token) = cloud.register_agent("worker").await;
    for yaml in WORKFLOWS
        .iter()
        .map(|y| y.to_string())
        .chain([diamond(&upstream.url)])
    {
        cloud.apply(&yaml).await;
    }
    // The state machines EventBridge reports on, named before the faults start.
    let mut machines: BTreeMap<String, String> = BTreeMap::new();
    for workflow in [
        "diamond", "parent", "gated", "remote", "fanout", "ask", "child",
    ] {
        let machine = cloud.machine(workflow, &json!(1)).await;
        machines.insert(workflow.to_string(), machine);
    }
    plan.arm();

    let mut died = false;
    let mut runs = Vec::new();
    for (workflow, input) in STARTS {
        let body = json!({"input": serde_json::from_str::<Value>(input).unwrap()});
        let mut event = aws::api_event(
            "POST",
            &format!("/v1/workflows/{workflow}/runs"),
            Some(&admin),
            Some(body),
        );
        event["headers"]["idempotency-key"] = json!(format!("seed-{seed}-{workflow}"));
        let (status, run) = loop {
            let (status, run) = call(&cloud, &mut problems, ApiGroup::Runs, event.clone()).await;
            if plan.is_dead() && !died {
                died = true;
                cloud.aws = cloud.another_sandbox();
                continue;
            }
            break (status, run);
        };
        match run["id"].as_str() {
            Some(id) if (200..300).contains(&status) => {
                runs.push((workflow.to_string(), id.to_string()))
            }
            _ => problems.push(format!("{workflow} did not start: {status} {run}")),
        }
    }

    let mut effects = Effects::default();
    let mut unreported: Vec<(String, Value)> = Vec::new();
    let mut reported_ends: HashSet<String> = HashSet::new();
    let mut statuses = Vec::new();
    let deadline = Instant::now() + SEED_DEADLINE;
    loop {
        if plan.is_dead() && !died {
            // The functions that died are replaced by fresh sandboxes.
            died = true;
            cloud.aws = cloud.another_sandbox();
        }
        let worker = StepWorker::new(&cloud.aws);
        // Lambda's SQS event source: whatever the step queue holds now.
        let step_queue = cloud.step_queue.clone();
        let messages = cloud.receive_waiting(&step_queue, 10, 1, 0).await;
        let idle = messages.is_empty();
        if !idle {
            cloud.deliver(&worker, messages).await;
            // Drain the queue before the clients look again: moto's CPU is the limit.
            if Instant::now() < deadline {
                continue;
            }
        }
        // The scheduler's tick.
        let _ = cloud.aws.platform.sweep().await;
        // The approver and the remote agent.
        for (workflow, id) in &runs {
            if workflow == "gated" {
                let event = aws::api_event(
                    "POST",
                    &format!("/v1/runs/{id}/steps/ok/approve"),
                    Some(&admin),
                    Some(json!({})),
                );
                call(&cloud, &mut problems, ApiGroup::Runs, event).await;
            }
        }
        let claim = aws::api_event(
            "POST",
            &format!("/v1/agents/{agent_id}/tasks/claim?wait=0"),
            Some(&agent_token),
            Some(json!({})),
        );
        let (status, task) = call(&cloud, &mut problems, ApiGroup::Tasks, claim).await;
        if status == 200
            && let Some(task_id) = task["id"].as_str()
        {
            effects.task(&task);
            unreported.push((task_id.to_string(), task["input"].clone()));
        }
        // The message-router's event source: questions to the agent, answers to runs.
        let message_queue = cloud.message_queue.clone();
        let routed = cloud.receive_waiting(&message_queue, 10, 1, 0).await;
        if !routed.is_empty() {
            cloud
                .route(&MessageRouterFunction::new(&cloud.aws), routed)
                .await;
        }
        // The agent answers the questions in its inbox and acknowledges each one answered.
        let read = aws::api_event(
            "GET",
            &format!("/v1/agents/{agent_id}/inbox?wait=0&visibility=1"),
            Some(&agent_token),
            None,
        );
        let (status, inbox) = call(&cloud, &mut problems, ApiGroup::Messages, read).await;
        if status == 200 {
            for entry in inbox["messages"].as_array().cloned().unwrap_or_default() {
                let Some((message, reply)) = effects.question(&entry) else {
                    continue;
                };
                let inbox = format!("/v1/agents/{agent_id}/inbox/{message}");
                let reply = aws::api_event(
                    "POST",
                    &format!("{inbox}/reply"),
                    Some(&agent_token),
                    Some(reply),
                );
                let (status, _) = call(&cloud, &mut problems, ApiGroup::Messages, reply).await;
                if (200..300).contains(&status) {
                    let ack =
                        aws::api_event("POST", &format!("{inbox}/ack"), Some(&agent_token), None);
                    call(&cloud, &mut problems, ApiGroup::Messages, ack).await;
                }
            }
        }
        let mut still = Vec::new();
        for (task_id, input) in unreported.drain(..) {
            let complete = aws::api_event(
                "POST",
                &format!("/v1/tasks/{task_id}/complete"),
                Some(&agent_token),
                Some(json!({"result": {"done": input}})),
            );
            let (status, _) = call(&cloud, &mut problems, ApiGroup::Tasks, complete).await;
            if status >= 500 || status == 429 {
                still.push((task_id, input));
            }
        }
        unreported = still;

        statuses.clear();
        for (workflow, id) in &runs {
            let event = aws::api_event("GET", &format!("/v1/runs/{id}"), Some(&admin), None);
            let (_, run) = call(&cloud, &mut problems, ApiGroup::Runs, event).await;
            let status = run["status"].as_str().unwrap_or("unknown").to_string();
            // EventBridge: an ended execution's status change, once.
            if idle
                && status == "running"
                && !reported_ends.contains(id)
                && cloud.report_end(&machines[workflow], id).await
            {
                reported_ends.insert(id.clone());
            }
            let seen = if status == "running" || status == "unknown" {
                run.clone()
            } else {
                run["error"].clone()
            };
            statuses.push((workflow.clone(), status, seen));
        }
        // The children of parent runs end too; EventBridge reports them as well.
        if idle {
            let event = aws::api_event("GET", "/v1/runs?workflow=child", Some(&admin), None);
            let (_, children) = call(&cloud, &mut problems, ApiGroup::Runs, event).await;
            for child in children["items"].as_array().cloned().unwrap_or_default() {
                let id = child["id"].as_str().unwrap_or_default().to_string();
                if child["status"] == "running"
                    && !reported_ends.contains(&id)
                    && cloud.report_end(&machines["child"], &id).await
                {
                    reported_ends.insert(id);
                }
            }
        }
        let all_ended = statuses
            .iter()
            .all(|(_, s, _)| s == "succeeded" || s == "failed" || s == "cancelled");
        if all_ended {
            break;
        }
        if Instant::now() > deadline {
            let mut waiting: Vec<String> = Vec::new();
            for (w, s, run) in statuses
                .iter()
                .filter(|(_, s, _)| s == "running" || s == "unknown")
            {
                let state = match run["id"].as_str() {
                    Some(id) => cloud.dump_run(&machines[w.as_str()], id).await,
                    None => String::new(),
                };
                waiting.push(format!("{w} {s}: {run}\n{state}"));
            }
            let injected = plan.injected.lock().unwrap().clone();
            problems.push(format!(
                "runs still not ended after {SEED_DEADLINE:?} (faults {injected:?}):\n  {}",
                waiting.join("\n  ")
            ));
            break;
        }
        if idle {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let faults = plan.faults();
    check_effects(upstream, &runs, &effects, &statuses, faults, &mut problems);
    SeedOutcome {
        seed,
        faults,
        died,
        statuses,
        problems,
    }
}

#[tokio::test]
async fn a_step_the_worker_cannot_run_on_its_last_receive_fails_with_a_cause_instead_of_waiting() {
    let plan = FaultPlan::from_seed(0);
    let store_plan = plan.clone();
    let cloud = Cloud::with_layers(Layers {
        store: Box::new(move |inner| {
            Arc::new(FaultyStore {
                inner,
                plan: store_plan,
            })
        }),
        engine: Box::new(|engine| engine),
        step_lease_seconds: 5,
        moto_server: 0,
    })
    .await;
    cloud
        .apply("name: stuck\nsteps:\n  - { id: only, builtin: echo, input: { n: 1 } }\n")
        .await;
    let run = cloud.start("stuck", json!({})).await;
    // The table is down: each receive of the step message fails, and SQS brings it back.
    plan.go_down();
    let worker = StepWorker::new(&cloud.aws);
    let step_queue = cloud.step_queue.clone();
    let mut receives = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while receives < 5 {
        assert!(
            Instant::now() < deadline,
            "the step message came {receives} times"
        );
        let messages = cloud.receive_waiting(&step_queue, 10, 0, 1).await;
        receives += messages.len();
        let failed = cloud.deliver(&worker, messages.clone()).await;
        let expected = if receives < 5 { messages.len() } else { 0 };
        assert_eq!(failed.len(), expected, "receive {receives}");
    }
    // The fifth receive failed the step's task; the run ends once the table is back.
    plan.come_back();
    let ended = cloud.drive_to_end(&run).await;
    assert_eq!(ended["status"], "failed", "{ended:#}");
    assert_eq!(ended["error"]["error"], "Skein.Internal", "{ended:#}");
    // The cause ("the platform could not run this step in 5 tries: ...") does not come
    // through: moto's SendTaskFailure handler reads `error` and drops `cause`
    // (moto/stepfunctions/responses.py). Step Functions keeps both.
}

/// One moto server per core, at least two.
fn moto_servers() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get().max(2))
        .min(skein_aws::moto::MAX_SERVERS)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_aws_adapters_every_run_ends_and_nothing_happens_twice_under_injected_faults() {
    run_seeds(
        "fault injection on moto",
        "SKEIN_AWS_FAULT_SEEDS",
        100,
        16,
        |seed, upstream| async move { run_seed(seed, &upstream).await },
    )
    .await;
}
