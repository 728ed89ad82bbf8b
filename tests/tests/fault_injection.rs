//! The fault-injection suite: a batch of workflows (a diamond with an HTTP call, a map
//! with tolerated failures, an approval, a sub-workflow, a remote agent's task) runs
//! under seeded faults at the store and engine ports, including the process dying
//! mid-run and a restart on the same data. For every seed: every run ends, a failed run
//! failed because of an injected fault, no step's effect happens twice (the HTTP call is
//! made under one idempotency key, the remote step creates one task), and the API never
//! answers 500.
//!
//! `SKEIN_FAULT_SEEDS` sets the number of seeds (200 by default, in `make test`),
//! `SKEIN_FAULT_FIRST_SEED` the first one (to replay a failing seed), `SKEIN_FAULT_LOG=warn`
//! prints the platform's log. `make faults SEEDS=5000` runs a longer pass. Seeds run
//! concurrently, so which calls fail varies a little between runs of the same seed.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fault_batch::{
    Effects, STARTS, SeedOutcome, WORKFLOWS, check_effects, diamond, run_seeds,
};
use common::faults::{FaultPlan, FaultyEngine, FaultyStore};
use common::upstream::Upstream;
use common::{TestAgent, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SEED_DEADLINE: Duration = Duration::from_secs(30);

/// What a seed's driver watches: the faults, and the problems it saw.
struct Watch<'a> {
    plan: &'a FaultPlan,
    problems: Vec<String>,
}

