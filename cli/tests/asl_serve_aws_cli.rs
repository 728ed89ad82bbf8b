//! `skein asl serve` driven by the AWS CLI from PyPI, as users point
//! `aws stepfunctions --endpoint-url` at it.

use serde_json::{Value, json};
use support::sfn::{ORDER, ROLE, finished, serve, token_of};

mod support;

/// The AWS CLI from PyPI (scripts/setup.sh installs it into `${SKEIN_VENV:-.venv}-awscli`).
fn aws_cli() -> std::path::PathBuf {
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = std::env::var_os("SKEIN_VENV")
        .map(std::path::PathBuf::from)
        .map(|v| if v.is_absolute() { v } else { repo.join(v) })
        .unwrap_or_else(|| repo.join(".venv"));
    let mut name = venv.into_os_string();
    name.push("-awscli/bin/aws");
    std::path::PathBuf::from(name)
}

fn aws(port: u16, args: &[&str]) -> Value {
    let output = std::process::Command::new(aws_cli())
        .args(["stepfunctions", "--endpoint-url"])
        .arg(format!("http://127.0.0.1:{port}"))
        .args(args)
        .args(["--output", "json"])
        .env("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
        .env("AWS_SECRET_ACCESS_KEY", "local-secret")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{} runs (scripts/setup.sh installs it): {e}",
                aws_cli().display()
            )
        });
    assert!(
        output.status.success(),
        "aws stepfunctions {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_aws_cli_creates_runs_and_answers_a_token() {
    let served = serve().await;
    let port = served.port;
    let dir = tempfile::tempdir().unwrap();
    let definition = dir.path().join("order.asl.json");
    std::fs::write(&definition, ORDER).unwrap();
    let created = aws(
        port,
        &[
            "create-state-machine",
            "--name",
            "order",
            "--role-arn",
            ROLE,
            "--definition",
            &format!("file://{}", definition.display()),
        ],
    );
    let machine = created["stateMachineArn"].as_str().unwrap().to_string();
    let listed = aws(port, &["list-state-machines"]);
    assert_eq!(listed["stateMachines"][0]["name"], "order");

    let started = aws(
        port,
        &[
            "start-execution",
            "--state-machine-arn",
            &format!("{machine}#Throttled"),
            "--input",
            r#"{"order": 7}"#,
        ],
    );
    let execution = started["executionArn"].as_str().unwrap().to_string();
    let token = token_of(&served.client, &execution).await;
    aws(
        port,
        &[
            "send-task-success",
            "--task-token",
            &token,
            "--task-output",
            r#"{"approved": true}"#,
        ],
    );
    finished(&served.client, &execution).await;
    let described = aws(port, &["describe-execution", "--execution-arn", &execution]);
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["charge"], json!({"charged": true}));
    let history = aws(
        port,
        &["get-execution-history", "--execution-arn", &execution],
    );
    let events = history["events"].as_array().unwrap();
    assert_eq!(events[0]["type"], "ExecutionStarted");
    assert_eq!(events.last().unwrap()["type"], "ExecutionSucceeded");
}
