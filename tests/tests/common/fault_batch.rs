//! The batch both fault-injection suites run (SQLite and moto), what each seed reports,
//! and how the suites check and summarise what their seeds saw.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use serde_json::Value;

use super::upstream::Upstream;

/// The batch: a sub-workflow and its child, an approval, a remote agent's task, a map with
/// a tolerated failure, a question to an agent and the wait for its answer; `diamond` adds
/// an HTTP step to the test's upstream.
pub const WORKFLOWS: &[&str] = &[
    "name: child\nsteps:\n  - { id: twice, builtin: transform, input: '{{ input }}', with: { program: '.n * 2' } }\n",
    "name: parent\nsteps:\n  - { id: sub, type: workflow, workflow: { name: child }, input: { n: '{{ input.n }}' } }\n",
    "name: gated\nsteps:\n  - { id: ok, type: approval }\n  - { id: after, builtin: echo, depends_on: [ok] }\n",
    "name: remote\nsteps:\n  - { id: work, agent: worker, timeout: 30s, input: '{{ input }}' }\n",
    "name: ask\nsteps:\n  - { id: send, builtin: message.send, input: { to: worker, kind: question, payload: '{{ input }}' } }\n  - { id: answer, builtin: message.await, depends_on: [send], timeout: 10m }\n",
    "
name: fanout
steps:
  - id: list
    builtin: echo
    input: '{{ input.items }}'
  - id: each
    type: map
    builtin: transform
    with: { program: 'if .item == \"bad\" then error(\"bad item\") else (.item | ascii_upcase) end' }
    map: { over: '{{ steps.list.output }}', max_concurrency: 2, tolerated_failures: 1 }
    input: { item: '{{ item }}' }
",
];

pub fn diamond(upstream: &str) -> String {
    format!(
        "name: diamond\nsteps:\n  - {{ id: a, builtin: echo, input: '{{{{ input }}}}' }}\n  - {{ id: call, builtin: http, depends_on: [a], with: {{ url: '{upstream}/work', retries: 0 }} }}\n  - {{ id: shape, builtin: transform, depends_on: [a], input: '{{{{ steps.a.output }}}}', with: {{ program: '.n + 1' }} }}\n  - {{ id: join, builtin: echo, depends_on: [call, shape], input: '{{{{ steps.shape.output }}}}' }}\n"
    )
}

