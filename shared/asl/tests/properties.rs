//! Property: the interpreter never panics (and always finishes) on any definition the
//! validator accepts, whatever the JSON input.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{Value, json};
use skein_asl::{Execution, ExecutionConfig, Resources, StateMachine, TaskError, VirtualClock};

const ECHO: &str = "arn:aws:lambda:us-east-1:123456789012:function:echo";
const FLAKY: &str = "arn:aws:lambda:us-east-1:123456789012:function:flaky";

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        (-1.0e6..1.0e6f64).prop_map(|n| json!(n)),
        "[a-z0-9 ]{0,8}".prop_map(Value::String),
        Just(json!("2026-01-31T12:00:00Z")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn path() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "$",
        "$.a",
        "$.b",
        "$.a.b",
        "$.a[0]",
        "$.c[*]",
        "$..a",
        "$.a[?(@.b > 1)]",
        "$$.Execution.Input",
        "$$.State.Name",
        "$v",
    ])
    .prop_map(str::to_owned)
}

fn dynamic_value() -> impl Strategy<Value = String> {
    prop_oneof![
        path(),
        Just("States.Format('{}-{}', $.a, $.b)".to_owned()),
        Just("States.ArrayLength($.a)".to_owned()),
        Just("States.MathAdd($.a, 1)".to_owned()),
        Just("States.StringToJson($.b)".to_owned()),
        Just("States.JsonToString($)".to_owned()),
        Just("States.ArrayGetItem($.c, 2)".to_owned()),
        Just("States.Hash($.a, 'SHA-256')".to_owned()),
        Just("States.Base64Decode($.b)".to_owned()),
        Just("States.ArrayPartition($.c, 2)".to_owned()),
        Just("States.JsonMerge($.a, $.b, false)".to_owned()),
        Just("States.StringSplit($.a, ',')".to_owned()),
    ]
}

fn choice_rule() -> impl Strategy<Value = Value> {
    let op = prop::sample::select(vec![
        ("StringEquals", json!("x")),
        ("NumericGreaterThan", json!(1)),
        ("NumericLessThanEqualsPath", json!("$.b")),
        ("BooleanEquals", json!(true)),
        ("TimestampLessThan", json!("2026-01-01T00:00:00Z")),
        ("StringMatches", json!("a*")),
        ("IsPresent", json!(true)),
        ("IsNull", json!(false)),
        ("IsNumeric", json!(true)),
    ]);
    (path(), op).prop_map(|(variable, (op, operand))| {
        let mut rule = serde_json::Map::new();
        rule.insert("Variable".into(), json!(variable));
        rule.insert(op.into(), operand);
        Value::Object(rule)
    })
}

/// (type, jump target, a path, a dynamic value, a choice rule, a literal, a small number)
type Spec = (
    u8,
    Option<usize>,
    Option<String>,
    Option<String>,
    Value,
    Value,
    u8,
);

/// The ingredients of one random state; `build` turns them into ASL.
fn state(count: usize) -> impl Strategy<Value = Spec> {
    (
        0u8..9,
        prop::option::of(0..count),
        prop::option::of(path()),
        prop::option::of(dynamic_value()),
        choice_rule(),
        json_value(),
        0u8..4,
    )
}

