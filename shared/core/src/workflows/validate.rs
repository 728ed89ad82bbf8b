//! Checks a definition before it is stored: every error names the step and field, and
//! all of them are reported at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::dag::Dag;
use super::definition::{Definition, Mode, StepKind, Tolerance};
use super::deps::resolve_dependencies;
use super::input_schema::InputSchema;
use crate::error::{Error, FieldErrors, Result};
use crate::ports::BuiltinAgents;

/// What the tenant has, for checking names. `None` skips that check (e.g. `skein compile`
/// on a file, with no server to ask).
#[derive(Default)]
pub struct Known<'a> {
    pub agents: Option<BTreeSet<String>>,
    pub capabilities: Option<BTreeSet<String>>,
    /// Workflow name -> latest version.
    pub workflows: Option<BTreeMap<String, u32>>,
    pub builtins: Option<&'a dyn BuiltinAgents>,
}

/// A definition that passed validation, with its step graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    pub definition: Definition,
    pub dag: Dag,
    /// `definition.input_schema`, compiled.
    pub input_schema: InputSchema,
}

pub const MAX_STEPS: usize = 500;
pub const MAX_ATTEMPTS: u32 = 10;
/// The longest workflow name or step id.
pub const MAX_ID_LEN: usize = 64;
/// What a workflow name or step id may be, as a regular expression (with [`MAX_ID_LEN`]).
pub const NAME_PATTERN: &str = "^[a-z][a-z0-9_-]*$";

pub fn validate(definition: Definition, known: &Known) -> Result<Workflow> {
    let mut errors = FieldErrors::default();
    check_name("$.name", &definition.name, "workflow name", &mut errors);
    if definition.steps.is_empty() {
        errors.push("$.steps", "a workflow needs at least one step");
    }
    if definition.steps.len() > MAX_STEPS {
        errors.push(
            "$.steps",
            format!("at most {MAX_STEPS} steps; split the work into sub-workflows"),
        );
    }
    let mut seen = HashMap::new();
    for (i, step) in definition.steps.iter().enumerate() {
        let at = format!("$.steps[{i}]");
        check_name(&format!("{at}.id"), &step.id, "step id", &mut errors);
        if let Some(first) = seen.insert(step.id.as_str(), i) {
            errors.push(
                format!("{at}.id"),
                format!(
                    "step id `{}` is already used by $.steps[{first}]; ids must be unique",
                    step.id
                ),
            );
        }
        check_step(&definition, i, known, &mut errors);
    }
    if let Some(schedule) = &definition.schedule {
        check_schedule(schedule, &mut errors);
    }
    if let Some(budget) = &definition.budget {
        budget.check("$.budget", &mut errors);
    }
    let input_schema = InputSchema::compile(definition.input_schema.as_ref(), &mut errors);
    let dag = resolve_dependencies(&definition, &mut errors);
    errors.into_result()?;
    let dag =
        dag.ok_or_else(|| Error::Internal("dependencies unresolved without errors".into()))?;
    Ok(Workflow {
        definition,
        dag,
        input_schema,
    })
}

fn check_name(path: &str, name: &str, what: &str, errors: &mut FieldErrors) {
    let valid = !name.is_empty()
        && name.len() <= MAX_ID_LEN
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    errors.check(valid, path, || {
        format!(
            "`{name}` is not a valid {what}: use 1 to {MAX_ID_LEN} lowercase letters, digits, `-` or `_`, starting with a letter"
        )
    });
}

