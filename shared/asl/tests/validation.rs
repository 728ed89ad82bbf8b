//! Invalid definitions (tests/validation/invalid.json): each must be refused with a problem
//! at the expected location whose message says what to fix. Valid ones are every
//! conformance definition, which the conformance test runs.

use serde::Deserialize;
use serde_json::Value;
use skein_asl::StateMachine;

#[derive(Deserialize)]
struct File {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    #[serde(default)]
    definition: Option<Value>,
    /// For definitions JSON cannot hold in a `Value`, such as duplicate keys.
    #[serde(default)]
    definition_text: Option<String>,
    problems: Vec<Expected>,
}

#[derive(Deserialize)]
struct Expected {
    location: String,
    contains: String,
}

#[test]
fn invalid_definitions_are_refused_with_located_problems() {
    let text = include_str!("validation/invalid.json");
    let file: File = serde_json::from_str(text).unwrap();
    let mut failures = Vec::new();
    for case in &file.cases {
        let json = match (&case.definition, &case.definition_text) {
            (Some(value), None) => value.to_string(),
            (None, Some(text)) => text.clone(),
            _ => panic!("{}: give definition or definition_text", case.name),
        };
        let problems = match StateMachine::parse(&json) {
            Ok(_) => {
                failures.push(format!("{}: accepted", case.name));
                continue;
            }
            Err(invalid) => invalid.problems,
        };
        for expected in &case.problems {
            let found = problems
                .iter()
                .any(|p| p.location == expected.location && p.message.contains(&expected.contains));
            if !found {
                failures.push(format!(
                    "{}: no problem at '{}' containing {:?}; got {:?}",
                    case.name,
                    expected.location,
                    expected.contains,
                    problems.iter().map(ToString::to_string).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} validation cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_definition_that_is_not_json_says_so() {
    let error = StateMachine::parse("{\"StartAt\": ").unwrap_err();
    assert!(error.to_string().contains("not valid JSON"), "{error}");
}
