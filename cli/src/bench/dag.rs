//! `skein bench dag`: how well the engine schedules, and what it costs.
//!
//! 1. Random DAGs whose steps each sleep 10-100 ms (an HTTP call to a local sleep
//!    service): makespan against the critical path, beside what level-by-level
//!    scheduling of the same DAG and durations would take.
//! 2. Engine overhead per no-op step: a chain of `echo` steps, checkpoints included.
//! 3. A 3-step workflow over HTTP: runs/s and start-to-finished latency seen by clients.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::Query;
use axum::routing::post;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{Value, json};
use skein_core::workflows::{Known, parse_definition, validate};

use super::load::LoadError;

pub struct DagBenchPlan {
    pub base: String,
    pub token: String,
    pub dags: usize,
    pub steps: usize,
    pub max_width: usize,
    pub seed: u64,
    pub chain: usize,
    pub http_duration: Duration,
    pub http_clients: usize,
}

#[derive(Debug, Serialize)]
pub struct DagResult {
    pub steps: usize,
    pub levels: usize,
    pub widest: usize,
    pub critical_path_ms: f64,
    pub makespan_ms: f64,
    pub makespan_over_critical_path: f64,
    pub level_by_level_ms: f64,
    pub level_by_level_over_critical_path: f64,
}

#[derive(Debug, Serialize)]
pub struct Overhead {
    pub steps: usize,
    pub run_ms: f64,
    pub per_step_us: f64,
}

