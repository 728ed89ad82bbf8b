//! `skein bench api`, `skein bench dag` (see dag.rs) and `skein bench cold-start` (see
//! cold_start.rs). `api`: requests/s and latency of `GET /v1/agents/{id}`, and full task
//! lifecycles/s (create, claim, complete), against an in-process dev server on a fresh
//! data dir, or against `--url`.

pub mod cold_start;
pub mod dag;
pub mod events;
mod load;
pub mod messages;

use std::net::SocketAddr;
use std::time::Duration;

use hyper::Method;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

pub use load::{Connection, LoadError, Measured};
use load::{drive, summarize};

pub struct ApiBenchPlan {
    pub addr: SocketAddr,
    pub admin_token: String,
    pub duration: Duration,
    /// Concurrent connections for the GET phase.
    pub connections: usize,
    /// Concurrent agents for the lifecycle phase (each claims its own tasks).
    pub agents: usize,
}

pub async fn run_api(plan: &ApiBenchPlan, progress: bool) -> Result<Vec<Measured>, LoadError> {
    let mut setup = Connection::open(plan.addr).await?;
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    let mut agents = Vec::new();
    for i in 0..plan.agents.max(1) {
        let body = json!({ "name": format!("bench-{suffix}-{i}"), "capabilities": ["bench"] });
        let registered = setup
            .json(Method::POST, "/v1/agents", &plan.admin_token, Some(&body))
            .await?;
        let id = registered["agent"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let credentials = json!({
            "client_id": registered["credentials"]["client_id"],
            "client_secret": registered["credentials"]["client_secret"],
        });
        let token = setup
            .json(Method::POST, "/v1/auth/token", "", Some(&credentials))
            .await?;
        agents.push((
            id,
            token["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ));
    }

    let mut results = Vec::new();
    let target = format!("/v1/agents/{}", agents[0].0);
    let token = plan.admin_token.clone();
    let get = phase("GET /v1/agents/{id}", plan.duration, progress, async {
        let connections = open_all(plan.addr, plan.connections).await?;
        Ok(drive(connections, plan.duration, move |_, conn| {
            let (target, token) = (target.clone(), token.clone());
            Box::pin(async move { matches!(conn.call(Method::GET, &target, &token, None).await, Ok((s, _)) if s.is_success()) })
        })
        .await)
    })
    .await?;
    results.push(summarize("GET /v1/agents/{id}", &get.0, get.1, get.2));

    let admin = plan.admin_token.clone();
    let agents = std::sync::Arc::new(agents);
    let lifecycle = phase(
        "task lifecycle (create, claim, complete)",
        plan.duration,
        progress,
        async {
            let connections = open_all(plan.addr, agents.len()).await?;
            Ok(drive(connections, plan.duration, move |index, conn| {
                let (admin, agents) = (admin.clone(), agents.clone());
                Box::pin(async move { one_lifecycle(conn, &admin, &agents[index]).await.is_ok() })
            })
            .await)
        },
    )
    .await?;
    results.push(summarize(
        "task lifecycle",
        &lifecycle.0,
        lifecycle.1,
        lifecycle.2,
    ));
    Ok(results)
}

async fn one_lifecycle(
    conn: &mut Connection,
    admin: &str,
    (agent, token): &(String, String),
) -> Result<(), LoadError> {
    let create = json!({ "agent": agent, "input": { "text": "benchmark" } });
    conn.json(Method::POST, "/v1/tasks", admin, Some(&create))
        .await?;
    let claimed = conn
        .json(
            Method::POST,
            &format!("/v1/agents/{agent}/tasks/claim?wait=0"),
            token,
            Some(&json!({})),
        )
        .await?;
    let id = claimed["id"]
        .as_str()
        .ok_or_else(|| LoadError("claim returned no task".into()))?;
    let done = json!({ "result": { "ok": true }, "lease_id": claimed["lease"]["id"] });
    let completed: Value = conn
        .json(
            Method::POST,
            &format!("/v1/tasks/{id}/complete"),
            token,
            Some(&done),
        )
        .await?;
    if completed["status"] == "succeeded" {
        Ok(())
    } else {
        Err(LoadError("task did not succeed".into()))
    }
}

async fn open_all(addr: SocketAddr, count: usize) -> Result<Vec<Connection>, LoadError> {
    let mut connections = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        connections.push(Connection::open(addr).await?);
    }
    Ok(connections)
}

async fn phase<T>(
    name: &str,
    duration: Duration,
    progress: bool,
    work: impl std::future::Future<Output = Result<T, LoadError>>,
) -> Result<T, LoadError> {
    let bar = if progress {
        ProgressBar::new(duration.as_secs())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:42} [{bar:30}] {pos}/{len} s")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(name.to_string());
    let ticker = {
        let bar = bar.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                bar.inc(1);
            }
        })
    };
    let result = work.await;
    ticker.abort();
    bar.finish_and_clear();
    result
}
