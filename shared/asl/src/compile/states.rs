//! One compile function per state type: the field combinations each type allows.

use std::sync::Arc;

use crate::choice;
use crate::error::join;
use crate::machine::{self, Kind, Number, QueryLanguage, WaitFor};
use crate::model::{Dynamic, States};
use crate::model::{FailState, MapState, ParallelState, PassState, StateDef, TaskState, WaitState};
use crate::template::Template;

use super::{Ctx, check_query_language, compile_graph};

const WAIT_FOR_TOKEN: &str = ".waitForTaskToken";

/// The state's kind, and its JSONata `Output` if it has one.
pub(crate) fn compile(def: StateDef, ctx: &mut Ctx) -> (Kind, Option<Template>) {
    let output = match &def {
        StateDef::Pass(s) => s.output.as_ref(),
        StateDef::Task(s) => s.output.as_ref(),
        StateDef::Choice(s) => s.output.as_ref(),
        StateDef::Wait(s) => s.output.as_ref(),
        StateDef::Succeed(s) => s.output.as_ref(),
        StateDef::Parallel(s) => s.output.as_ref(),
        StateDef::Map(s) => s.output.as_ref(),
        StateDef::Fail(_) => None,
    };
    let output = ctx.output("Output", output);
    let kind = match def {
        StateDef::Pass(s) => pass(s, ctx),
        StateDef::Task(s) => task(s, ctx),
        StateDef::Choice(s) => super::choice_state::compile(s, ctx),
        StateDef::Wait(s) => wait(s, ctx),
        StateDef::Succeed(_) => Kind::Succeed,
        StateDef::Fail(s) => fail(s, ctx),
        StateDef::Parallel(s) => parallel(s, ctx),
        StateDef::Map(s) => map(s, ctx),
    };
    (kind, output)
}

fn seconds(value: &Option<Dynamic<u64>>) -> Option<Dynamic<f64>> {
    value.as_ref().map(|d| d.map(|n| *n as f64))
}

fn pass(s: PassState, ctx: &mut Ctx) -> Kind {
    if s.parameters.is_some() && s.result.is_some() {
        ctx.add(
            "Parameters",
            "a Pass state takes 'Result' or 'Parameters', not both",
        );
    }
    Kind::Pass(machine::Pass {
        parameters: ctx.template("Parameters", s.parameters.as_ref()),
        result: s.result.map(machine::FixedResult::new),
        result_path: ctx.result_path("ResultPath", &s.result_path),
        assign: ctx.assign("Assign", s.assign.as_ref()),
        next: ctx.transition(s.next.as_deref(), s.end),
    })
}

fn task(s: TaskState, ctx: &mut Ctx) -> Kind {
    if !s.resource.starts_with("arn:") {
        ctx.add("Resource", format!("'{}' is not an ARN; Task resources look like arn:aws:states:::sqs:sendMessage.waitForTaskToken", s.resource));
    }
    let timeout = ctx.number(
        "TimeoutSeconds",
        seconds(&s.timeout_seconds),
        s.timeout_seconds_path.as_deref(),
    );
    let heartbeat = ctx.number(
        "HeartbeatSeconds",
        seconds(&s.heartbeat_seconds),
        s.heartbeat_seconds_path.as_deref(),
    );
    for (field, value) in [
        ("TimeoutSeconds", &s.timeout_seconds),
        ("HeartbeatSeconds", &s.heartbeat_seconds),
    ] {
        if value == &Some(Dynamic::Value(0)) {
            ctx.add(field, "must be a positive integer");
        }
    }
    if let (Some(Number::Fixed(beat)), Some(Number::Fixed(limit))) = (&heartbeat, &timeout)
        && beat >= limit
    {
        ctx.add(
            "HeartbeatSeconds",
            format!("must be smaller than TimeoutSeconds ({limit})"),
        );
    }
    Kind::Task(machine::Task {
        wait_for_token: s.resource.ends_with(WAIT_FOR_TOKEN),
        resource: s.resource.as_str().into(),
        parameters: arguments(ctx, s.parameters.as_ref(), s.arguments.as_ref()),
        result_selector: ctx.template("ResultSelector", s.result_selector.as_ref()),
        result_path: ctx.result_path("ResultPath", &s.result_path),
        recovery: ctx.recovery(&s.retry, &s.catch),
        timeout,
        heartbeat,
        credentials: s.credentials,
        assign: ctx.assign("Assign", s.assign.as_ref()),
        next: ctx.transition(s.next.as_deref(), s.end),
    })
}