pub const STARTS: &[(&str, &str)] = &[
    ("diamond", r#"{"n": 1}"#),
    ("parent", r#"{"n": 21}"#),
    ("gated", "{}"),
    ("remote", r#"{"job": 1}"#),
    ("fanout", r#"{"items": ["a", "bad", "c"]}"#),
    ("ask", r#"{"q": 1}"#),
];

/// What the agents saw of the runs' effects: tasks created and questions sent, by run.
#[derive(Default)]
pub struct Effects {
    pub tasks_by_run: BTreeMap<String, HashSet<String>>,
    pub questions_by_run: BTreeMap<String, HashSet<String>>,
}

impl Effects {
    pub fn task(&mut self, claimed: &Value) {
        if let Some(id) = claimed["id"].as_str() {
            let run = claimed["origin"]["run"].as_str().unwrap_or("?").to_string();
            self.tasks_by_run
                .entry(run)
                .or_default()
                .insert(id.to_string());
        }
    }

    /// Notes a question read from the inbox; returns its id and the reply the agent sends.
    pub fn question(&mut self, entry: &Value) -> Option<(String, Value)> {
        let message = &entry["message"];
        if message["kind"] != "question" {
            return None;
        }
        let id = message["id"].as_str()?.to_string();
        let run = message["correlation_id"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        self.questions_by_run
            .entry(run)
            .or_default()
            .insert(id.clone());
        let reply =
            serde_json::json!({ "kind": "answer", "payload": { "to": message["payload"] } });
        Some((id, reply))
    }
}

/// What one seed saw.
pub struct SeedOutcome {
    pub seed: u64,
    pub faults: usize,
    pub died: bool,
    /// (workflow, final status, the run's error or its view if it never ended)
    pub statuses: Vec<(String, String, Value)>,
    pub problems: Vec<String>,
}

/// The checks on a seed's ended runs: a failure needs a fault to explain it, the HTTP
/// step ran under one idempotency key, the remote step created one task, the question
/// was sent once.
pub fn check_effects(
    upstream: &Upstream,
    runs: &[(String, String)],
    effects: &Effects,
    statuses: &[(String, String, Value)],
    faults: usize,
    problems: &mut Vec<String>,
) {
    for (workflow, status, error) in statuses {
        if status != "succeeded" && faults == 0 {
            problems.push(format!(
                "{workflow} ended {status} with no fault injected: {error}"
            ));
        }
    }
    for (workflow, id) in runs {
        if workflow == "diamond" {
            let keys: HashSet<String> = upstream
                .calls
                .keys()
                .into_iter()
                .map(|(k, _)| k)
                .filter(|k| k.starts_with(&format!("{id}:call:")))
                .collect();
            if keys.len() > 1 {
                problems.push(format!("the HTTP step ran under {keys:?}"));
            }
        }
        if let Some(tasks) = effects.tasks_by_run.get(id)
            && tasks.len() > 1
        {
            problems.push(format!("the remote step of {id} created tasks {tasks:?}"));
        }
        if let Some(questions) = effects.questions_by_run.get(id)
            && questions.len() > 1
        {
            problems.push(format!("{id} sent the question {questions:?}"));
        }
    }
}

/// Prints how the runs ended, and fails with every seed's problems.
pub fn report(label: &str, seeds: u64, started: Instant, outcomes: &[SeedOutcome]) {
    let mut ended: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for outcome in outcomes {
        for (workflow, status, error) in &outcome.statuses {
            let how = match error["error"].as_str() {
                Some(name) if status != "succeeded" => format!(
                    "{workflow} {status} {name}: {}",
                    error["cause"].as_str().unwrap_or_default()
                ),
                _ => format!("{workflow} {status}"),
            };
            *ended.entry(how).or_default() += 1;
        }
        for problem in &outcome.problems {
            failures.push(format!("seed {}: {problem}", outcome.seed));
        }
    }
    let faults: usize = outcomes.iter().map(|o| o.faults).sum();
    let deaths = outcomes.iter().filter(|o| o.died).count();
    eprintln!(
        "{label}: {seeds} seeds in {:.1} s, {faults} faults injected, {deaths} restarts",
        started.elapsed().as_secs_f64()
    );
    for (how, count) in &ended {
        eprintln!("  {count:>6}  {how}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs `seeds_var` seeds (or `default`), from `SKEIN_FAULT_FIRST_SEED`, `concurrency` at
/// a time, against one upstream, then reports them under `label`.
pub async fn run_seeds<F, Fut>(
    label: &str,
    seeds_var: &str,
    default: u64,
    concurrency: usize,
    run_seed: F,
) where
    F: Fn(u64, std::sync::Arc<Upstream>) -> Fut,
    Fut: std::future::Future<Output = SeedOutcome>,
{
    use futures_util::StreamExt;
    log_if_asked();
    let seeds = env_number(seeds_var, default);
    let first = env_number("SKEIN_FAULT_FIRST_SEED", 0);
    let upstream = std::sync::Arc::new(Upstream::start().await);
    let started = Instant::now();
    let outcomes: Vec<SeedOutcome> = futures_util::stream::iter(first..first + seeds)
        .map(|seed| run_seed(seed, upstream.clone()))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    report(label, seeds, started, &outcomes);
}

/// A number from the environment, or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The platform's log on the test's output when `SKEIN_FAULT_LOG` names a filter.
pub fn log_if_asked() {
    if std::env::var_os("SKEIN_FAULT_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_env("SKEIN_FAULT_LOG"))
            .with_test_writer()
            .try_init();
    }
}
