//! A run whose values outgrow one stored item: a 250 KB input and output on one step, and
//! a map step that gathers three 250 KB outputs (750 KB), which is also the run's output.
//! DynamoDB holds at most 400 KB in an item; the run must succeed all the same.

use serde_json::{Value, json};

pub const WORKFLOW: &str = "
name: big
steps:
  - id: grow
    builtin: transform
    input: '{{ input }}'
    with: { program: '.text + \"!\"' }
  - id: copies
    type: map
    builtin: transform
    with: { program: '.text' }
    map: { over: '{{ input.copies }}' }
    input: { text: '{{ steps.grow.output }}' }
";

const TEXT_BYTES: usize = 250_000;

pub fn input() -> Value {
    json!({ "text": "x".repeat(TEXT_BYTES), "copies": [1, 2, 3] })
}

/// The ended run as `GET /v1/runs/{id}` shows it, with its steps.
pub fn check(run: &Value) {
    let steps = run["steps"].as_array().expect("the run's steps");
    let grown = format!("{}!", "x".repeat(TEXT_BYTES));
    assert_eq!(run["status"], "succeeded", "{}", short(run));
    // A run without an `output` template outputs its last steps' outputs by id.
    let output = run["output"]["copies"]
        .as_array()
        .expect("the map's outputs");
    assert_eq!(output.len(), 3);
    assert!(output.iter().all(|o| o == &json!(grown)));
    let step = |id: &str| {
        steps
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no step {id}"))
    };
    assert_eq!(
        step("grow")["input"]["text"].as_str().map(str::len),
        Some(TEXT_BYTES)
    );
    assert_eq!(step("grow")["output"], json!(grown));
    assert_eq!(step("copies")["output"].as_array().map(Vec::len), Some(3));
}

/// A run for an assertion message, without its megabyte of values.
fn short(run: &Value) -> String {
    let mut run = run.clone();
    for field in ["input", "output"] {
        if let Some(value) = run.get_mut(field) {
            *value = json!(format!("({} bytes)", value.to_string().len()));
        }
    }
    if let Some(steps) = run.get_mut("steps") {
        *steps = json!("(steps left out)");
    }
    run.to_string()
}
