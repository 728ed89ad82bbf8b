//! What a `transform` step costs: compiling its jq program (paid once per distinct program,
//! thanks to the cache) against running it (paid per step or map item).

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use skein_agents::{BuiltinSettings, Builtins, JqProgram};
use skein_core::ports::{BuiltinAgents, BuiltinCall};

const PROGRAM: &str = "{ index, stars: .stars, sentiment: (if .stars >= 4 then \"positive\" elif .stars <= 2 then \"negative\" else \"mixed\" end) }";

fn transform(c: &mut Criterion) {
    let input = json!({ "index": 3, "text": "Fine for the price", "stars": 3 });
    c.bench_function("compile a jq program (uncached)", |b| {
        b.iter(|| JqProgram::compile(PROGRAM).unwrap())
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let builtins = Builtins::new(BuiltinSettings::default());
    let call = BuiltinCall {
        name: "transform".into(),
        config: json!({ "program": PROGRAM }),
        input,
        idempotency_key: "bench".into(),
        timeout: None,
        trace: None,
        deltas: None,
    };
    c.bench_function("transform step (cached program)", |b| {
        b.iter(|| runtime.block_on(builtins.invoke(call.clone())).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = transform
}
criterion_main!(benches);