fn build(specs: Vec<Spec>) -> Value {
    let name = |i: usize| format!("S{i}");
    let mut states = serde_json::Map::new();
    for (i, (kind, next, path, dynamic, rule, literal, small)) in specs.iter().cloned().enumerate()
    {
        let mut state = serde_json::Map::new();
        // States form a forward chain (so all are reachable and can finish); `next` adds a
        // jump anywhere, loops included, through Choice rules and Catch.
        let last = i + 1 == specs.len();
        let flow = |state: &mut serde_json::Map<String, Value>| {
            if last {
                state.insert("End".into(), json!(true));
            } else {
                state.insert("Next".into(), json!(name(i + 1)));
            }
        };
        let jump = name(next.unwrap_or(0));
        // Succeed and Fail end the chain, so only the last state may be one.
        let kind = if (kind == 3 || kind == 4) && !last {
            0
        } else {
            kind
        };
        // State names are unique machine-wide, so each nested state is named after its parent.
        let inner = |tag: &str| json!({"StartAt": format!("I{i}{tag}"), "States": {format!("I{i}{tag}"): {"Type": "Pass", "End": true}}});
        match kind {
            0 => {
                state.insert("Type".into(), json!("Pass"));
                if let Some(d) = &dynamic {
                    state.insert("Parameters".into(), json!({"x.$": d, "lit": literal}));
                }
                if let Some(p) = &path {
                    state.insert("InputPath".into(), json!(p));
                }
                state.insert("Assign".into(), json!({"v": small}));
                flow(&mut state);
            }
            1 => {
                let mut rule = rule.as_object().unwrap().clone();
                rule.insert("Next".into(), json!(jump));
                state.insert("Type".into(), json!("Choice"));
                state.insert("Choices".into(), json!([rule]));
                let default = if last { "Done".to_owned() } else { name(i + 1) };
                state.insert("Default".into(), json!(default));
            }
            2 => {
                state.insert("Type".into(), json!("Wait"));
                if small % 2 == 0 {
                    state.insert("Seconds".into(), json!(small));
                } else {
                    state.insert(
                        "SecondsPath".into(),
                        json!(path.clone().unwrap_or("$.a".into())),
                    );
                }
                flow(&mut state);
            }
            3 => {
                state.insert("Type".into(), json!("Succeed"));
            }
            4 => {
                state.insert("Type".into(), json!("Fail"));
                state.insert("Error".into(), json!("Boom"));
            }
            5 => {
                state.insert("Type".into(), json!("Task"));
                state.insert(
                    "Resource".into(),
                    json!(if small % 2 == 0 { ECHO } else { FLAKY }),
                );
                state.insert(
                    "Retry".into(),
                    json!([{"ErrorEquals": ["States.ALL"], "MaxAttempts": small}]),
                );
                state.insert(
                    "Catch".into(),
                    json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": jump}]),
                );
                if path.is_some() {
                    state.insert("ResultPath".into(), json!("$.r"));
                }
                flow(&mut state);
            }
            6 => {
                state.insert("Type".into(), json!("Parallel"));
                state.insert("Branches".into(), json!([inner("a"), inner("b")]));
                flow(&mut state);
            }
            7 => {
                state.insert("Type".into(), json!("Map"));
                state.insert(
                    "ItemsPath".into(),
                    json!(path.clone().unwrap_or("$.c".into())),
                );
                state.insert("ItemProcessor".into(), inner("m"));
                state.insert("MaxConcurrency".into(), json!(small));
                if let Some(d) = &dynamic {
                    state.insert(
                        "ItemSelector".into(),
                        json!({"item.$": "$$.Map.Item.Value", "x.$": d}),
                    );
                }
                flow(&mut state);
            }
            _ => {
                state.insert("Type".into(), json!("Pass"));
                state.insert(
                    "OutputPath".into(),
                    json!(path.clone().unwrap_or("$".into())),
                );
                state.insert("ResultPath".into(), json!("$.a.z"));
                state.insert("Result".into(), literal);
                flow(&mut state);
            }
        }
        states.insert(name(i), Value::Object(state));
    }
    states.insert("Done".into(), json!({"Type": "Succeed"}));
    json!({"StartAt": "S0", "States": states})
}

fn definitions() -> impl Strategy<Value = Value> {
    (1usize..7).prop_flat_map(|count| prop::collection::vec(state(count), count).prop_map(build))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_interpreter_never_panics_on_valid_definitions(definition in definitions(), input in json_value()) {
        let machine = match StateMachine::from_value(&definition) {
            Ok(machine) => machine,
            // Only definitions the validator accepts are in scope; a Done state that nothing
            // reaches is the one way a generated definition is legitimately refused.
            Err(invalid) => {
                prop_assert!(invalid.problems.iter().all(|p| p.location == "States.Done"), "{invalid}");
                return Ok(());
            }
        };
        let mut resources = Resources::new();
        resources.register_fn(ECHO, |call| async move { Ok(call.parameters) });
        resources.register_fn(FLAKY, |_| async move { Err(TaskError::new("Flaky", "always")) });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        let outcome = runtime.block_on(async {
            let mut config = ExecutionConfig::new(Arc::new(resources));
            config.clock = Arc::new(VirtualClock::starting_at("2026-01-01T00:00:00Z".parse().unwrap()));
            config.max_history_events = 400;
            Execution::new(&machine, input, config).run().await
        });
        prop_assert!(outcome.output.is_some() || outcome.error.is_some());
    }
}
