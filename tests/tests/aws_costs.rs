//! What a workflow step costs on AWS, measured on moto: Step Functions state
//! transitions from the execution's history, step-worker invocations and SQS messages as
//! the test delivers them one per invocation (the worst case), and DynamoDB reads and
//! writes counted at the item-store port. A 1-step and an 11-step chain tell the cost
//! per step (the difference over 10) from the cost per run. The README's table is this
//! test's output: run with SKEIN_UPDATE_README=1 to rewrite it.

mod aws;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws::Cloud;
use serde_json::json;
use skein_lambda::step_worker::StepWorker;

#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    transitions: f64,
    invocations: f64,
    messages: f64,
    reads: f64,
    writes: f64,
}

fn chain(name: &str, steps: usize) -> String {
    let mut yaml = format!(
        "name: {name}\nsteps:\n  - {{ id: s0, builtin: echo, input: '{{{{ input }}}}' }}\n"
    );
    for i in 1..steps {
        yaml += &format!(
            "  - {{ id: s{i}, builtin: echo, input: '{{{{ steps.s{}.output }}}}' }}\n",
            i - 1
        );
    }
    yaml
}

/// Starts one run and plays the event sources until it ends, counting.
async fn measure(cloud: &Cloud, name: &str, steps: usize) -> Cost {
    cloud.apply(&chain(name, steps)).await;
    let (reads0, writes0) = cloud.store_calls.snapshot();
    let (invocations0, messages0) = (
        cloud.invocations.load(Ordering::SeqCst),
        cloud.messages.load(Ordering::SeqCst),
    );
    let run = cloud.start(name, json!({"n": 1})).await;
    // Step Functions sends every step's message at once; wait for all of them so the
    // count does not depend on how fast moto sends (the worst case: every later step's
    // message arrives before its dependency finished).
    let sqs = aws_sdk_sqs::Client::new(&cloud.sdk);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&cloud.step_queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        let queued: usize = attributes
            .get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if queued >= steps {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {queued} of {steps} step messages arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let worker = StepWorker::new(&cloud.aws);
    // Later steps first: each is recorded waiting before its dependency finishes.
    let mut first = Vec::new();
    while first.len() < steps {
        first.extend(cloud.receive_up_to(10).await);
    }
    let index = |m: &aws_lambda_events::sqs::SqsMessage| -> usize {
        let body: serde_json::Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
        body["step"].as_str().unwrap()[1..].parse().unwrap()
    };
    first.sort_by_key(|m| std::cmp::Reverse(index(m)));
    for message in first {
        cloud.deliver(&worker, vec![message]).await;
    }
    let machine = cloud.machine(name, &serde_json::json!(1)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut reported = false;
    loop {
        let state = cloud.aws.engine.describe(&machine, &run).await.unwrap();
        let messages = cloud.receive_up_to(1).await;
        if !messages.is_empty() {
            cloud.deliver(&worker, messages).await;
            continue;
        }
        if state.ended.is_some() && reported {
            break;
        }
        if state.ended.is_some() {
            reported = cloud.report_end(&machine, &run).await;
        }
        assert!(Instant::now() < deadline, "{name} did not end");
    }
    let (reads, writes) = cloud.store_calls.snapshot();
    let view = cloud.run(&run).await;
    assert_eq!(view["status"], "succeeded", "{view:#}");
    let transitions = cloud
        .aws
        .engine
        .states_entered(&machine, &run)
        .await
        .unwrap();
    Cost {
        transitions: transitions.len() as f64,
        invocations: (cloud.invocations.load(Ordering::SeqCst) - invocations0) as f64,
        messages: (cloud.messages.load(Ordering::SeqCst) - messages0) as f64,
        reads: (reads - reads0) as f64,
        writes: (writes - writes0) as f64,
    }
}

fn table(per_step: Cost, per_run: Cost) -> String {
    let row = |what: &str, c: Cost| {
        format!(
            "| {what} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
            c.transitions, c.invocations, c.messages, c.reads, c.writes
        )
    };
    let mut out = String::from(
        "| | Step Functions state transitions | Lambda invocations | SQS messages | DynamoDB reads | DynamoDB writes |\n|---|---|---|---|---|---|\n",
    );
    out += &row("per step", per_step);
    out += &row("per run (start, end, API call)", per_run);
    out
}

#[tokio::test]
async fn a_step_costs_one_state_transition_and_its_calls_are_what_the_readme_says() {
    let cloud = Cloud::new().await;
    let one = measure(&cloud, "chain-one", 1).await;
    let eleven = measure(&cloud, "chain-eleven", 11).await;
    let per_step = Cost {
        transitions: (eleven.transitions - one.transitions) / 10.0,
        invocations: (eleven.invocations - one.invocations) / 10.0,
        messages: (eleven.messages - one.messages) / 10.0,
        reads: (eleven.reads - one.reads) / 10.0,
        writes: (eleven.writes - one.writes) / 10.0,
    };
    let per_run = Cost {
        transitions: one.transitions - per_step.transitions,
        invocations: one.invocations - per_step.invocations,
        messages: one.messages - per_step.messages,
        reads: one.reads - per_step.reads,
        writes: one.writes - per_step.writes,
    };
    let table = table(per_step, per_run);
    println!("{table}");
    // The targets: <= 2 transitions, <= 1 invocation and <= 4 writes per step. In this
    // worst case a step's writes are its token, and its dependency's done flag with its
    // start and, since echo only computes, its end (one write; events live on the step
    // record); the finishing dependency's invocation runs it, so its own message is its
    // only invocation. A step whose agent reaches outside writes its end apart: 3.
    assert!(per_step.transitions <= 2.0, "{table}");
    assert!(per_step.invocations <= 1.0, "{table}");
    assert!(per_step.writes <= 2.0, "{table}");

    let readme_path = format!(
        "{}/../README.md",
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
    );
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (start, end) = ("<!-- cost-table:start -->\n", "<!-- cost-table:end -->");
    let from = readme
        .find(start)
        .expect("README has the cost table markers")
        + start.len();
    let to = readme
        .find(end)
        .expect("README has the cost table end marker");
    if readme[from..to] != table {
        if std::env::var_os("SKEIN_UPDATE_README").is_some() {
            let updated = format!("{}{table}{}", &readme[..from], &readme[to..]);
            std::fs::write(readme_path, updated).unwrap();
        } else {
            panic!(
                "the README's cost table is out of date; run with SKEIN_UPDATE_README=1 or paste:\n{table}"
            );
        }
    }
}
