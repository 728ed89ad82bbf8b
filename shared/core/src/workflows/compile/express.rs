//! Express mode: no task tokens (express state machines cannot wait for one). Each step is
//! a direct, synchronous invoke of the step-worker, and the graph runs level by level: a
//! step waits for the whole previous level, which costs makespan on uneven DAGs but keeps
//! the machine short and cheap.

use serde_json::{Map, Value, json};

use super::StepPhase;
use super::map::{TaskMaker, map_states};
use super::{LAMBDA_INVOKE, Target, message, retry};
use crate::workflows::definition::{Step, StepKind};
use crate::workflows::validate::Workflow;

pub(super) fn compile(workflow: &Workflow, target: &Target) -> Value {
    let levels = workflow.dag.levels();
    let depth = levels.iter().max().map_or(0, |m| m + 1);
    let steps = &workflow.definition.steps;
    let mut all = Map::new();
    let mut previous_tail: Option<String> = None;
    let mut start = String::new();
    for level in 0..depth {
        let members: Vec<&Step> = (0..steps.len())
            .filter(|&i| levels[i] == level)
            .map(|i| &steps[i])
            .collect();
        let (head, tail, states) = match members.as_slice() {
            [only] => {
                let (states, tail) = step_states(only, target);
                (only.id.clone(), tail, states)
            }
            _ => {
                let name = format!("Level {}", level + 1);
                let branches: Vec<Value> = members
                    .iter()
                    .map(|step| {
                        let (mut states, tail) = step_states(step, target);
                        states[&tail]["End"] = json!(true);
                        json!({ "StartAt": step.id, "States": states })
                    })
                    .collect();
                let mut states = Map::new();
                states.insert(
                    name.clone(),
                    json!({ "Type": "Parallel", "Branches": branches, "ResultPath": null }),
                );
                (name.clone(), name, states)
            }
        };
        all.extend(states);
        match &previous_tail {
            Some(tail) => all[tail]["Next"] = json!(head),
            None => start = head,
        }
        previous_tail = Some(tail);
    }
    if let Some(tail) = previous_tail {
        all[&tail]["End"] = json!(true);
    }
    json!({ "StartAt": start, "States": all })
}

/// A step's states, not yet linked onward, and the name of its last state.
fn step_states(step: &Step, target: &Target) -> (Map<String, Value>, String) {
    let make = |phase: StepPhase| invoke(step, target, phase);
    if step.kind == StepKind::Map {
        return map_states(
            step,
            &TaskMaker {
                make: &make,
                payload: "$.Payload",
            },
        );
    }
    let mut task = make(StepPhase::Run);
    task["ResultPath"] = json!(null);
    if let Some(retry) = retry(step) {
        task["Retry"] = retry;
    }
    let mut states = Map::new();
    states.insert(step.id.clone(), task);
    (states, step.id.clone())
}

fn invoke(step: &Step, target: &Target, phase: StepPhase) -> Value {
    json!({
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {
            "FunctionName": target.worker_function,
            "Payload": message(target, step, phase, false),
        },
    })
}
