//! A map step's states, shared by both modes: `{id}` resolves the list and answers with
//! item indexes, `{id}.each` runs `{id}.item` once per index, `{id}.collect` gathers.

use serde_json::{Map, Value, json};

use super::{StepPhase, helper_state, retry};
use crate::workflows::definition::{OnFailure, Step};

/// Builds one Task state for a phase; `payload` is where its result sits (`$` for a task
/// token's answer, `$.Payload` for a Lambda invoke).
pub(super) struct TaskMaker<'a> {
    pub make: &'a dyn Fn(StepPhase) -> Value,
    pub payload: &'a str,
}

/// The states, and the name of the last one (which the caller links onward or ends).
pub(super) fn map_states(step: &Step, tasks: &TaskMaker) -> (Map<String, Value>, String) {
    let each = helper_state(&step.id, "each");
    let item = helper_state(&step.id, "item");
    let collect = helper_state(&step.id, "collect");
    let mut states = Map::new();

    let mut items = (tasks.make)(StepPhase::Items);
    items["ResultSelector"] = json!({ "indices.$": format!("{}.indices", tasks.payload) });
    items["ResultPath"] = json!("$.fanout");
    items["Next"] = json!(each);
    states.insert(step.id.clone(), items);

    let mut per_item = (tasks.make)(StepPhase::Item);
    per_item["ResultSelector"] = json!({ "status.$": format!("{}.status", tasks.payload) });
    if let Some(retry) = retry(step) {
        per_item["Retry"] = retry;
    }
    per_item["End"] = json!(true);
    let spec = step.map.as_ref();
    let mut item_states = Map::new();
    // Step Functions takes ToleratedFailureCount/Percentage only on a distributed Map;
    // an inline one fails at its first failed item. So with a tolerance, each item
    // catches its own failure (the item's record holds it), and the collect phase
    // counts the failures against the tolerance (States.ExceedToleratedFailureThreshold).
    if spec.is_some_and(|m| m.tolerated_failures.is_some()) {
        let failed = helper_state(&step.id, "item-failed");
        per_item["Catch"] =
            json!([{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": failed }]);
        item_states.insert(failed, json!({ "Type": "Pass", "End": true }));
    }
    item_states.insert(item.clone(), per_item);
    let mut map = json!({
        "Type": "Map",
        "ItemsPath": "$.fanout.indices",
        "ItemSelector": { "index.$": "$$.Map.Item.Value" },
        "MaxConcurrency": spec.and_then(|m| m.max_concurrency).unwrap_or(0),
        "ItemProcessor": {
            "ProcessorConfig": { "Mode": "INLINE" },
            "StartAt": item,
            "States": item_states
        },
        "ResultPath": null,
        "Next": collect,
    });
    if step.on_failure == OnFailure::Continue {
        map["Catch"] =
            json!([{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": collect }]);
    }
    states.insert(each, map);

    let mut gather = (tasks.make)(StepPhase::Collect);
    gather["ResultPath"] = json!(null);
    states.insert(collect.clone(), gather);
    (states, collect)
}