fn check_step(definition: &Definition, i: usize, known: &Known, errors: &mut FieldErrors) {
    let step = &definition.steps[i];
    let at = format!("$.steps[{i}]");
    let who = format!("step `{}`", step.id);
    let performers = [&step.agent, &step.capability, &step.builtin]
        .iter()
        .filter(|p| p.is_some())
        .count();
    match step.kind {
        StepKind::Task | StepKind::Map if performers != 1 => errors.push(
            at.clone(),
            format!("{who} needs exactly one of `agent`, `capability` or `builtin` to do its work"),
        ),
        StepKind::Approval | StepKind::Workflow if performers != 0 => errors.push(
            at.clone(),
            format!(
                "{who} is of type {}: it takes no `agent`, `capability` or `builtin`",
                step.kind.as_str()
            ),
        ),
        _ => {}
    }
    check_performer(step, &at, known, errors);
    check_kind_spec(definition, i, known, errors);
    if let Some(retry) = &step.retry {
        errors.check(
            (1..=MAX_ATTEMPTS).contains(&retry.max_attempts),
            &format!("{at}.retry.max_attempts"),
            || format!("{who}: max_attempts counts the first try too: use 1 to {MAX_ATTEMPTS}"),
        );
        errors.check(
            retry.backoff_rate.is_none_or(|r| (1.0..=10.0).contains(&r)),
            &format!("{at}.retry.backoff_rate"),
            || format!("{who}: backoff_rate multiplies each wait: use 1.0 to 10.0"),
        );
        errors.check(
            step.kind != StepKind::Approval,
            &format!("{at}.retry"),
            || format!("{who}: an approval is asked once; remove `retry`"),
        );
    }
    if step.config.is_some() && step.builtin.is_none() {
        errors.push(
            format!("{at}.with"),
            format!("{who}: `with` configures a builtin agent; this step has no `builtin`"),
        );
    }
}

fn check_performer(
    step: &super::definition::Step,
    at: &str,
    known: &Known,
    errors: &mut FieldErrors,
) {
    let who = format!("step `{}`", step.id);
    if let (Some(agent), Some(agents)) = (&step.agent, &known.agents)
        && !agents.contains(agent)
    {
        errors.push(
            format!("{at}.agent"),
            format!(
                "{who}: there is no agent named `{agent}` in this tenant{}",
                suggest(agent, agents.iter())
            ),
        );
    }
    if let (Some(capability), Some(capabilities)) = (&step.capability, &known.capabilities)
        && !capabilities.contains(capability)
    {
        errors.push(
            format!("{at}.capability"),
            format!(
                "{who}: no registered agent has the capability `{capability}`{}",
                suggest(capability, capabilities.iter())
            ),
        );
    }
    let messaging = [
        crate::messages::SEND_BUILTIN,
        crate::messages::AWAIT_BUILTIN,
    ];
    if let Some(name) = step
        .builtin
        .as_ref()
        .filter(|n| messaging.contains(&n.as_str()))
    {
        if step.config.is_some() {
            errors.push(
                format!("{at}.with"),
                format!("{who}: `{name}` takes no `with`; its settings are its input"),
            );
        }
    } else if let (Some(name), Some(builtins)) = (&step.builtin, known.builtins) {
        match builtins.check(name, step.config.as_ref()) {
            Ok(()) => {}
            Err(problems) => {
                for (field, message) in problems {
                    errors.push(format!("{at}{field}"), format!("{who}: {message}"));
                }
            }
        }
    }
}

fn check_kind_spec(definition: &Definition, i: usize, known: &Known, errors: &mut FieldErrors) {
    let step = &definition.steps[i];
    let at = format!("$.steps[{i}]");
    let who = format!("step `{}`", step.id);
    let performers = [&step.agent, &step.capability, &step.builtin]
        .iter()
        .filter(|p| p.is_some())
        .count();
    let specs = [
        ("approval", step.approval.is_some(), StepKind::Approval),
        ("map", step.map.is_some(), StepKind::Map),
        ("workflow", step.workflow.is_some(), StepKind::Workflow),
    ];
    for (field, present, kind) in specs {
        if present && step.kind != kind {
            errors.push(
                format!("{at}.{field}"),
                format!("{who}: `{field}` belongs to steps of type {field}; set `type: {field}` or remove it"),
            );
        }
        if !present && step.kind == kind && kind != StepKind::Approval {
            errors.push(
                at.clone(),
                format!("{who} is of type {field}: add a `{field}` section"),
            );
        }
    }
    match step.kind {
        StepKind::Approval if definition.mode == Mode::Express => errors.push(
            format!("{at}.type"),
            format!("{who}: express workflows cannot wait for a person; use `mode: standard`"),
        ),
        StepKind::Task | StepKind::Map
            if definition.mode == Mode::Express && step.builtin.is_none() && performers == 1 =>
        {
            errors.push(
                format!("{at}.{}", if step.agent.is_some() { "agent" } else { "capability" }),
                format!("{who}: express workflows run builtin agents only (a remote agent needs a task token to answer); use `mode: standard`"),
            )
        }
        StepKind::Workflow if definition.mode == Mode::Express => errors.push(
            format!("{at}.type"),
            format!(
                "{who}: express workflows cannot wait for a sub-workflow; use `mode: standard`"
            ),
        ),
        _ => {}
    }
    if let Some(map) = &step.map {
        check_map(map, &at, &who, errors);
    }
    if let (Some(sub), Some(workflows)) = (&step.workflow, &known.workflows) {
        match workflows.get(&sub.name) {
            None => errors.push(
                format!("{at}.workflow.name"),
                format!(
                    "{who}: there is no workflow named `{}`; register it first{}",
                    sub.name,
                    suggest(&sub.name, workflows.keys())
                ),
            ),
            Some(latest) if sub.version.is_some_and(|v| v == 0 || v > *latest) => errors.push(
                format!("{at}.workflow.version"),
                format!("{who}: workflow `{}` has versions 1 to {latest}", sub.name),
            ),
            Some(_) => {}
        }
    }
    if let Some(sub) = &step.workflow
        && sub.name == definition.name
    {
        errors.push(
            format!("{at}.workflow.name"),
            format!("{who}: a workflow cannot run itself as a step"),
        );
    }
}

