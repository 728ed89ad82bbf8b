//! The history a run records: ids chained in order, each state's input the output before
//! it, the execution's input and output shared with its first and last state, and the
//! history limit that stops a state loop.

use std::sync::Arc;

use serde_json::{Value, json};
use skein_asl::{EventType, Execution, ExecutionConfig, Outcome, Resources, StateMachine, Status};

fn run(definition: Value, input: Value, max_history_events: usize) -> Outcome {
    let machine = StateMachine::from_value(&definition).unwrap();
    let mut config = ExecutionConfig::new(Arc::new(Resources::new()));
    config.max_history_events = max_history_events;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(Execution::new(&machine, input, config).run())
}

fn chain(length: usize) -> Value {
    let mut states = serde_json::Map::new();
    for i in 0..length {
        let mut state = json!({"Type": "Pass", "Result": i, "ResultPath": format!("$.r{i}")});
        if i + 1 == length {
            state["End"] = json!(true);
        } else {
            state["Next"] = json!(format!("S{}", i + 1));
        }
        states.insert(format!("S{i}"), state);
    }
    json!({"StartAt": "S0", "States": states})
}

#[test]
fn a_chain_records_every_state_in_order_with_its_payloads() {
    // Longer than the 128 changes after which a recorded payload is copied in full.
    let outcome = run(chain(300), json!({"order": 1}), 25_000);
    assert_eq!(outcome.status, Status::Succeeded);
    let history = outcome.history.events();
    assert_eq!(history.len(), 2 + 2 * 300);
    for (index, event) in history.iter().enumerate() {
        assert_eq!(event.id, index as u64 + 1);
        assert_eq!(event.previous_event_id, index as u64, "{event:?}");
    }
    let mut expected = json!({"order": 1});
    assert_eq!(*history[0].input.as_ref().unwrap().value(), expected);
    for (i, pair) in history[1..history.len() - 1].chunks(2).enumerate() {
        let (entered, exited) = (&pair[0], &pair[1]);
        assert_eq!(entered.event_type, EventType::PassStateEntered);
        assert_eq!(exited.event_type, EventType::PassStateExited);
        assert_eq!(
            entered.state_name.as_deref(),
            Some(format!("S{i}").as_str())
        );
        assert_eq!(*entered.input.as_ref().unwrap().value(), expected);
        expected[format!("r{i}")] = json!(i);
        assert_eq!(*exited.output.as_ref().unwrap().value(), expected);
    }
    let last = history.last().unwrap();
    assert_eq!(last.event_type, EventType::ExecutionSucceeded);
    assert_eq!(*last.output.as_ref().unwrap().value(), expected);
    assert_eq!(outcome.output, Some(expected));
}

#[test]
fn a_state_loop_ends_at_the_history_limit() {
    let looping = json!({"StartAt": "Again", "States": {
        "Again": {"Type": "Pass", "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.go", "BooleanEquals": true, "Next": "Again"}], "Default": "Done"},
        "Done": {"Type": "Succeed"}
    }});
    let outcome = run(looping, json!({"go": true}), 41);
    assert_eq!(outcome.status, Status::Failed);
    let error = outcome.error.unwrap();
    assert_eq!(error.error, "States.Runtime");
    assert!(
        error.cause.contains("limit of 41 events"),
        "{}",
        error.cause
    );
    // ExecutionStarted, 20 states entered and exited (41 events), then ExecutionFailed.
    assert_eq!(outcome.history.len(), 42);
    assert_eq!(
        outcome.history.last().unwrap().event_type,
        EventType::ExecutionFailed
    );
}
