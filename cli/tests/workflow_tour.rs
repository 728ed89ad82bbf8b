//! The README's workflow tour through the real `skein` binary: register the examples, run
//! the research report with a live view and approve it, fan out, and let the example
//! remote agent (a Python script) do a step.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use skein_cli::config::DevArgs;
use skein_cli::dev::DevServer;

fn example(name: &str) -> String {
    let path = PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../examples")
    .join(name);
    path.to_string_lossy().into_owned()
}

fn command(url: &str, data: &Path, token: &str, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"));
    command
        .args(args)
        .env("SKEIN_URL", url)
        .env("SKEIN_DATA_DIR", data)
        .env("SKEIN_TOKEN", token)
        .env_remove("SKEIN_JWT_SECRET")
        .stdin(Stdio::null());
    command
}

async fn ok(url: &str, data: &Path, token: &str, args: &[&str]) -> String {
    let output = command(url, data, token, args).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "skein {args:?} failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workflow_tour_runs_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(&DevArgs::for_data_dir(dir.path()))
        .await
        .unwrap();
    let (url, data) = (server.url(), dir.path());
    let admin = ok(&url, data, "", &["token", "--admin"])
        .await
        .trim()
        .to_string();
    let run = async |args: &[&str]| ok(&url, data, &admin, args).await;

    let compiled: Value =
        serde_json::from_str(&run(&["compile", &example("research-report.yaml")]).await).unwrap();
    assert_eq!(compiled["States"]["Run steps"]["Type"], "Parallel");
    assert!(
        run(&["graph", &example("research-report.yaml")])
            .await
            .starts_with("flowchart TD")
    );
    // As the README has it: every example at once, before any agent can translate. The
    // refused file is reported and the others are registered all the same.
    let applied = command(
        &url,
        data,
        &admin,
        &[
            "workflows",
            "apply",
            &example("translate.yaml"),
            &example("research-report.yaml"),
            &example("fanout.yaml"),
        ],
    )
    .output()
    .await
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&applied.stdout),
        String::from_utf8_lossy(&applied.stderr),
    );
    assert_eq!(applied.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("research-report v1 registered"), "{stdout}");
    assert!(stdout.contains("review-scoring v1 registered"), "{stdout}");
    assert!(
        stderr.contains("translate.yaml: $.steps[0].capability")
            && stderr.contains("1 of 3 workflow files were refused"),
        "{stderr}"
    );

    // Research report: runs live until the approval, which we give from another command.
    let input = format!("@{}", example("research-input.json"));
    let watched = command(
        &url,
        data,
        &admin,
        &["run", "research-report", "--input", &input, "--watch"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let pending = loop {
        let pending: Value = serde_json::from_str(&run(&["approvals", "--json"]).await).unwrap();
        if let Some(first) = pending.as_array().and_then(|a| a.first()) {
            break first.clone();
        }
        assert!(Instant::now() < deadline, "no approval appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        pending["message"]
            .as_str()
            .unwrap()
            .starts_with("Publish the report on tidal energy?")
    );
    let run_id = pending["run"].as_str().unwrap();
    run(&["approve", run_id, "review", "--comment", "numbers checked"]).await;
    let output = watched.wait_with_output().await.unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("review awaits approval") && stderr.contains("✔ report"),
        "{stderr}"
    );
    assert!(
        stdout.contains("succeeded") && stdout.contains("\"title\": \"Report: tidal energy\""),
        "{stdout}"
    );

    // Fan-out: one review is empty and fails; 20% is tolerated.
    let input = format!("@{}", example("fanout-input.json"));
    let out = run(&[
        "run",
        "review-scoring",
        "--input",
        &input,
        "--watch",
        "--json",
    ])
    .await;
    let view: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(view["output"]["scored"], 7);
    assert_eq!(view["output"]["skipped"], 1);

    // A remote agent: the example script claims the step's task and completes it.
    let env = run(&[
        "agents",
        "register",
        "translator",
        "--capability",
        "translate",
        "--env",
    ])
    .await;
    let exported = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .unwrap()
            .trim_matches('\'')
            .to_string()
    };
    let agent = tokio::process::Command::new("python3")
        .arg(example("remote-agent/agent.py"))
        .arg("--once")
        .env("SKEIN_URL", &url)
        .env("SKEIN_AGENT_ID", exported("SKEIN_AGENT_ID"))
        .env("SKEIN_AGENT_SECRET", exported("SKEIN_AGENT_SECRET"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the example agent");
    let input = r#"{"text": "hello world", "language": "fr"}"#;
    let out = run(&[
        "run",
        &example("translate.yaml"),
        "--input",
        input,
        "--watch",
        "--json",
    ])
    .await;
    let view: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        view["output"],
        serde_json::json!({"translation": "bonjour monde", "words": 2})
    );
    let agent = agent.wait_with_output().await.unwrap();
    assert!(agent.status.success());
    assert!(String::from_utf8_lossy(&agent.stdout).contains("'hello world' -> 'bonjour monde'"));
    server.shutdown().await;
}
