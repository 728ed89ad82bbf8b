//! Every invalid definition in core's table is refused at its path with its message, by
//! core's validator with the real builtins (the e2e tests check the same over HTTP).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;
use skein_agents::{BuiltinSettings, Builtins};
use skein_core::Error;
use skein_core::workflows::{Known, parse_definition, validate};

#[derive(Deserialize)]
struct Case {
    name: String,
    path: String,
    message: String,
    workflow: Value,
}

#[test]
fn every_invalid_workflow_is_refused_where_it_is_wrong() {
    let text = include_str!("../../core/tests/workflows/invalid.yaml");
    let cases: Vec<Case> = serde_norway::from_str(text).unwrap();
    assert!(cases.len() >= 20);
    let builtins = Builtins::new(BuiltinSettings::default());
    for case in cases {
        let known = Known {
            agents: Some(BTreeSet::from(["writer".to_string()])),
            capabilities: Some(BTreeSet::from(["summarize".to_string()])),
            workflows: Some(BTreeMap::from([("child".to_string(), 1)])),
            builtins: Some(&builtins),
        };
        let result = parse_definition(&case.workflow.to_string()).and_then(|d| validate(d, &known));
        let Err(Error::Validation(errors)) = result else {
            panic!("{}: expected a validation error", case.name);
        };
        assert!(
            errors
                .iter()
                .any(|e| e.path == case.path && e.message.contains(&case.message)),
            "{}: wanted {} / {:?}, got {errors:#?}",
            case.name,
            case.path,
            case.message
        );
    }
}
