//! One compile function per state type: the field combinations each type allows.

use std::sync::Arc;

use crate::choice;
use crate::error::join;
use crate::machine::{self, ChoiceBranch, Kind, Number, WaitFor};
use crate::model::{
    ChoiceState, FailState, MapState, ParallelState, PassState, StateDef, TaskState, WaitState,
};

use super::{Ctx, check_query_language, compile_graph};

const WAIT_FOR_TOKEN: &str = ".waitForTaskToken";

pub(crate) fn compile(def: StateDef, ctx: &mut Ctx) -> Kind {
    let language = match &def {
        StateDef::Pass(s) => s.query_language.as_deref(),
        StateDef::Task(s) => s.query_language.as_deref(),
        StateDef::Choice(s) => s.query_language.as_deref(),
        StateDef::Wait(s) => s.query_language.as_deref(),
        StateDef::Succeed(s) => s.query_language.as_deref(),
        StateDef::Fail(s) => s.query_language.as_deref(),
        StateDef::Parallel(s) => s.query_language.as_deref(),
        StateDef::Map(s) => s.query_language.as_deref(),
    };
    check_query_language(language, &join(ctx.at, "QueryLanguage"), ctx.problems);
    match def {
        StateDef::Pass(s) => pass(s, ctx),
        StateDef::Task(s) => task(s, ctx),
        StateDef::Choice(s) => choice(s, ctx),
        StateDef::Wait(s) => wait(s, ctx),
        StateDef::Succeed(_) => Kind::Succeed,
        StateDef::Fail(s) => fail(s, ctx),
        StateDef::Parallel(s) => parallel(s, ctx),
        StateDef::Map(s) => map(s, ctx),
    }
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
        result: s.result,
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
        s.timeout_seconds.map(|n| n as f64),
        s.timeout_seconds_path.as_deref(),
    );
    let heartbeat = ctx.number(
        "HeartbeatSeconds",
        s.heartbeat_seconds.map(|n| n as f64),
        s.heartbeat_seconds_path.as_deref(),
    );
    for (field, value) in [
        ("TimeoutSeconds", s.timeout_seconds),
        ("HeartbeatSeconds", s.heartbeat_seconds),
    ] {
        if value == Some(0) {
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
        parameters: ctx.template("Parameters", s.parameters.as_ref()),
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

fn choice(s: ChoiceState, ctx: &mut Ctx) -> Kind {
    if s.choices.is_empty() {
        ctx.add("Choices", "a Choice state needs at least one rule");
    }
    let mut rules = Vec::with_capacity(s.choices.len());
    for (index, raw) in s.choices.iter().enumerate() {
        let at = format!("Choices[{index}]");
        let rule = match choice::compile(raw, true) {
            Ok(rule) => rule,
            Err(message) => {
                ctx.add(&at, message);
                continue;
            }
        };
        let next = match raw.get("Next").and_then(|n| n.as_str()) {
            Some(name) => ctx.target(&format!("{at}.Next"), name),
            None => {
                ctx.add(
                    &format!("{at}.Next"),
                    "every top-level choice rule needs 'Next'",
                );
                continue;
            }
        };
        let assign_map = raw.get("Assign").and_then(|a| a.as_object());
        if raw.get("Assign").is_some_and(|a| !a.is_object()) {
            ctx.add(
                &format!("{at}.Assign"),
                "'Assign' must be an object of variable names to values",
            );
        }
        let assign = ctx.assign(&format!("{at}.Assign"), assign_map);
        rules.push(ChoiceBranch { rule, next, assign });
    }
    Kind::Choice(machine::Choice {
        rules,
        default: s.default.as_deref().map(|name| ctx.target("Default", name)),
        assign: ctx.assign("Assign", s.assign.as_ref()),
    })
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
    let until = if let Some(text) = &s.timestamp {
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
        let seconds = ctx.number(
            "Seconds",
            s.seconds.map(|n| n as f64),
            s.seconds_path.as_deref(),
        );
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
            let at = join(ctx.at, &format!("Branches[{i}]"));
            check_query_language(
                branch.query_language.as_deref(),
                &join(&at, "QueryLanguage"),
                ctx.problems,
            );
            Arc::new(compile_graph(
                &branch.start_at,
                &branch.states,
                &at,
                ctx.problems,
            ))
        })
        .collect();
    Kind::Parallel(machine::Parallel {
        branches,
        parameters: ctx.template("Parameters", s.parameters.as_ref()),
        result_selector: ctx.template("ResultSelector", s.result_selector.as_ref()),
        result_path: ctx.result_path("ResultPath", &s.result_path),
        recovery: ctx.recovery(&s.retry, &s.catch),
        assign: ctx.assign("Assign", s.assign.as_ref()),
        next: ctx.transition(s.next.as_deref(), s.end),
    })
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
            check_query_language(
                p.query_language.as_deref(),
                &join(ctx.at, "ItemProcessor.QueryLanguage"),
                ctx.problems,
            );
            compile_graph(
                &p.start_at,
                &p.states,
                &join(ctx.at, "ItemProcessor"),
                ctx.problems,
            )
        }
        (None, Some(it)) => compile_graph(
            &it.start_at,
            &it.states,
            &join(ctx.at, "Iterator"),
            ctx.problems,
        ),
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
    if let Some(pct) = s.tolerated_failure_percentage
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
        item_selector: ctx.template(selector_field, selector),
        max_concurrency: ctx.number(
            "MaxConcurrency",
            s.max_concurrency.map(|n| n as f64),
            s.max_concurrency_path.as_deref(),
        ),
        tolerated_count: ctx.number(
            "ToleratedFailureCount",
            s.tolerated_failure_count.map(|n| n as f64),
            s.tolerated_failure_count_path.as_deref(),
        ),
        tolerated_percentage: ctx.number(
            "ToleratedFailurePercentage",
            s.tolerated_failure_percentage,
            s.tolerated_failure_percentage_path.as_deref(),
        ),
        result_selector: ctx.template("ResultSelector", s.result_selector.as_ref()),
        result_path: ctx.result_path("ResultPath", &s.result_path),
        recovery: ctx.recovery(&s.retry, &s.catch),
        assign: ctx.assign("Assign", s.assign.as_ref()),
        next: ctx.transition(s.next.as_deref(), s.end),
    })
}
