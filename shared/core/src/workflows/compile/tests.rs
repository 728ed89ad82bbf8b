use serde_json::{Value, json};

use super::*;
use crate::workflows::{Known, parse_definition, validate};

fn workflow(yaml: &str) -> Workflow {
    validate(parse_definition(yaml).unwrap(), &Known::default()).unwrap()
}

const DIAMOND: &str = "
name: diamond
steps:
  - id: start
    builtin: echo
  - id: left
    builtin: echo
    input: { x: '{{ steps.start.output }}' }
    retry: { max_attempts: 3, backoff: 2s, max_delay: 10s }
  - id: right
    builtin: echo
    depends_on: [start]
  - id: join
    builtin: echo
    input: { l: '{{ steps.left.output }}', r: '{{ steps.right.output }}' }
";

#[test]
fn standard_mode_gives_each_step_a_branch_named_by_its_id() {
    let asl = compile(&workflow(DIAMOND), &Target::local("t1", "diamond", 1));
    let branches = asl["States"][RUN_STEPS]["Branches"].as_array().unwrap();
    let starts: Vec<&str> = branches
        .iter()
        .map(|b| b["StartAt"].as_str().unwrap())
        .collect();
    assert_eq!(starts, ["start", "left", "right", "join"]);
    let left = &branches[1]["States"]["left"];
    assert_eq!(left["Resource"], SEND_WITH_TOKEN);
    assert_eq!(
        left["Parameters"]["MessageBody"]["token.$"],
        "$$.Task.Token"
    );
    assert_eq!(left["Retry"][0]["MaxAttempts"], 2);
    assert_eq!(left["Retry"][0]["IntervalSeconds"], 2);
    assert_eq!(left["Retry"][0]["MaxDelaySeconds"], 10);
}

#[test]
fn express_mode_runs_levels_without_task_tokens() {
    let yaml = DIAMOND.replace("name: diamond", "name: diamond\nmode: express");
    let asl = compile(&workflow(&yaml), &Target::local("t1", "diamond", 1));
    assert_eq!(asl["StartAt"], "start");
    assert_eq!(asl["States"]["start"]["Next"], "Level 2");
    assert_eq!(asl["States"]["Level 2"]["Next"], "join");
    assert_eq!(asl["States"]["join"]["End"], true);
    assert!(!asl.to_string().contains("waitForTaskToken"));
    assert_eq!(asl["States"]["join"]["Resource"], LAMBDA_INVOKE);
}

#[test]
fn a_map_step_fans_out_with_its_limits() {
    let yaml = "
name: fan
steps:
  - id: list
    builtin: echo
  - id: each
    type: map
    builtin: echo
    map: { over: '{{ steps.list.output.items }}', max_concurrency: 4, tolerated_failures: '25%' }
    input: '{{ item }}'
    on_failure: continue
";
    let asl = compile(&workflow(yaml), &Target::local("t1", "fan", 1));
    let states = &asl["States"][RUN_STEPS]["Branches"][1]["States"];
    assert_eq!(states["each"]["Next"], "each.each");
    let map = &states["each.each"];
    assert_eq!(map["MaxConcurrency"], 4);
    // Inline maps cannot carry a tolerance on AWS: items catch their own failures and
    // the collect phase counts them.
    assert!(map.get("ToleratedFailurePercentage").is_none());
    let items = &map["ItemProcessor"]["States"];
    assert_eq!(items["each.item"]["Catch"][0]["Next"], "each.item-failed");
    assert_eq!(items["each.item-failed"]["Type"], "Pass");
    assert_eq!(map["Catch"][0]["Next"], "each.collect");
    assert_eq!(map["ItemProcessor"]["StartAt"], "each.item");
    assert_eq!(states["each.collect"]["End"], true);
}

#[test]
fn compiled_asl_passes_skein_asl_style_shape_checks() {
    // Every state has a Type, and every Next names a state in the same States block.
    fn check(states: &Value) {
        let names: Vec<&String> = states.as_object().unwrap().keys().collect();
        for state in states.as_object().unwrap().values() {
            assert!(state["Type"].is_string());
            if let Some(next) = state.get("Next").and_then(Value::as_str) {
                assert!(names.iter().any(|n| *n == next), "dangling Next {next}");
            }
            for branch in state
                .get("Branches")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                check(&branch["States"]);
            }
        }
    }
    let asl = compile(&workflow(DIAMOND), &Target::local("t1", "diamond", 1));
    check(&asl["States"]);
    assert_eq!(asl["QueryLanguage"], json!("JSONPath"));
}
