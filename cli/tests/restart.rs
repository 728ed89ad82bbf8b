//! Kill -9 `skein dev` in the middle of a run, start it again on the same data dir, and
//! the run completes: finished steps are not run again, and the step that was in flight
//! is re-run under the same idempotency key, so its effect happens once.

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

fn start_server(data_dir: &std::path::Path, addr: &str) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"))
        .arg("dev")
        .env("SKEIN_DATA_DIR", data_dir)
        .env("SKEIN_ADDR", addr)
        .env("SKEIN_JWT_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("skein dev starts")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_survives_a_crash_of_the_dev_server_without_repeating_finished_steps() {
    let (upstream, calls) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    let mut server = start_server(dir.path(), &addr);
    until("the server", async || {
        http.get(format!("{base}/v1/health")).send().await.ok()
    })
    .await;
    let token = std::process::Command::new(env!("CARGO_BIN_EXE_skein"))
        .args(["token", "--admin"])
        .env("SKEIN_DATA_DIR", dir.path())
        .env("SKEIN_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    let workflow = format!(
        "
name: durable
steps:
  - {{ id: a, builtin: http, with: {{ url: '{upstream}/work?ms=50', retries: 0 }} }}
  - {{ id: side, builtin: http, with: {{ url: '{upstream}/work?ms=50', retries: 0 }}, depends_on: [a] }}
  - {{ id: slow, builtin: http, with: {{ url: '{upstream}/work?ms=1500', retries: 0 }}, depends_on: [a] }}
  - {{ id: last, builtin: http, with: {{ url: '{upstream}/work?ms=50', retries: 0 }}, depends_on: [slow, side] }}
"
    );
    let response = http
        .post(format!("{base}/v1/workflows"))
        .bearer_auth(&token)
        .body(workflow)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    let run: Value = http
        .post(format!("{base}/v1/workflows/durable/runs"))
        .bearer_auth(&token)
        .json(&json!({"input": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = run["id"].as_str().unwrap().to_string();
    let view = async || -> Option<Value> {
        let response = http
            .get(format!("{base}/v1/runs/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    };
    until("the slow step to be running", async || {
        let run = view().await?;
        (step(&run, "slow")["status"] == "running" && step(&run, "side")["status"] == "succeeded")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill().await.unwrap(); // SIGKILL: no shutdown, no flush
    assert_eq!(
        calls.lock().unwrap().get(&format!("{id}:last:0")),
        None,
        "killed before the last step"
    );

    let _restarted = start_server(dir.path(), &addr);
    let run = until("the run to finish after the restart", async || {
        let run = view().await?;
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