#[derive(Debug, Serialize)]
pub struct HttpRuns {
    pub runs: usize,
    pub runs_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub engine_p50_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct DagReport {
    pub dags: Vec<DagResult>,
    pub overhead: Overhead,
    pub http: HttpRuns,
}

fn err(e: impl std::fmt::Display) -> LoadError {
    LoadError(e.to_string())
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn apply(&self, yaml: String) -> Result<Value, LoadError> {
        let response = self
            .http
            .post(format!("{}/v1/workflows", self.base))
            .bearer_auth(&self.token)
            .body(yaml)
            .send()
            .await
            .map_err(err)?;
        if !response.status().is_success() {
            return Err(LoadError(format!(
                "apply failed: {}",
                response.text().await.unwrap_or_default()
            )));
        }
        response.json().await.map_err(err)
    }

    async fn start(&self, workflow: &str) -> Result<String, LoadError> {
        let run: Value = self
            .http
            .post(format!("{}/v1/workflows/{workflow}/runs", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"input": {}}))
            .send()
            .await
            .map_err(err)?
            .json()
            .await
            .map_err(err)?;
        run["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| LoadError(format!("no run id: {run}")))
    }

    /// Polls every `every` until the run ends; returns the final view.
    async fn finished(&self, id: &str, every: Duration) -> Result<Value, LoadError> {
        loop {
            let run: Value = self
                .http
                .get(format!("{}/v1/runs/{id}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await
                .map_err(err)?
                .json()
                .await
                .map_err(err)?;
            match run["status"].as_str() {
                Some("running") => tokio::time::sleep(every).await,
                Some("succeeded") => return Ok(run),
                other => {
                    return Err(LoadError(format!(
                        "run {id} ended {other:?}: {}",
                        run["error"]
                    )));
                }
            }
        }
    }
}

fn millis_between(run: &Value) -> f64 {
    let at = |field: &str| {
        run[field]
            .as_str()
            .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
    };
    match (at("started_at"), at("finished_at")) {
        (Some(s), Some(f)) => (f - s).num_microseconds().unwrap_or(0) as f64 / 1000.0,
        _ => f64::NAN,
    }
}

/// A local service whose `/sleep?ms=N` answers after N ms: the steps' work.
async fn sleep_service() -> Result<SocketAddr, LoadError> {
    #[derive(serde::Deserialize)]
    struct Params {
        ms: u64,
    }
    let app = axum::Router::new().route(
        "/sleep",
        post(|Query(p): Query<Params>| async move {
            tokio::time::sleep(Duration::from_millis(p.ms)).await;
            "{}"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(err)?;
    let addr = listener.local_addr().map_err(err)?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// Levels of random width (1..=max_width); each step depends on one step of the level
/// before and up to two more from any earlier level, so the DAG is rarely series-parallel.
fn random_dag(
    rng: &mut StdRng,
    steps: usize,
    max_width: usize,
    sleep: SocketAddr,
) -> (String, Vec<f64>) {
    let mut levels: Vec<Vec<usize>> = Vec::new();
    let mut placed = 0;
    while placed < steps {
        let width = rng.random_range(1..=max_width).min(steps - placed);
        levels.push((placed..placed + width).collect());
        placed += width;
    }
    let mut yaml = format!("name: bench-dag-{}\nsteps:\n", rng.random::<u32>());
    let mut durations = Vec::with_capacity(steps);
    for (level, members) in levels.iter().enumerate() {
        for &step in members {
            let ms = rng.random_range(10..=100u64);
            durations.push(ms as f64);
            let mut deps: Vec<usize> = Vec::new();
            if level > 0 {
                let previous = &levels[level - 1];
                deps.push(previous[rng.random_range(0..previous.len())]);
                for _ in 0..rng.random_range(0..=2) {
                    let earlier = rng.random_range(0..levels[level - 1][0] + previous.len());
                    deps.push(earlier);
                }
            }
            deps.sort_unstable();
            deps.dedup();
            let deps: Vec<String> = deps.iter().map(|d| format!("s{d}")).collect();
            yaml += &format!(
                "  - {{ id: s{step}, builtin: http, with: {{ url: 'http://{sleep}/sleep?ms={ms}', retries: 0 }}, depends_on: [{}] }}\n",
                deps.join(", ")
            );
        }
    }
    (yaml, durations)
}

pub async fn run_dag(plan: &DagBenchPlan, progress: &dyn Fn(&str)) -> Result<DagReport, LoadError> {
    let api = Api {
        http: reqwest::Client::new(),
        base: plan.base.clone(),
        token: plan.token.clone(),
    };
    let sleep = sleep_service().await?;
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let mut dags = Vec::new();
    for i in 0..plan.dags {
        progress(&format!("random DAG {}/{}", i + 1, plan.dags));
        let (yaml, durations) = random_dag(&mut rng, plan.steps, plan.max_width, sleep);
        let workflow =
            validate(parse_definition(&yaml).map_err(err)?, &Known::default()).map_err(err)?;
        let name = workflow.definition.name.clone();
        api.apply(yaml).await?;
        let id = api.start(&name).await?;
        let run = api.finished(&id, Duration::from_millis(20)).await?;
        let critical = workflow.dag.critical_path(&durations);
        let levels = workflow.dag.levels();
        let mut widths: HashMap<usize, usize> = HashMap::new();
        for level in &levels {
            *widths.entry(*level).or_default() += 1;
        }
        let makespan = millis_between(&run);
        let level_by_level = workflow.dag.level_by_level(&durations);
        dags.push(DagResult {
            steps: plan.steps,
            levels: widths.len(),
            widest: widths.values().copied().max().unwrap_or(0),
            critical_path_ms: critical,
            makespan_ms: makespan,
            makespan_over_critical_path: makespan / critical,
            level_by_level_ms: level_by_level,
            level_by_level_over_critical_path: level_by_level / critical,
        });
    }

    progress(&format!("overhead: a chain of {} no-op steps", plan.chain));
    let mut chain = String::from("name: bench-chain\nsteps:\n  - { id: s0, builtin: echo }\n");
    for i in 1..plan.chain {
        chain += &format!(
            "  - {{ id: s{i}, builtin: echo, depends_on: [s{}] }}\n",
            i - 1
        );
    }
    api.apply(chain).await?;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let id = api.start("bench-chain").await?;
        best = best.min(millis_between(
            &api.finished(&id, Duration::from_millis(5)).await?,
        ));
    }
    let overhead = Overhead {
        steps: plan.chain,
        run_ms: best,
        per_step_us: best * 1000.0 / plan.chain as f64,
    };

    progress("a 3-step workflow over HTTP");
    api.apply("name: bench-three\nsteps:\n  - { id: a, builtin: echo, input: '{{ input }}' }\n  - { id: b, builtin: echo, input: '{{ steps.a.output }}' }\n  - { id: c, builtin: echo, input: '{{ steps.b.output }}' }\n".into()).await?;
    let deadline = Instant::now() + plan.http_duration;
    let api = std::sync::Arc::new(api);
    let clients: Vec<_> = (0..plan.http_clients.max(1))
        .map(|_| {
            let api = api.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while Instant::now() < deadline {
                    let started = Instant::now();
                    let id = api.start("bench-three").await?;
                    let run = api.finished(&id, Duration::from_micros(500)).await?;
                    seen.push((
                        started.elapsed().as_secs_f64() * 1000.0,
                        millis_between(&run),
                    ));
                }
                Ok::<_, LoadError>(seen)
            })
        })
        .collect();
    let began = Instant::now();
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.map_err(err)??);
    }
    let elapsed = began.elapsed().as_secs_f64();
    let mut client_ms: Vec<f64> = latencies.iter().map(|l| l.0).collect();
    let mut engine_ms: Vec<f64> = latencies.iter().map(|l| l.1).collect();
    let http = HttpRuns {
        runs: client_ms.len(),
        runs_per_second: client_ms.len() as f64 / elapsed,
        p50_ms: percentile(&mut client_ms, 0.50),
        p99_ms: percentile(&mut client_ms, 0.99),
        engine_p50_ms: percentile(&mut engine_ms, 0.50),
    };
    Ok(DagReport {
        dags,
        overhead,
        http,
    })
}

fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[((values.len() - 1) as f64 * q).round() as usize]
}
