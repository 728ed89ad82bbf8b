//! Standard mode: one Parallel branch per step, every step a task-token message. The
//! step-worker holds each step until all of its dependencies are done (flags in the
//! store), so a step starts the moment its own inputs are ready, not when a whole level is.

use serde_json::{Map, Value, json};

use super::StepPhase;
use super::map::{TaskMaker, map_states};
use super::{RUN_STEPS, SEND_WITH_TOKEN, Target, message, retry};
use crate::workflows::definition::{Step, StepKind};
use crate::workflows::validate::Workflow;

pub(super) fn compile(workflow: &Workflow, target: &Target) -> Value {
    let branches: Vec<Value> = workflow
        .definition
        .steps
        .iter()
        .map(|step| branch(step, target))
        .collect();
    json!({
        "StartAt": RUN_STEPS,
        "States": {
            RUN_STEPS: {
                "Type": "Parallel",
                "Branches": branches,
                "ResultPath": null,
                "End": true
            }
        }
    })
}

fn branch(step: &Step, target: &Target) -> Value {
    let make = |phase: StepPhase| token_task(step, target, phase);
    let (mut states, last) = if step.kind == StepKind::Map {
        map_states(
            step,
            &TaskMaker {
                make: &make,
                payload: "$",
            },
        )
    } else {
        let mut task = make(StepPhase::Run);
        if let Some(retry) = retry(step) {
            task["Retry"] = retry;
        }
        let mut states = Map::new();
        states.insert(step.id.clone(), task);
        (states, step.id.clone())
    };
    states[&last]["End"] = json!(true);
    json!({ "StartAt": step.id, "States": states })
}

fn token_task(step: &Step, target: &Target, phase: StepPhase) -> Value {
    json!({
        "Type": "Task",
        "Resource": SEND_WITH_TOKEN,
        "Parameters": {
            "QueueUrl": target.step_queue_url,
            "MessageBody": message(target, step, phase, true),
        },
    })
}
