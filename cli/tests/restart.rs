//! Kill -9 `skein dev` in the middle of a run (and of a hundred), start it again on the
//! same data dir, and the runs complete: finished steps are not run again, and a step
//! that was in flight is re-run under the same idempotency key, so its effect happens once.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};

const SECRET: &str = "restart-test-secret-restart-test-secret";

type Calls = Arc<Mutex<HashMap<String, u32>>>;

/// A service the workflow's steps call: sleeps `ms`, counts calls by Idempotency-Key.
async fn upstream() -> (String, Calls) {
    #[derive(serde::Deserialize)]
    struct Params {
        ms: u64,
    }
    let calls: Calls = Arc::default();
    let app = axum::Router::new()
        .route(
            "/work",
            post(|State(calls): State<Calls>, Query(p): Query<Params>, headers: HeaderMap| async move {
                let key = headers["idempotency-key"].to_str().unwrap().to_string();
                *calls.lock().unwrap().entry(key).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(p.ms)).await;
                Json(json!({ "slept": p.ms }))
            }),
        )
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

/// `skein dev` on `data_dir`, listening on `addr`.
fn dev_command(data_dir: &std::path::Path, addr: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"));
    command
        .arg("dev")
        .env("SKEIN_DATA_DIR", data_dir)
        .env("SKEIN_ADDR", addr)
        .env("SKEIN_JWT_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    command
}

fn start_server(data_dir: &std::path::Path, addr: &str) -> tokio::process::Child {
    dev_command(data_dir, addr)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("skein dev starts")
}

/// A loopback address nothing listens on.
fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

async fn until<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn step<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
}

/// A `skein dev` process on a data dir, and a client with an admin token.
struct Dev {
    dir: tempfile::TempDir,
    addr: String,
    base: String,
    http: reqwest::Client,
    token: String,
    server: tokio::process::Child,
}

impl Dev {
    async fn start() -> Dev {
        let dir = tempfile::tempdir().unwrap();
        let addr = free_addr();
        let server = start_server(dir.path(), &addr);
        let token = std::process::Command::new(env!("CARGO_BIN_EXE_skein"))
            .args(["token", "--admin"])
            .env("SKEIN_DATA_DIR", dir.path())
            .env("SKEIN_JWT_SECRET", SECRET)
            .output()
            .unwrap();
        let dev = Dev {
            base: format!("http://{addr}"),
            addr,
            dir,
            http: reqwest::Client::new(),
            token: String::from_utf8(token.stdout).unwrap().trim().to_string(),
            server,
        };
        dev.wait_until_up().await;
        dev
    }

    async fn wait_until_up(&self) {
        until("the server", async || {
            self.http
                .get(format!("{}/v1/health", self.base))
                .send()
                .await
                .ok()
        })
        .await;
    }

    /// SIGKILL: no shutdown, no flush.
    async fn kill(&mut self) {
        self.server.kill().await.unwrap();
    }

    async fn restart(&mut self) {
        self.server = start_server(self.dir.path(), &self.addr);
        self.wait_until_up().await;
    }

    async fn apply(&self, workflow: String) {
        let response = self
            .http
            .post(format!("{}/v1/workflows", self.base))
            .bearer_auth(&self.token)
            .body(workflow)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }

    async fn start_run(&self, workflow: &str) -> String {
        let run: Value = self
            .http
            .post(format!("{}/v1/workflows/{workflow}/runs", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"input": {}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        run["id"].as_str().unwrap().to_string()
    }

    async fn view(&self, id: &str) -> Option<Value> {
        let response = self
            .http
            .get(format!("{}/v1/runs/{id}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_survives_a_crash_of_the_dev_server_without_repeating_finished_steps() {
    let (upstream, calls) = upstream().await;
    let mut dev = Dev::start().await;
    dev.apply(format!(
        "
name: durable
steps:
  - {{ id: a, builtin: http, with: {{ url: '{upstream}/work?ms=50', retries: 0 }} }}
  - {{ id: side, builtin: http, with: {{ url: '{upstream}/work?ms=50', retries: 0 }}, depends_on: [a] }}
  - {{ id: slow, builtin: http, with: {{ url: '{upstream}/work?ms=1500', retries: 0 }}, depends_on: [a] }}
  - {{ id: last, builtin: http, with: {{ url: '{upstream}/work?ms=50', retries: 0 }}, depends_on: [slow, side] }}
"
    ))
    .await;
    let id = dev.start_run("durable").await;
    until("the slow step to be running", async || {
        let run = dev.view(&id).await?;
        (step(&run, "slow")["status"] == "running" && step(&run, "side")["status"] == "succeeded")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    dev.kill().await;
    assert_eq!(
        calls.lock().unwrap().get(&format!("{id}:last:0")),
        None,
        "killed before the last step"
    );

    dev.restart().await;
    let run = until("the run to finish after the restart", async || {
        let run = dev.view(&id).await?;
        (run["status"] != "running").then_some(run)
    })
    .await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let calls = calls.lock().unwrap().clone();
    for done_before_crash in ["a", "side"] {
        assert_eq!(
            calls[&format!("{id}:{done_before_crash}:0")],
            1,
            "{done_before_crash} ran again: {calls:?}"
        );
    }
    assert_eq!(calls[&format!("{id}:last:0")], 1);
    let slow_keys: Vec<_> = calls
        .keys()
        .filter(|k| k.starts_with(&format!("{id}:slow:")))
        .collect();
    assert_eq!(
        slow_keys,
        vec![&format!("{id}:slow:0")],
        "the re-run reused the idempotency key"
    );
    assert_eq!(
        step(&run, "slow")["attempts"].as_array().unwrap().len(),
        1,
        "{run:#}"
    );
}

const IN_FLIGHT: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_runs_in_flight_survive_a_crash_each_step_effect_happening_once() {
    let (upstream, calls) = upstream().await;
    let mut dev = Dev::start().await;
    dev.apply(format!(
        "
name: busy
steps:
  - {{ id: a, builtin: http, with: {{ url: '{upstream}/work?ms=10', retries: 0 }} }}
  - {{ id: slow, builtin: http, with: {{ url: '{upstream}/work?ms=3000', retries: 0 }}, depends_on: [a] }}
  - {{ id: last, builtin: http, with: {{ url: '{upstream}/work?ms=10', retries: 0 }}, depends_on: [slow] }}
"
    ))
    .await;
    let mut ids = Vec::new();
    for _ in 0..IN_FLIGHT {
        ids.push(dev.start_run("busy").await);
    }
    // Every run's slow step has called the upstream, and none has answered yet.
    until("every slow step to be in flight", async || {
        let calls = calls.lock().unwrap();
        let slow = ids
            .iter()
            .filter(|id| calls.contains_key(&format!("{id}:slow:0")))
            .count();
        (slow == IN_FLIGHT).then_some(())
    })
    .await;
    dev.kill().await;
    let before = calls.lock().unwrap().clone();
    assert!(
        ids.iter()
            .all(|id| !before.contains_key(&format!("{id}:last:0"))),
        "killed before any last step"
    );

    dev.restart().await;
    for id in &ids {
        let run = until("every run to finish after the restart", async || {
            let run = dev.view(id).await?;
            (run["status"] != "running").then_some(run)
        })
        .await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
    }
    let calls = calls.lock().unwrap().clone();
    let mut resent = 0;
    for id in &ids {
        assert_eq!(calls[&format!("{id}:a:0")], 1, "a ran again: {id}");
        assert_eq!(calls[&format!("{id}:last:0")], 1, "last ran twice: {id}");
        // The step in flight at the crash is sent again, under the same key only.
        let slow: Vec<_> = calls
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{id}:slow:")))
            .collect();
        assert_eq!(slow.len(), 1, "{slow:?}");
        assert!(*slow[0].1 <= 2, "{slow:?}");
        resent += usize::from(*slow[0].1 == 2);
    }
    eprintln!("{IN_FLIGHT} runs in flight at the crash; {resent} slow steps sent again after it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_dev_server_on_the_same_data_dir_stops_and_says_why() {
    let dev = Dev::start().await;
    let second = dev_command(dev.dir.path(), &free_addr()).output();
    let second = tokio::time::timeout(Duration::from_secs(30), second)
        .await
        .expect("the second server stops instead of serving")
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    assert!(
        stderr.contains("is in use by another `skein dev`"),
        "says why: {stderr}"
    );
    // The first one goes on serving.
    dev.wait_until_up().await;
}
