//! The README's tour, run through the real `skein` binary against a dev server.

use std::path::Path;

use serde_json::Value;
use skein_cli::config::DevArgs;
use skein_cli::dev::DevServer;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn skein(url: &str, data_dir: &Path, token: Option<&str>, args: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"));
    command
        .args(args)
        .env("SKEIN_URL", url)
        .env("SKEIN_DATA_DIR", data_dir)
        .env_remove("SKEIN_TOKEN");
    for name in [
        "SKEIN_JWT_SECRET",
        "SKEIN_JWT_ALG",
        "SKEIN_JWT_PRIVATE_KEY_FILE",
        "SKEIN_CLIENT_ID",
        "SKEIN_CLIENT_SECRET",
    ] {
        command.env_remove(name);
    }
    if let Some(token) = token {
        command.env("SKEIN_TOKEN", token);
    }
    let output = command.output().await.expect("the skein binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).trim().to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
    }
}

fn ok(run: Run) -> String {
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    run.stdout
}

/// What `eval "$(skein ... --env)"` sets `name` to, evaluated by a real shell.
fn exported(env_lines: &str, name: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("eval \"$LINES\"; printf %s \"${name}\"")])
        .env("LINES", env_lines)
        .output()
        .expect("sh runs");
    let value = String::from_utf8(out.stdout).unwrap();
    assert!(!value.is_empty(), "{name} in {env_lines}");
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_tour_runs_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(&DevArgs::for_data_dir(dir.path()))
        .await
        .unwrap();
    let (url, data) = (server.url(), dir.path());

    let admin = ok(skein(&url, data, None, &["token", "--admin"]).await);
    let env = ok(skein(
        &url,
        data,
        Some(&admin),
        &[
            "agents",
            "register",
            "summarizer",
            "--capability",
            "summarize",
            "--env",
        ],
    )
    .await);
    let (agent_id, agent_secret) = (
        exported(&env, "SKEIN_AGENT_ID"),
        exported(&env, "SKEIN_AGENT_SECRET"),
    );
    let listing = ok(skein(&url, data, Some(&admin), &["agents", "list"]).await);
    assert!(
        listing.contains("summarizer") && listing.contains("summarize"),
        "{listing}"
    );

    let input = r#"{"text": "Skein runs agents on AWS"}"#;
    let task = ok(skein(
        &url,
        data,
        Some(&admin),
        &[
            "tasks",
            "create",
            "--capability",
            "summarize",
            "--input",
            input,
            "-q",
        ],
    )
    .await);
    assert!(task.starts_with("tsk_"), "{task}");

    let agent = ok(skein(
        &url,
        data,
        None,
        &[
            "token",
            "--client-id",
            &agent_id,
            "--client-secret",
            &agent_secret,
        ],
    )
    .await);
    let claimed: Value = serde_json::from_str(&ok(skein(
        &url,
        data,
        Some(&agent),
        &["tasks", "claim", &agent_id, "--wait", "0", "--json"],
    )
    .await))
    .unwrap();
    assert_eq!(claimed["id"], task.as_str());
    ok(skein(
        &url,
        data,
        Some(&agent),
        &[
            "tasks",
            "complete",
            &task,
            "--result",
            r#"{"summary": "agents, serverless"}"#,
            "--usage",
            r#"{"model": "gpt-4o", "input_tokens": 1200, "output_tokens": 300}"#,
        ],
    )
    .await);

    // The agent's reported usage is in the ledger, priced; a budget is set and shown.
    let report = ok(skein(
        &url,
        data,
        Some(&admin),
        &["usage", "report", "--group-by", "model"],
    )
    .await);
    // gpt-4o at $2.50 / $10 per million: 1,200 x 2.5 + 300 x 10 = $0.006.
    assert!(
        report.contains("gpt-4o") && report.contains("1200") && report.contains("$0.0060"),
        "{report}"
    );
    let budget = ok(skein(
        &url,
        data,
        Some(&admin),
        &["usage", "budget", "--usd", "25"],
    )
    .await);
    assert!(
        budget.contains("Monthly budget: usd 25") && budget.contains("1500 tokens"),
        "{budget}"
    );

    let fetched: Value = serde_json::from_str(&ok(skein(
        &url,
        data,
        Some(&admin),
        &["tasks", "get", &task, "--json"],
    )
    .await))
    .unwrap();
    assert_eq!(fetched["status"], "succeeded");
    assert_eq!(fetched["result"]["summary"], "agents, serverless");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_exit_with_the_documented_codes_and_say_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(&DevArgs::for_data_dir(dir.path()))
        .await
        .unwrap();
    let (url, data) = (server.url(), dir.path());
    let admin = ok(skein(&url, data, None, &["token", "--admin"]).await);

    let bad_id = skein(&url, data, Some(&admin), &["tasks", "get", "nope"]).await;
    assert_eq!(bad_id.code, 1);
    assert!(
        bad_id.stderr.contains("expected `tsk_`"),
        "{}",
        bad_id.stderr
    );

    let no_token = skein(&url, data, None, &["agents", "list"]).await;
    assert_eq!(no_token.code, 2);
    assert!(
        no_token.stderr.contains("skein token --admin"),
        "{}",
        no_token.stderr
    );
    let bad_json = skein(
        &url,
        data,
        Some(&admin),
        &["tasks", "create", "--capability", "x", "--input", "{oops"],
    )
    .await;
    assert_eq!(bad_json.code, 2);
    assert!(
        bad_json.stderr.contains("--input is not valid JSON"),
        "{}",
        bad_json.stderr
    );

    let elsewhere = tempfile::tempdir().unwrap();
    let wrong_dir = skein(&url, elsewhere.path(), None, &["token", "--admin"]).await;
    assert_eq!(wrong_dir.code, 2, "no key is invented outside the data dir");
    assert!(
        wrong_dir.stderr.contains("where `skein dev` runs"),
        "{}",
        wrong_dir.stderr
    );
    assert!(
        std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none(),
        "nothing written"
    );

    let unreachable = skein(
        "http://127.0.0.1:9",
        data,
        Some(&admin),
        &["agents", "list"],
    )
    .await;
    assert_eq!(unreachable.code, 3);
    assert!(
        unreachable.stderr.contains("skein dev"),
        "{}",
        unreachable.stderr
    );

    let refused = skein(&url, data, Some("not-a-token"), &["agents", "list"]).await;
    assert_eq!(refused.code, 4);
    let missing = skein(
        &url,
        data,
        Some(&admin),
        &["agents", "get", "agt_01M7ZDNZAMYD1P87B7MRN4T17N"],
    )
    .await;
    assert_eq!(missing.code, 5);

    let invalid = skein(
        &url,
        data,
        Some(&admin),
        &["agents", "register", "Bad Name"],
    )
    .await;
    assert_eq!(invalid.code, 1);
    assert!(
        invalid.stderr.contains("$.name"),
        "names the bad field: {}",
        invalid.stderr
    );
    server.shutdown().await;
}