/// What a Task or Parallel sends: `Parameters` in JSONPath, `Arguments` in JSONata (the
/// other language's field is refused before this).
fn arguments(
    ctx: &mut Ctx,
    parameters: Option<&serde_json::Value>,
    arguments: Option<&serde_json::Value>,
) -> Option<Template> {
    match ctx.language {
        QueryLanguage::JsonPath => ctx.template("Parameters", parameters),
        QueryLanguage::Jsonata => ctx.template("Arguments", arguments),
    }
}

fn wait(s: WaitState, ctx: &mut Ctx) -> Kind {
    let given = [
        s.seconds.is_some(),
        s.seconds_path.is_some(),
        s.timestamp.is_some(),
        s.timestamp_path.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        ctx.add(
            "Seconds",
            "a Wait state takes exactly one of Seconds, SecondsPath, Timestamp or TimestampPath",
        );
    }
    let until = if let Some(text) = &s.timestamp
        && ctx.language == QueryLanguage::Jsonata
        && crate::jsonata::expression_text(text).is_some()
    {
        match ctx.expression("Timestamp", text) {
            Some(template) => WaitFor::TimestampQuery(template),
            None => WaitFor::Seconds(Number::Fixed(0.0)),
        }
    } else if let Some(text) = &s.timestamp {
        match choice::timestamp(text) {
            Some(at) => WaitFor::Timestamp(at),
            None => {
                ctx.add(
                    "Timestamp",
                    format!("'{text}' is not an RFC 3339 timestamp such as 2026-01-31T12:00:00Z"),
                );
                WaitFor::Seconds(Number::Fixed(0.0))
            }
        }
    } else if let Some(text) = &s.timestamp_path {
        match ctx.path("TimestampPath", text) {
            Some(path) => WaitFor::TimestampPath(path),
            None => WaitFor::Seconds(Number::Fixed(0.0)),
        }
    } else {
        let seconds = ctx.number("Seconds", seconds(&s.seconds), s.seconds_path.as_deref());
        WaitFor::Seconds(seconds.unwrap_or(Number::Fixed(0.0)))
    };
    Kind::Wait(machine::Wait {
        until,
        assign: ctx.assign("Assign", s.assign.as_ref()),
        next: ctx.transition(s.next.as_deref(), s.end),
    })
}

fn fail(s: FailState, ctx: &mut Ctx) -> Kind {
    Kind::Fail(machine::Fail {
        error: ctx.text("Error", s.error.as_deref(), s.error_path.as_deref()),
        cause: ctx.text("Cause", s.cause.as_deref(), s.cause_path.as_deref()),
    })
}

fn parallel(s: ParallelState, ctx: &mut Ctx) -> Kind {
    if s.branches.is_empty() {
        ctx.add("Branches", "a Parallel state needs at least one branch");
    }
    let branches = s
        .branches
        .iter()
        .enumerate()
        .map(|(i, branch)| {
            let field = format!("Branches[{i}]");
            let language = branch.query_language.as_deref();
            Arc::new(sub_machine(
                ctx,
                &field,
                &branch.start_at,
                &branch.states,
                language,
            ))
        })
        .collect();
    Kind::Parallel(machine::Parallel {
        branches,
        parameters: arguments(ctx, s.parameters.as_ref(), s.arguments.as_ref()),
        result_selector: ctx.template("ResultSelector", s.result_selector.as_ref()),
        result_path: ctx.result_path("ResultPath", &s.result_path),
        recovery: ctx.recovery(&s.retry, &s.catch),
        assign: ctx.assign("Assign", s.assign.as_ref()),
        next: ctx.transition(s.next.as_deref(), s.end),
    })
}

