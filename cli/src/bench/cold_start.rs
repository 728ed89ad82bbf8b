//! Cold starts of the Lambda functions: each release binary is started as Lambda starts
//! it, against a small Lambda Runtime API server here, and timed from process start to
//! its first poll for work (init: AWS config, SDK clients, settings, router) and to its
//! first response; its peak RSS is read from /proc after that response. No AWS call is
//! made: clients are built at init but the first invocations need none.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// One function's first invocation: the event it gets.
pub struct Subject {
    pub name: String,
    pub event: Value,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ColdStart {
    pub function: String,
    pub init_ms_p50: f64,
    pub init_ms_max: f64,
    pub first_response_ms_p50: f64,
    pub first_response_ms_max: f64,
    pub peak_rss_mb: f64,
    pub zip_bytes: Option<u64>,
    pub response: String,
}

#[derive(Default)]
struct Runtime {
    event: Mutex<Option<Value>>,
    polled_at: Mutex<Option<Instant>>,
    answered_at: Mutex<Option<(Instant, String)>>,
    answered: Notify,
}

async fn next(State(rt): State<Arc<Runtime>>) -> axum::response::Response {
    rt.polled_at
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);
    let event = rt.event.lock().unwrap().take();
    let Some(event) = event else {
        // The second poll: the function is idle until the benchmark stops it.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    let mut headers = HeaderMap::new();
    let set = |headers: &mut HeaderMap, name: &'static str, value: String| {
        headers.insert(name, value.parse().unwrap());
    };
    set(
        &mut headers,
        "lambda-runtime-aws-request-id",
        ulid::Ulid::new().to_string(),
    );
    set(
        &mut headers,
        "lambda-runtime-deadline-ms",
        deadline.to_string(),
    );
    set(
        &mut headers,
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:bench".into(),
    );
    set(
        &mut headers,
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".into(),
    );
    (headers, axum::Json(event)).into_response()
}

async fn answer(State(rt): State<Arc<Runtime>>, kind: &str, body: String) -> &'static str {
    *rt.answered_at.lock().unwrap() = Some((Instant::now(), format!("{kind}: {body}")));
    rt.answered.notify_one();
    "{}"
}

/// Starts one cold start of `binary` and measures it.
async fn once(
    binary: &Path,
    event: &Value,
    env: &HashMap<String, String>,
) -> Result<(f64, f64, f64, String), String> {
    let rt = Arc::new(Runtime::default());
    *rt.event.lock().unwrap() = Some(event.clone());
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(|s: State<Arc<Runtime>>, b: String| async move { answer(s, "response", b).await }),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(
                |s: State<Arc<Runtime>>, _: UrlPath<String>, b: String| async move {
                    answer(s, "error", b).await
                },
            ),
        )
        .route(
            "/2018-06-01/runtime/init/error",
            post(
                |s: State<Arc<Runtime>>, b: String| async move { answer(s, "init error", b).await },
            ),
        )
        .with_state(rt.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .envs(env)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let answered = tokio::time::timeout(Duration::from_secs(10), rt.answered.notified()).await;
    let rss = child.id().map_or(0.0, peak_rss_mb);
    let _ = child.kill().await;
    server.abort();
    answered.map_err(|_| format!("{} did not answer in 10 s", binary.display()))?;
    let polled = rt.polled_at.lock().unwrap().ok_or("never polled")?;
    let (done, response) = rt.answered_at.lock().unwrap().clone().ok_or("no answer")?;
    let ms = |t: Instant| (t - started).as_secs_f64() * 1000.0;
    Ok((ms(polled), ms(done), rss, response))
}

