//! The AWS deployment on a laptop, as a newcomer runs it: `skein aws local` (moto, the
//! resources, the env file, a first admin, the API's routes, the event sources) and
//! `cargo lambda watch` from the repository root. Every function is invoked with every
//! sample event in `events/`, then workflows run end to end through the API's routes,
//! Step Functions on moto, SQS and the played event sources, each step running once.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::free_port;

use serde_json::{Value, json};

/// A process and everything it started (its process group), stopped when dropped.
struct Group(tokio::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        // `kill -s SIG -- -PGID`: without the `--`, procps reads `-PGID` as an option.
        let Some(pid) = self.0.id() else { return };
        let group = format!("-{pid}");
        for (signal, pause) in [("TERM", 500), ("KILL", 0)] {
            let _ = std::process::Command::new("kill")
                .args(["-s", signal, "--", &group])
                .stderr(Stdio::null())
                .status();
            std::thread::sleep(Duration::from_millis(pause));
        }
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn venv() -> PathBuf {
    std::env::var_os("SKEIN_VENV")
        .map(PathBuf::from)
        .map(|v| if v.is_absolute() { v } else { repo().join(v) })
        .unwrap_or_else(|| repo().join(".venv"))
}

fn watch_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { repo().join(t) })
        .unwrap_or_else(|| repo().join("target"))
        .join("aws-local")
}

async fn until<T>(what: &str, within: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn env_value(path: &Path, key: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
        .unwrap_or_else(|| panic!("{key} in {}", path.display()))
}

/// Client credentials exchanged for an access token at the API's token endpoint.
/// The event types of the SSE frames read from `stream` up to one of type `kind`, which
/// must come within a minute.
async fn sse_until(
    stream: &mut reqwest::Response,
    frames: &mut skein_cli::sse::FrameReader,
    kind: &str,
) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        while let Some(frame) = frames.next_frame() {
            if let Some(event) = frame.event {
                let done = event == kind;
                seen.push(event);
                if done {
                    return seen;
                }
            }
        }
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(Ok(Some(bytes))) => frames.push(&bytes),
            other => panic!("no {kind} event came live (saw {seen:?}): {other:?}"),
        }
    }
}

