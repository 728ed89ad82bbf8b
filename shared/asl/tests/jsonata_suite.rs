//! JSONata's own test suite (v2.0.6, the version Step Functions implements), run on the
//! engine JSONata states use. `scripts/node-tools/jsonata-suite.mjs` runs the same cases on
//! npm `jsonata` 2.0.6, which passes every one (`scripts/test.sh` checks that).
//!
//! Cases Step Functions itself changes are counted apart, not as failures: `$eval` (removed;
//! `$parse` replaces it) and `$random` (replaced by a seedable one). A case's `timelimit` and
//! `depth` are the reference test harness's runaway guard (which throws U1001); skein-asl
//! applies its own budget instead, so there any of U1001, D1011 (too deep) or D1012 (too
//! long) is the expected stop.

mod support;

use serde::Deserialize;
use serde_json::{Map, Value};
use skein_asl::jsonata::Expression;

#[derive(Deserialize)]
struct Suite {
    version: String,
    datasets: Map<String, Value>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    group: String,
    case: String,
    expr: String,
    #[serde(default, deserialize_with = "present")]
    data: Option<Value>,
    #[serde(default)]
    dataset: Option<String>,
    #[serde(default)]
    bindings: Map<String, Value>,
    /// `null` is a result too: `Some(Null)`, not absent.
    #[serde(default, deserialize_with = "present")]
    result: Option<Value>,
    #[serde(default, rename = "undefinedResult")]
    undefined_result: bool,
    #[serde(default)]
    code: Option<String>,
    /// The result is a sequence in no particular order.
    #[serde(default)]
    unordered: bool,
    #[serde(default)]
    timelimit: Option<u64>,
    #[serde(default)]
    depth: Option<u64>,
}

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

enum Verdict {
    Passed,
    ChangedByStepFunctions,
    Failed(String),
}

/// The share of cases that must keep passing (the measured rate, rounded down).
const MIN_PASS_RATE: f64 = 0.99;

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The same items in any order.
fn same_items(a: &Value, b: &Value) -> bool {
    let (Value::Array(x), Value::Array(y)) = (a, b) else {
        return false;
    };
    let mut unmatched: Vec<&Value> = y.iter().collect();
    x.len() == y.len()
        && x.iter()
            .all(|item| match unmatched.iter().position(|u| same(item, u)) {
                Some(at) => {
                    unmatched.swap_remove(at);
                    true
                }
                None => false,
            })
}

fn run(case: &Case, datasets: &Map<String, Value>) -> Verdict {
    if case.expr.contains("$eval") || case.expr.contains("$random") {
        return Verdict::ChangedByStepFunctions;
    }
    let data = match (&case.data, &case.dataset) {
        (Some(data), _) => Some(data.clone()),
        (None, Some(name)) => datasets.get(name).cloned(),
        (None, None) => None,
    };
    let runaway_guard = case.timelimit.is_some() || case.depth.is_some();
    let expected_code = |code: &str, got: &str| {
        got.contains(code)
            || (runaway_guard && ["U1001", "D1011", "D1012"].iter().any(|c| got.contains(c)))
    };
    let expression = match Expression::parse(&case.expr, "suite") {
        Ok(expression) => expression,
        Err(message) => {
            return match &case.code {
                Some(code) if expected_code(code, &message) => Verdict::Passed,
                _ => Verdict::Failed(format!("does not compile: {message}")),
            };
        }
    };
    let outcome = expression.evaluate_with(data.as_ref(), &case.bindings);
    match (outcome, &case.code) {
        (Err(error), Some(code)) => {
            let got = error.code.unwrap_or(error.message);
            if expected_code(code, &got) {
                Verdict::Passed
            } else {
                Verdict::Failed(format!("error {got}, expected {code}"))
            }
        }
        (Err(error), None) => Verdict::Failed(format!("error {}", error.message)),
        (Ok(value), Some(code)) => {
            Verdict::Failed(format!("gave {value:?}, expected error {code}"))
        }
        (Ok(None), None) if case.undefined_result || case.result.is_none() => Verdict::Passed,
        (Ok(Some(value)), None) => match &case.result {
            Some(expected) if same(&value, expected) => Verdict::Passed,
            Some(expected) if case.unordered && same_items(&value, expected) => Verdict::Passed,
            Some(expected) => Verdict::Failed(format!("gave {value}, expected {expected}")),
            None => Verdict::Failed(format!("gave {value}, expected undefined")),
        },
        (Ok(None), None) => Verdict::Failed("gave undefined".into()),
    }
}

#[test]
fn jsonatas_own_test_suite_passes() {
    let path = support::package_dir().join("tests/jsonata/suite-2.0.6.json");
    let suite: Suite = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut passed = 0;
    let mut changed = 0;
    let mut failures = Vec::new();
    for case in &suite.cases {
        match run(case, &suite.datasets) {
            Verdict::Passed => passed += 1,
            Verdict::ChangedByStepFunctions => changed += 1,
            Verdict::Failed(why) => failures.push(format!(
                "{}/{}: {} -- {why}",
                case.group, case.case, case.expr
            )),
        }
    }
    let counted = suite.cases.len() - changed;
    let rate = passed as f64 / counted as f64;
    eprintln!(
        "JSONata {} test suite: {passed} of {counted} cases pass ({:.1}%); {changed} use $eval or $random, which Step Functions replaces",
        suite.version,
        rate * 100.0
    );
    for failure in &failures {
        eprintln!("  failed {failure}");
    }
    assert!(
        rate >= MIN_PASS_RATE,
        "{} cases failed, below {MIN_PASS_RATE}",
        failures.len()
    );
}
