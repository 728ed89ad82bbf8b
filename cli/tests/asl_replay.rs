//! `skein asl replay` through the real binary, on a recorded execution with a retry, a Map
//! and a caught error (`fixtures/replay/orders.history.json`: `get-execution-history`'s
//! JSON in AWS's format, as `skein asl serve` answered it; no AWS account runs here).

use support::skein;

mod support;

use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/replay/{name}",
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
    )
}

/// The recorded definition, edited.
fn edited(dir: &tempfile::TempDir, edit: impl FnOnce(&mut Value)) -> String {
    let mut definition: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("orders.asl.json")).unwrap())
            .unwrap();
    edit(&mut definition);
    let path = dir.path().join("edited.asl.json");
    std::fs::write(&path, definition.to_string()).unwrap();
    path.display().to_string()
}

#[test]
fn the_definition_that_ran_replays_to_the_same_events() {
    let (code, stdout, stderr) = skein(&[
        "asl",
        "replay",
        &fixture("orders.asl.json"),
        &fixture("orders.history.json"),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "replayed 22 events: the same states, outputs and errors as the recording (SUCCEEDED)"
        ),
        "{stdout}"
    );
}

#[test]
fn a_changed_definition_is_shown_where_it_first_parts_from_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    // Another result in the state the caught error leads to.
    let changed = edited(&dir, |d| {
        d["States"]["Fallback"]["Result"] = json!("by sms")
    });
    let (code, stdout, _) = skein(&["asl", "replay", &changed, &fixture("orders.history.json")]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("recorded  event 36: PassStateExited of state `Fallback`")
            && stdout.contains(r#""notified":"by email""#)
            && stdout.contains(r#"here      PassStateExited of state `Fallback`"#)
            && stdout.contains(r#""notified":"by sms""#),
        "{stdout}"
    );

    // Without the retry, the throttled charge fails the run where AWS's went on.
    let no_retry = edited(&dir, |d| {
        d["States"]["Charge"]
            .as_object_mut()
            .unwrap()
            .remove("Retry");
    });
    let (code, stdout, _) = skein(&["asl", "replay", &no_retry, &fixture("orders.history.json")]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("recorded  event 10: TaskSucceeded of state `Charge`")
            && stdout
                .contains("here      ExecutionFailed with error Lambda.TooManyRequestsException"),
        "{stdout}"
    );
}

#[test]
fn a_fork_runs_from_a_state_on_an_edited_input_with_the_recorded_answers() {
    let (code, stdout, stderr) = skein(&[
        "asl",
        "replay",
        &fixture("orders.asl.json"),
        &fixture("orders.history.json"),
        "--from",
        "Ship",
        "--input",
        r#"{"items": ["tea", "cups"], "charge": {"id": "ch_X"}}"#,
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let output: Value = serde_json::from_str(stdout.split_once('\n').unwrap().1).unwrap();
    assert_eq!(
        output,
        json!({
            "items": ["tea", "cups"],
            "charge": {"id": "ch_X"},
            "boxes": [{"box": "B-1", "sku": "tea"}, {"box": "B-2", "sku": "cups"}],
            "notified": "by email"
        })
    );

    let (code, _, stderr) = skein(&[
        "asl",
        "replay",
        &fixture("orders.asl.json"),
        &fixture("orders.history.json"),
        "--from",
        "Pack",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--from Pack: the machine has no top-level state of that name; it has Prepare, Charge, Ship, Notify, Fallback, Done"),
        "{stderr}"
    );
}

#[test]
fn a_file_that_is_not_a_history_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let not_history = dir.path().join("h.json");
    std::fs::write(&not_history, r#"{"executions": []}"#).unwrap();
    let (code, _, stderr) = skein(&[
        "asl",
        "replay",
        &fixture("orders.asl.json"),
        not_history.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("the history is not get-execution-history's JSON: it has no `events` list"),
        "{stderr}"
    );
}