async fn exchange(http: &reqwest::Client, url: &str, id: &str, secret: &str) -> String {
    let issued: Value = http
        .post(format!("{url}/v1/auth/token"))
        .json(
            &json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    issued["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("a token for {id}: {issued}"))
        .to_string()
}

struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn apply(&self, yaml: &str) {
        let response = self
            .http
            .post(format!("{}/v1/workflows", self.url))
            .bearer_auth(&self.token)
            .header("content-type", "application/yaml")
            .body(yaml.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status.is_success(),
            "apply: {status} {}",
            response.text().await.unwrap()
        );
    }

    async fn run(&self, id: &str) -> Value {
        self.call(reqwest::Method::GET, &format!("/v1/runs/{id}"), None)
            .await
            .1
    }
}

const DIAMOND: &str = "
name: diamond
steps:
  - { id: start, builtin: echo, input: '{{ input }}' }
  - { id: left, builtin: transform, depends_on: [start], with: { program: '.n * 2' }, input: '{{ steps.start.output }}' }
  - { id: right, builtin: transform, depends_on: [start], with: { program: '.n + 1' }, input: '{{ steps.start.output }}' }
  - { id: join, builtin: echo, depends_on: [left, right], input: { left: '{{ steps.left.output }}', right: '{{ steps.right.output }}' } }
";

const CHAIN: &str = "
name: chain
steps:
  - { id: a, builtin: echo, input: '{{ input }}' }
  - { id: b, builtin: echo, depends_on: [a], input: '{{ steps.a.output }}' }
  - { id: c, builtin: echo, depends_on: [b], input: '{{ steps.b.output }}' }
";

const REVIEWED: &str = "
name: reviewed
steps:
  - { id: draft, builtin: echo, input: '{{ input }}' }
  - { id: review, type: approval, approval: { message: 'Ship it?' }, depends_on: [draft] }
  - { id: publish, builtin: echo, depends_on: [review], input: '{{ steps.draft.output }}' }
";

fn assert_each_step_ran_once(run: &Value) {
    for step in run["steps"].as_array().unwrap() {
        let attempts = step["attempts"].as_array().map_or(0, Vec::len);
        assert_eq!(
            attempts, 1,
            "step {} ran {attempts} times: {run:#}",
            step["id"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_side_runs_on_a_laptop_with_the_real_functions() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("aws-local.env");
    let admin_file = dir.path().join("aws-local-admin.env");
    let (moto, watch, gateway) = (free_port(), free_port(), free_port());
    let functions = format!("http://127.0.0.1:{watch}");
    let started = Instant::now();
    let _local = Group(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"))
            .args(["aws", "local", "--tick-seconds", "2"])
            .args(["--moto-port", &moto.to_string()])
            .args(["--functions", &functions])
            .args(["--gateway", &format!("127.0.0.1:{gateway}")])
            .arg("--env-file")
            .arg(&env_file)
            .env("SKEIN_VENV", venv())
            .env_remove("AWS_ENDPOINT_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("local.log")).unwrap())
            .process_group(0)
            .spawn()
            .expect("skein aws local starts"),
    );
    until(
        "the env file and the first admin",
        Duration::from_secs(60),
        async || (env_file.exists() && admin_file.exists()).then_some(()),
    )
    .await;
    let _watch = Group(
        tokio::process::Command::new(venv().join("bin/cargo-lambda"))
            .args([
                "lambda",
                "watch",
                "-A",
                "127.0.0.1",
                "-P",
                &watch.to_string(),
            ])
            .arg("--env-file")
            .arg(&env_file)
            .current_dir(repo())
            // Its own build dir: the functions' builds and this test's do not take turns
            // rebuilding the crates they share.
            .env("CARGO_TARGET_DIR", watch_target_dir())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("watch.log")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("watch.err")).unwrap())
            .process_group(0)
            .spawn()
            .expect("cargo lambda watch starts"),
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();

    // The first invoke builds the function: watch runs it from the repository root.
    let health = format!("{functions}/lambda-url/api-agents/v1/health");
    until(
        "api-agents answers through its function URL",
        Duration::from_secs(900),
        async || {
            let response = http.get(&health).send().await.ok()?;
            (response.status() == 200).then_some(())
        },
    )
    .await;
    eprintln!(
        "from a cold `skein aws local` to the first successful invoke: {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The first admin's token, through the API's routes.
    let (client_id, client_secret) = (
        env_value(&admin_file, "SKEIN_CLIENT_ID"),
        env_value(&admin_file, "SKEIN_CLIENT_SECRET"),
    );
    let url = format!("http://127.0.0.1:{gateway}");
    let token = exchange(&http, &url, &client_id, &client_secret).await;
    let api = Api {
        http: http.clone(),
        url,
        token: token.clone(),
    };
    let (status, agent) = api
        .call(
            reqwest::Method::POST,
            "/v1/agents",
            Some(json!({"name": "worker", "capabilities": ["summarize"]})),
        )
        .await;
    assert_eq!(status, 201, "{agent}");
    let agent_id = agent["agent"]["id"].as_str().unwrap().to_string();
    let agent_token = exchange(
        &http,
        &api.url,
        &agent_id,
        agent["credentials"]["client_secret"].as_str().unwrap(),
    )
    .await;

    // Every function, with every sample event (its placeholders filled in).
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("events"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .flat_map(|d| std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 19, "{files:?}");
    for file in &files {
        let function = file
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let name = file.file_name().unwrap().to_str().unwrap();
        // An agent's own routes take its own token.
        let caller = match name {
            "read-inbox.json" | "claim-task.json" => &agent_token,
            _ => &token,
        };
        let event = std::fs::read_to_string(file)
            .unwrap()
            .replace("REPLACE_WITH_TOKEN", caller)
            .replace("REPLACE_WITH_CLIENT_ID", &client_id)
            .replace("REPLACE_WITH_CLIENT_SECRET", &client_secret)
            .replace("REPLACE_WITH_AGENT_ID", &agent_id);
        let answer: Value = http
            .post(format!(
                "{functions}/2015-03-31/functions/{function}/invocations"
            ))
            .header("content-type", "application/json")
            .body(event)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let what = format!("{function}/{name}: {answer}");
        match (function, name) {
            ("authorizer", _) => assert_eq!(answer["isAuthorized"], true, "{what}"),
            ("scheduler", "tick.json") => assert!(answer["sweep"].is_object(), "{what}"),
            // No workflow by the sample's name: the scheduler says so.
            ("scheduler", _) => assert!(
                answer["errorMessage"]
                    .as_str()
                    .is_some_and(|m| m.contains("not found")),
                "{what}"
            ),
            ("step-worker", "express-step.json") => {
                assert!(answer["errorType"].is_string(), "{what}")
            }
            ("step-worker" | "message-router", _) => {
                assert!(answer["batchItemFailures"].is_array(), "{what}")
            }
            // Nothing to claim yet (the task is created after, in file order).
            (_, "claim-task.json") => assert_eq!(answer["statusCode"], 204, "{what}"),
            (
                _,
                "health.json"
                | "issue-token.json"
                | "list-runs.json"
                | "list-workflows.json"
                | "read-inbox.json",
            ) => {
                assert_eq!(answer["statusCode"], 200, "{what}")
            }
            // Refused or accepted, the answer is the API's, never a crash or a 401.
            _ => {
                let status = answer["statusCode"].as_u64().unwrap_or(0);
                assert!((200..500).contains(&status) && status != 401, "{what}");
            }
        }
    }

    // A diamond, end to end: through the API's routes, Step Functions on moto, the step
    // queue and the real step-worker.
    api.apply(DIAMOND).await;
    let (status, run) = api
        .call(
            reqwest::Method::POST,
            "/v1/workflows/diamond/runs?wait=20",
            Some(json!({"input": {"n": 3}})),
        )
        .await;
    assert!(
        status == 200 || status == 201 || status == 202,
        "{status} {run}"
    );
    let id = run["id"].as_str().unwrap().to_string();
    let run = until("the diamond ends", Duration::from_secs(60), async || {
        let run = api.run(&id).await;
        (run["status"] != "running").then_some(run)
    })
    .await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(
        run["output"]["join"],
        json!({"left": 6, "right": 4}),
        "{run:#}"
    );
    assert_each_step_ran_once(&run);

    // An approval: the run waits for a person, then finishes.
    api.apply(REVIEWED).await;
    let (status, run) = api
        .call(
            reqwest::Method::POST,
            "/v1/workflows/reviewed/runs",
            Some(json!({"input": {"topic": "tides"}})),
        )
        .await;
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    until(
        "the review waits for a person",
        Duration::from_secs(60),
        async || {
            let run = api.run(&id).await;
            run["steps"]
                .as_array()?
                .iter()
                .any(|s| s["id"] == "review" && s["status"] == "awaiting_approval")
                .then_some(())
        },
    )
    .await;
    // Live events without the edge: api-run-events streams them from its function URL
    // while the run waits (through API Gateway they would come only once it ended).
    let mut live = http
        .get(format!(
            "{functions}/lambda-url/api-run-events/v1/runs/{id}/events"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let mut frames = skein_cli::sse::FrameReader::default();
    let waiting = sse_until(&mut live, &mut frames, "approval.requested").await;
    assert!(waiting.contains(&"run.started".to_string()), "{waiting:?}");
    let (status, decided) = api
        .call(
            reqwest::Method::POST,
            &format!("/v1/runs/{id}/steps/review/approve"),
            Some(json!({"comment": "ship it"})),
        )
        .await;
    assert!(status < 300, "{status} {decided}");
    let run = until(
        "the reviewed run ends",
        Duration::from_secs(60),
        async || {
            let run = api.run(&id).await;
            (run["status"] != "running").then_some(run)
        },
    )
    .await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_each_step_ran_once(&run);
    let after = sse_until(&mut live, &mut frames, "run.succeeded").await;
    assert!(after.contains(&"approval.decided".to_string()), "{after:?}");

    // What a 3-step run takes on this local cloud, start to result.
    api.apply(CHAIN).await;
    let mut took = Vec::new();
    for n in 0..5 {
        let began = Instant::now();
        let (_, run) = api
            .call(
                reqwest::Method::POST,
                "/v1/workflows/chain/runs?wait=20",
                Some(json!({"input": {"n": n}})),
            )
            .await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        took.push(began.elapsed().as_millis());
    }
    took.sort();
    eprintln!(
        "a 3-step chain on the local cloud, start to result: p50 {} ms ({took:?} ms)",
        took[2]
    );
}