/// Calls the API, retrying what a client retries (503, 429, a refused connection while
/// the server restarts); a 500 is recorded as a problem.
async fn call(
    app: &TestApp,
    watch: &mut Watch<'_>,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> (StatusCode, Value) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut request = app
            .http
            .request(method.clone(), format!("{}{}", app.url, path))
            .bearer_auth(token);
        if let Some(body) = &body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let (status, value) = match request.send().await {
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or(Value::Null))
            }
            Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Value::Null),
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            watch
                .problems
                .push(format!("{method} {path} answered 500: {value}"));
        }
        let retry =
            status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS;
        // A dead platform answers 503 until the driver restarts it.
        if !retry || watch.plan.is_dead() || Instant::now() > deadline {
            return (status, value);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn run_seed(seed: u64, upstream: &Upstream) -> SeedOutcome {
    let plan = FaultPlan::from_seed(seed);
    let (store_plan, engine_plan) = (plan.clone(), plan.clone());
    let mut app = TestApp::spawn_wired(
        |_| {},
        move |wiring| {
            wiring.store = Box::new(move |inner| {
                Arc::new(FaultyStore {
                    inner,
                    plan: store_plan,
                })
            });
            wiring.engine = Box::new(move |inner| {
                Arc::new(FaultyEngine {
                    inner,
                    plan: engine_plan,
                })
            });
        },
    )
    .await;
    let mut watch = Watch {
        plan: &plan,
        problems: Vec::new(),
    };
    let worker: TestAgent = app.register_agent("worker", &[]).await;
    for yaml in WORKFLOWS
        .iter()
        .map(|y| y.to_string())
        .chain([diamond(&upstream.url)])
    {
        app.apply_ok(&yaml).await;
    }
    plan.arm();

    let admin = app.admin.clone();
    let mut runs = Vec::new();
    let mut died = false;
    for (workflow, input) in STARTS {
        let key = format!("seed-{seed}-{workflow}");
        let body = json!({"input": serde_json::from_str::<Value>(input).unwrap()});
        let (status, run) = loop {
            let (status, run) = call(
                &app,
                &mut watch,
                Method::POST,
                &format!("/v1/workflows/{workflow}/runs"),
                &admin,
                Some(body.clone()),
                Some(&key),
            )
            .await;
            // The platform died under the request: start it again and retry, as a
            // client retries with the same Idempotency-Key.
            if plan.is_dead() && !died {
                died = true;
                app.restart().await;
                continue;
            }
            break (status, run);
        };
        match run["id"].as_str() {
            Some(id) if status.is_success() => runs.push((workflow.to_string(), id.to_string())),
            _ => watch
                .problems
                .push(format!("{workflow} did not start: {status} {run}")),
        }
    }

    let mut effects = Effects::default();
    let mut unreported: Vec<(String, Value)> = Vec::new();
    let deadline = Instant::now() + SEED_DEADLINE;
    let mut quiet_until = Instant::now() + Duration::from_secs(2);
    let mut statuses = Vec::new();
    loop {
        if plan.is_dead() && !died {
            died = true;
            app.restart().await;
        }
        // The approver and the remote agent do their part.
        for (workflow, id) in &runs {
            if workflow == "gated" {
                call(
                    &app,
                    &mut watch,
                    Method::POST,
                    &format!("/v1/runs/{id}/steps/ok/approve"),
                    &admin,
                    Some(json!({})),
                    None,
                )
                .await;
            }
        }
        let (status, task) = call(
            &app,
            &mut watch,
            Method::POST,
            &format!("/v1/agents/{}/tasks/claim?wait=0", worker.id),
            &worker.token,
            Some(json!({})),
            None,
        )
        .await;
        if status == StatusCode::OK
            && let Some(task_id) = task["id"].as_str()
        {
            effects.task(&task);
            unreported.push((task_id.to_string(), task["input"].clone()));
        }
        // The agent answers the questions in its inbox and acknowledges each one answered;
        // one it could not answer shows up again after a second.
        let (status, inbox) = call(
            &app,
            &mut watch,
            Method::GET,
            &format!("/v1/agents/{}/inbox?wait=0&visibility=1", worker.id),
            &worker.token,
            None,
            None,
        )
        .await;
        if status == StatusCode::OK {
            for entry in inbox["messages"].as_array().cloned().unwrap_or_default() {
                let Some((message, reply)) = effects.question(&entry) else {
                    continue;
                };
                let inbox = format!("/v1/agents/{}/inbox/{message}", worker.id);
                let (status, _) = call(
                    &app,
                    &mut watch,
                    Method::POST,
                    &format!("{inbox}/reply"),
                    &worker.token,
                    Some(reply),
                    None,
                )
                .await;
                if status.is_success() {
                    let ack = format!("{inbox}/ack");
                    call(
                        &app,
                        &mut watch,
                        Method::POST,
                        &ack,
                        &worker.token,
                        None,
                        None,
                    )
                    .await;
                }
            }
        }
        // An agent retries its completion until the platform takes it (or says the task
        // is no longer its own).
        let mut still = Vec::new();
        for (task_id, input) in unreported.drain(..) {
            let (status, _) = call(
                &app,
                &mut watch,
                Method::POST,
                &format!("/v1/tasks/{task_id}/complete"),
                &worker.token,
                Some(json!({"result": {"done": input}})),
                None,
            )
            .await;
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                still.push((task_id, input));
            }
        }
        unreported = still;
        statuses.clear();
        for (workflow, id) in &runs {
            let (_, run) = call(
                &app,
                &mut watch,
                Method::GET,
                &format!("/v1/runs/{id}"),
                &admin,
                None,
                None,
            )
            .await;
            let status = run["status"].as_str().unwrap_or("unknown").to_string();
            let seen = if status == "running" || status == "unknown" {
                run.clone()
            } else {
                run["error"].clone()
            };
            statuses.push((workflow.clone(), status, seen));
        }
        let all_ended = statuses
            .iter()
            .all(|(_, s, _)| s == "succeeded" || s == "failed" || s == "cancelled");
        if all_ended {
            break;
        }
        // Time passes: past the report grace (30 s) and the sweep's other timers, as a
        // run that waits a little longer in real life would see.
        if Instant::now() > quiet_until {
            app.clock.advance(chrono::Duration::seconds(31));
            quiet_until = Instant::now() + Duration::from_secs(2);
        }
        if Instant::now() > deadline {
            let waiting: Vec<String> = statuses
                .iter()
                .filter(|(_, s, _)| s == "running" || s == "unknown")
                .map(|(w, s, run)| {
                    let state = run["id"].as_str().map_or_else(String::new, |id| {
                        common::dump::run_state(app.dir.path(), id)
                    });
                    format!("{w} {s}: {run}\n{state}")
                })
                .collect();
            let injected = plan.injected.lock().unwrap().clone();
            watch.problems.push(format!(
                "runs still not ended after {SEED_DEADLINE:?} (faults {injected:?}):\n  {}",
                waiting.join("\n  ")
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }

    let faults = plan.faults();
    check_effects(
        upstream,
        &runs,
        &effects,
        &statuses,
        faults,
        &mut watch.problems,
    );
    app.stop().await;
    SeedOutcome {
        seed,
        faults,
        died,
        statuses,
        problems: watch.problems,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_run_ends_and_nothing_happens_twice_under_injected_faults() {
    run_seeds(
        "fault injection",
        "SKEIN_FAULT_SEEDS",
        200,
        4,
        |seed, upstream| async move { run_seed(seed, &upstream).await },
    )
    .await;
}
