//! `skein asl validate|run` through the real binary: outputs and exit codes.

use support::skein;

mod support;

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/{name}",
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
    )
}

const TOKEN_QUEUE: &str = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";

#[test]
fn run_prints_the_output_and_skips_an_hour_long_wait() {
    let task_output = format!("{TOKEN_QUEUE}={{\"answer\":42}}");
    let (code, stdout, _) = skein(&[
        "asl",
        "run",
        &fixture("hello.asl.json"),
        "--input",
        r#"{"name":"Ada"}"#,
        "--task-output",
        &task_output,
    ]);
    assert_eq!(code, 0, "{stdout}");
    let output: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        output,
        serde_json::json!({"greeting": "Hello, Ada!", "reply": {"answer": 42}})
    );
}

#[test]
fn a_jsonata_definition_runs_the_same_way() {
    let task_output = format!("{TOKEN_QUEUE}={{\"answer\":42}}");
    let (code, stdout, stderr) = skein(&[
        "asl",
        "run",
        &fixture("hello.jsonata.asl.json"),
        "--input",
        r#"{"name":"Ada"}"#,
        "--task-output",
        &task_output,
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let output: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        output,
        serde_json::json!({"greeting": "Hello, Ada!", "reply": {"answer": 42}})
    );
}

#[test]
fn a_failed_execution_prints_error_and_cause_and_exits_1() {
    let (code, stdout, _) = skein(&[
        "asl",
        "run",
        &fixture("hello.asl.json"),
        "--input",
        r#"{"name":"Ada"}"#,
    ]);
    assert_eq!(code, 1);
    let output: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(output["error"], "States.Runtime");
    assert!(
        output["cause"].as_str().unwrap().contains(TOKEN_QUEUE),
        "{output}"
    );
}

#[test]
fn history_goes_to_stderr_one_event_per_line() {
    let task_output = format!("{TOKEN_QUEUE}={{}}");
    let (code, _, stderr) = skein(&[
        "asl",
        "run",
        &fixture("hello.asl.json"),
        "--history",
        "--task-output",
        &task_output,
        "--input",
        r#"{"name":"A"}"#,
    ]);
    assert_eq!(code, 0);
    let types: Vec<String> = stderr
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(types.first().map(String::as_str), Some("ExecutionStarted"));
    assert!(types.contains(&"TaskSubmitted".to_owned()), "{types:?}");
    assert_eq!(types.last().map(String::as_str), Some("ExecutionSucceeded"));
}

#[test]
fn invalid_definitions_list_their_problems_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    std::fs::write(&file, r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Finish"},"C":{"Type":"Wait","End":true}}}"#).unwrap();
    for command in ["validate", "run"] {
        let (code, stdout, stderr) = skein(&["asl", command, file.to_str().unwrap()]);
        assert_eq!(code, 2, "{command}: {stdout}");
        assert!(
            stderr.contains("States.A.Next: no state named 'Finish'"),
            "{stderr}"
        );
        assert!(stderr.contains("States.C.Seconds"), "{stderr}");
    }
}

#[test]
fn validate_accepts_a_valid_definition() {
    let (code, stdout, _) = skein(&["asl", "validate", &fixture("hello.asl.json")]);
    assert_eq!(code, 0);
    assert!(stdout.contains("valid (3 states)"), "{stdout}");
}

#[test]
fn bad_arguments_exit_2_with_what_to_fix() {
    let (code, _, stderr) = skein(&["asl", "run", &fixture("hello.asl.json"), "--input", "{nope"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--input is not valid JSON"), "{stderr}");
    let (code, _, stderr) = skein(&[
        "asl",
        "run",
        &fixture("hello.asl.json"),
        "--task-output",
        "no-equals-sign",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("ARN=JSON"), "{stderr}");
    let (code, _, stderr) = skein(&["asl", "validate", "/nonexistent.json"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn bench_reports_the_median_of_its_rounds() {
    let chain = format!(
        "{}/../shared/asl/benches/compare/pass-chain-100.asl.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let (code, stdout, stderr) = skein(&[
        "asl",
        "bench",
        &chain,
        "--input",
        r#"{"order":{"id":"o-1"}}"#,
        "--iterations",
        "3",
        "--rounds",
        "3",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut rounds: Vec<f64> = report["rounds_us"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_f64().unwrap())
        .collect();
    assert_eq!(rounds.len(), 3, "{report}");
    rounds.sort_by(f64::total_cmp);
    assert_eq!(report["per_execution_us"].as_f64(), Some(rounds[1]));
}