/// A Parallel branch or a Map's processor: its states use its own QueryLanguage, else the
/// definition's.
fn sub_machine(
    ctx: &mut Ctx,
    field: &str,
    start_at: &str,
    states: &States,
    language: Option<&str>,
) -> machine::Graph {
    let at = join(ctx.at, field);
    let language_at = join(&at, "QueryLanguage");
    let enclosing = ctx.definition_language;
    let language = check_query_language(language, &language_at, ctx.problems)
        .map(|named| super::no_downgrade(enclosing, named, &language_at, ctx.problems))
        .unwrap_or(enclosing);
    compile_graph(start_at, states, &at, language, ctx.problems)
}

fn map(s: MapState, ctx: &mut Ctx) -> Kind {
    let processor = match (&s.item_processor, &s.iterator) {
        (Some(p), None) => {
            let mode = p.processor_config.as_ref().and_then(|c| c.mode.as_deref());
            match mode {
                None | Some("INLINE") => {}
                Some("DISTRIBUTED") => ctx.add(
                    "ItemProcessor.ProcessorConfig.Mode",
                    "Distributed Map is not supported by skein-asl; use Mode INLINE",
                ),
                Some(other) => ctx.add(
                    "ItemProcessor.ProcessorConfig.Mode",
                    format!("'{other}' is not a Map mode; use INLINE"),
                ),
            }
            let language = p.query_language.as_deref();
            sub_machine(ctx, "ItemProcessor", &p.start_at, &p.states, language)
        }
        (None, Some(it)) => {
            let language = it.query_language.as_deref();
            sub_machine(ctx, "Iterator", &it.start_at, &it.states, language)
        }
        (Some(_), Some(_)) => {
            ctx.add(
                "Iterator",
                "give 'ItemProcessor' or the older 'Iterator', not both",
            );
            crate::machine::Graph {
                start: 0,
                states: Vec::new(),
            }
        }
        (None, None) => {
            ctx.add(
                "ItemProcessor",
                "a Map state needs an 'ItemProcessor' (the states to run for each item)",
            );
            crate::machine::Graph {
                start: 0,
                states: Vec::new(),
            }
        }
    };
    if s.item_selector.is_some() && s.parameters.is_some() {
        ctx.add(
            "Parameters",
            "give 'ItemSelector' or the older 'Parameters', not both",
        );
    }
    if let Some(Dynamic::Value(pct)) = s.tolerated_failure_percentage
        && !(0.0..=100.0).contains(&pct)
    {
        ctx.add(
            "ToleratedFailurePercentage",
            format!("must be between 0 and 100, not {pct}"),
        );
    }
    let selector = s.item_selector.as_ref().or(s.parameters.as_ref());
    let selector_field = if s.item_selector.is_some() {
        "ItemSelector"
    } else {
        "Parameters"
    };
    Kind::Map(machine::Map {
        processor: Arc::new(processor),
        items_path: s
            .items_path
            .as_deref()
            .and_then(|p| ctx.path("ItemsPath", p)),
        items: ctx.output("Items", s.items.as_ref()),
        item_selector: ctx.template(selector_field, selector),
        max_concurrency: ctx.number(
            "MaxConcurrency",
            seconds(&s.max_concurrency),
            s.max_concurrency_path.as_deref(),
        ),
        tolerated_count: ctx.number(
            "ToleratedFailureCount",
            seconds(&s.tolerated_failure_count),
            s.tolerated_failure_count_path.as_deref(),
        ),
        tolerated_percentage: ctx.number(
            "ToleratedFailurePercentage",
            s.tolerated_failure_percentage.clone(),
            s.tolerated_failure_percentage_path.as_deref(),
        ),
        result_selector: ctx.template("ResultSelector", s.result_selector.as_ref()),
        result_path: ctx.result_path("ResultPath", &s.result_path),
        recovery: ctx.recovery(&s.retry, &s.catch),
        assign: ctx.assign("Assign", s.assign.as_ref()),
        next: ctx.transition(s.next.as_deref(), s.end),
    })
}
