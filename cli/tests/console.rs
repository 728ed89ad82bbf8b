//! The web console in headless Chromium against a real `skein dev`: sign in with the
//! one-time link, register and run the research report from the browser, watch it reach
//! its approval live, approve it, open a failed step's error, redrive a dead letter, the
//! API reference, a 200-step run page, phone width; axe-core on every page. The browser
//! side is `console/tests/browser.mjs`; screenshots go to `target/console/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use skein_cli::config::DevArgs;
use skein_cli::dev::DevServer;
use skein_core::ports::{OutgoingMessage, Queue};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where scripts/setup.sh put the Node tools (playwright-core, axe-core, Node 22).
fn node_tools() -> PathBuf {
    let tools =
        PathBuf::from(std::env::var("SKEIN_NODE_TOOLS").unwrap_or_else(|_| ".tools/node".into()));
    if tools.is_absolute() {
        tools
    } else {
        repo().join(tools)
    }
}

fn screenshots() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join("target"));
    target.join("console")
}

async fn call(method: reqwest::Method, url: String, token: &str, body: Option<Value>) -> Value {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A message for an agent deleted before it was delivered: the router sets it aside.
async fn seed_dead_letter(server: &DevServer, token: &str) {
    let url = server.url();
    let agent = call(
        reqwest::Method::POST,
        format!("{url}/v1/agents"),
        token,
        Some(json!({"name": "gone", "capabilities": ["listen"]})),
    )
    .await;
    let agent_id = agent["agent"]["id"].as_str().unwrap().to_string();
    let sent = call(
        reqwest::Method::POST,
        format!("{url}/v1/agents/{agent_id}/messages"),
        token,
        Some(
            json!({"kind": "reminder", "payload": {"note": "the agent left before this arrived"}}),
        ),
    )
    .await;
    call(
        reqwest::Method::DELETE,
        format!("{url}/v1/agents/{agent_id}"),
        token,
        None,
    )
    .await;
    // Queued again as the API queued it, now that the agent is gone.
    server
        .local
        .messages_queue
        .send_batch(vec![OutgoingMessage::new(sent.to_string())])
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let letters = call(
            reqwest::Method::GET,
            format!("{url}/v1/dead-letters"),
            token,
            None,
        )
        .await;
        if letters["items"].as_array().is_some_and(|a| !a.is_empty()) {
            return;
        }
        assert!(Instant::now() < deadline, "no dead letter appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_a_real_browser() {
    let node = node_tools().join("node_modules/.bin/node");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        node.exists() && Path::new(&chromium).exists(),
        "the console test needs Node tools and Debian's chromium: run `bash scripts/setup.sh` (make test does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let args = DevArgs::for_data_dir(dir.path());
    let server = DevServer::start(&args).await.unwrap();
    let token = server
        .local
        .admin_token(&args.local, &args.local.tenant, Duration::from_secs(3600))
        .unwrap();
    seed_dead_letter(&server, &token).await;
    let credentials = serde_json::to_string(server.seeded_admin.as_ref().unwrap()).unwrap();

    let output = tokio::process::Command::new(&node)
        .arg(repo().join("console/tests/browser.mjs"))
        .env("SKEIN_URL", server.url())
        .env("SKEIN_SIGN_IN_URL", server.console.link().url)
        .env("SKEIN_TOKEN", &token)
        .env("SKEIN_ADMIN_CREDENTIALS", credentials)
        .env("SKEIN_NODE_TOOLS", node_tools())
        .env("SKEIN_EXAMPLES", repo().join("examples"))
        .env("SKEIN_SCREENSHOTS", screenshots())
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), output)
        .await
        .expect("the browser test finishes within 4 minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the browser test failed (screenshots in {}):\n{stdout}\n{stderr}",
        screenshots().display()
    );
    server.shutdown().await;
}