/// VmHWM: the most resident memory the process ever had.
fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Cold-starts every subject `runs` times.
pub async fn measure(
    bin_dir: &Path,
    zip_dir: &Path,
    subjects: &[Subject],
    env: &HashMap<String, String>,
    runs: usize,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<ColdStart>, String> {
    let mut results = Vec::new();
    for subject in subjects {
        let binary: PathBuf = bin_dir.join(&subject.name);
        let (mut inits, mut firsts, mut rss, mut response) =
            (vec![], vec![], 0.0f64, String::new());
        let env = given_to(&subject.name, env);
        for _ in 0..runs {
            let (init, first, peak, answer) = once(&binary, &subject.event, &env).await?;
            inits.push(init);
            firsts.push(first);
            rss = rss.max(peak);
            response = answer;
            progress.inc(1);
        }
        inits.sort_by(f64::total_cmp);
        firsts.sort_by(f64::total_cmp);
        results.push(ColdStart {
            function: subject.name.clone(),
            init_ms_p50: percentile(&inits, 0.5),
            init_ms_max: percentile(&inits, 1.0),
            first_response_ms_p50: percentile(&firsts, 0.5),
            first_response_ms_max: percentile(&firsts, 1.0),
            peak_rss_mb: rss,
            zip_bytes: std::fs::metadata(zip_dir.join(&subject.name).join("bootstrap.zip"))
                .ok()
                .map(|m| m.len()),
            response: response.chars().take(60).collect(),
        });
    }
    Ok(results)
}

/// The environment a function gets on Lambda, with settings pointing at an address that
/// is never called.
pub fn lambda_env() -> HashMap<String, String> {
    [
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_SESSION_TOKEN", "bench"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_LAMBDA_FUNCTION_NAME", "bench"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
        (
            "SKEIN_JWT_SECRET",
            "bench-secret-of-at-least-thirty-two-bytes",
        ),
        ("SKEIN_TABLE", "skein"),
        (
            "SKEIN_STEP_QUEUE_URL",
            "http://127.0.0.1:9/123456789012/skein-steps",
        ),
        (
            "SKEIN_MESSAGE_QUEUE_URL",
            "http://127.0.0.1:9/123456789012/skein-messages",
        ),
        (
            "SKEIN_STATES_ROLE_ARN",
            "arn:aws:iam::123456789012:role/skein-states",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// What `function` is given of `env`: the token settings only if the deployment gives it
/// them (`skein_lambda::deploy::functions()`), so a function that starts here without them
/// starts on AWS without them.
fn given_to(function: &str, env: &HashMap<String, String>) -> HashMap<String, String> {
    let verifies_tokens = skein_lambda::deploy::functions()
        .iter()
        .any(|needs| needs.name == function && needs.verifies_tokens);
    env.iter()
        .filter(|(name, _)| verifies_tokens || !name.starts_with("SKEIN_JWT_"))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// Each function's first event: a sample from `events/`, kept to what needs no AWS call.
pub fn subjects(events: &Path) -> Result<Vec<Subject>, String> {
    let read = |file: &str| -> Result<Value, String> {
        let path = events.join(file);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let unauthenticated = |file: &str| -> Result<Value, String> {
        let mut event = read(file)?;
        if let Some(headers) = event["headers"].as_object_mut() {
            headers.remove("authorization");
        }
        Ok(event)
    };
    Ok(vec![
        Subject {
            name: "api-agents".into(),
            event: read("api-agents/health.json")?,
        },
        Subject {
            name: "api-tasks".into(),
            event: unauthenticated("api-tasks/create-task.json")?,
        },
        Subject {
            name: "api-workflows".into(),
            event: unauthenticated("api-workflows/list-workflows.json")?,
        },
        Subject {
            name: "api-runs".into(),
            event: unauthenticated("api-runs/list-runs.json")?,
        },
        Subject {
            name: "api-messages".into(),
            event: unauthenticated("api-messages/read-inbox.json")?,
        },
        Subject {
            name: "authorizer".into(),
            event: read("authorizer/request.json")?,
        },
        Subject {
            name: "step-worker".into(),
            event: json!({ "Records": [] }),
        },
        Subject {
            name: "message-router".into(),
            event: json!({ "Records": [] }),
        },
        Subject {
            name: "scheduler".into(),
            event: json!({ "action": "rewind" }),
        },
    ])
}