fn check_map(map: &super::definition::MapSpec, at: &str, who: &str, errors: &mut FieldErrors) {
    let single = super::template::references(&Value::String(map.over.clone()))
        .ok()
        .filter(|refs| refs.len() == 1)
        .is_some_and(|_| map.over.trim().starts_with("{{") && map.over.trim().ends_with("}}"));
    errors.check(single, &format!("{at}.map.over"), || {
        format!(
            "{who}: `over` is one reference to a list, e.g. \"{{{{ steps.search.output.items }}}}\""
        )
    });
    if let Some(Tolerance::Percentage(p)) = &map.tolerated_failures {
        // Step Functions takes any number; whole percentages keep the ASL valid for
        // every tool (npm asl-validator wants an integer).
        let valid = p
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<u32>().ok())
            .is_some_and(|n| n <= 100);
        errors.check(valid, &format!("{at}.map.tolerated_failures"), || {
            format!("{who}: write a count (2) or a whole percentage from 0% to 100% (\"10%\")")
        });
    }
    errors.check(
        map.max_concurrency.is_none_or(|c| c <= 1000),
        &format!("{at}.map.max_concurrency"),
        || format!("{who}: max_concurrency is 0 (no limit) to 1000"),
    );
}

fn check_schedule(schedule: &super::definition::Schedule, errors: &mut FieldErrors) {
    match (&schedule.cron, &schedule.rate) {
        (Some(cron), None) => match super::schedule::parse_cron(cron) {
            Err(message) => errors.push("$.schedule.cron", message),
            Ok(_) if super::schedule::never_fires(schedule) => errors.push(
                "$.schedule.cron",
                format!("`{cron}` matches no date (e.g. February 30th), so it would never fire"),
            ),
            Ok(_) => {}
        },
        (None, Some(rate)) => errors.check(rate.0.as_secs() >= 1, "$.schedule.rate", || {
            "a rate is at least 1s".into()
        }),
        _ => errors.push("$.schedule", "give exactly one of `cron` or `rate`"),
    }
}

/// " (did you mean `x`?)" when a known name is within two edits.
pub(super) fn suggest<'a>(name: &str, known: impl Iterator<Item = &'a String>) -> String {
    known
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflows::parse::parse_definition;

    #[test]
    fn a_step_given_a_performer_its_type_does_not_take_is_named_as_written() {
        let text = "name: gate\nsteps:\n  - { id: SignOff, type: approval, builtin: echo, approval: { message: ok } }\n";
        let definition = parse_definition(text).unwrap();
        let Err(crate::Error::Validation(errors)) = validate(definition, &Known::default()) else {
            panic!("an approval with a builtin is refused");
        };
        let said: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert!(
            said.contains(
                &"step `SignOff` is of type approval: it takes no `agent`, `capability` or `builtin`"
            ),
            "{said:?}"
        );
    }
}
