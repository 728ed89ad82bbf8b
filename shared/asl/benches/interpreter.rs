//! Interpreter speed: per Pass transition, a 1,000-state Pass chain, a Map over 10,000 items
//! with a no-op Task, and a Parallel of 100 branches. `cargo bench -p skein-asl`.

use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use skein_asl::{Execution, ExecutionConfig, Resources, StateMachine, Status};

// The same allocator as the `skein` binary that runs the local engine.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NOOP: &str = "arn:aws:lambda:us-east-1:123456789012:function:noop";

fn pass_chain(length: usize) -> StateMachine {
    let mut states = serde_json::Map::new();
    for i in 0..length {
        let state = if i + 1 == length {
            json!({"Type": "Pass", "End": true})
        } else {
            json!({"Type": "Pass", "Next": format!("S{}", i + 1)})
        };
        states.insert(format!("S{i}"), state);
    }
    StateMachine::from_value(&json!({"StartAt": "S0", "States": states})).unwrap()
}

fn map_over_items() -> StateMachine {
    StateMachine::from_value(&json!({
        "StartAt": "Fan",
        "States": {"Fan": {"Type": "Map", "ItemsPath": "$.items", "End": true,
            "ItemProcessor": {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": NOOP, "End": true}}}}}
    }))
    .unwrap()
}

fn parallel(branches: usize) -> StateMachine {
    // State names are unique across the whole machine, branches included.
    let branch = |i: usize| json!({"StartAt": format!("B{i}"), "States": {format!("B{i}"): {"Type": "Pass", "End": true}}});
    StateMachine::from_value(&json!({
        "StartAt": "Par",
        "States": {"Par": {"Type": "Parallel", "End": true, "Branches": (0..branches).map(branch).collect::<Vec<_>>()}}
    }))
    .unwrap()
}

fn config() -> ExecutionConfig {
    let mut resources = Resources::new();
    resources.register_fn(NOOP, |call| async move { Ok(call.parameters) });
    let mut config = ExecutionConfig::new(Arc::new(resources));
    // A 10,000-item inline Map records ~70,000 events; Step Functions would stop at 25,000
    // (it wants a Distributed Map there), the local engine can be told to allow more.
    config.max_history_events = 1_000_000;
    config
}

fn run(
    runtime: &tokio::runtime::Runtime,
    machine: &StateMachine,
    input: Value,
    config: &ExecutionConfig,
) {
    let outcome = runtime.block_on(Execution::new(machine, input, config.clone()).run());
    assert_eq!(outcome.status, Status::Succeeded, "{:?}", outcome.error);
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let config = config();
    let input = json!({"order": {"id": "o-1", "lines": [1, 2, 3]}});

    let chain = pass_chain(1_000);
    let mut group = c.benchmark_group("pass");
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("chain_of_1000 (per-element = one transition)", |b| {
        b.iter(|| run(&runtime, &chain, input.clone(), &config))
    });
    group.finish();

    let single = pass_chain(1);
    c.bench_function("pass/single_state_execution", |b| {
        b.iter(|| run(&runtime, &single, input.clone(), &config))
    });

    let map = map_over_items();
    let items = json!({"items": (0..10_000).map(|i| json!({"id": i})).collect::<Vec<_>>()});
    let mut group = c.benchmark_group("map");
    group.sample_size(20);
    // The caller's input is built outside the timing: the engine's work starts at Execution::new.
    group.bench_function("10000_items_noop_task", |b| {
        b.iter_batched(
            || items.clone(),
            |items| run(&runtime, &map, items, &config),
            BatchSize::LargeInput,
        )
    });
    group.finish();

    let fan = parallel(100);
    c.bench_function("parallel/100_branches", |b| {
        b.iter(|| run(&runtime, &fan, input.clone(), &config))
    });
}

criterion_group!(interpreter, benches);
criterion_main!(interpreter);
