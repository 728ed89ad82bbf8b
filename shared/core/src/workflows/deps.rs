//! Dependencies: explicit `depends_on`, or inferred from the references in a step's
//! templates; then the graph, its cycles, and whether every reference reads an ancestor.

use serde_json::Value;

use super::dag::Dag;
use super::definition::{Definition, Step, StepKind};
use super::template::{Reference, Root, references};
use super::validate::suggest;
use crate::error::FieldErrors;

/// Every template of a step, with the field it sits in.
pub fn step_templates(step: &Step) -> Vec<(String, Value)> {
    let mut templates = Vec::new();
    if let Some(input) = &step.input {
        templates.push(("input".to_string(), input.clone()));
    }
    if let Some(map) = &step.map {
        templates.push(("map.over".to_string(), Value::String(map.over.clone())));
    }
    if let Some(message) = step.approval.as_ref().and_then(|a| a.message.as_ref()) {
        templates.push(("approval.message".to_string(), message.clone()));
    }
    templates
}

/// The graph, or None after pushing the errors that prevent building it.
pub fn resolve_dependencies(definition: &Definition, errors: &mut FieldErrors) -> Option<Dag> {
    let ids: Vec<String> = definition.steps.iter().map(|s| s.id.clone()).collect();
    let index = |id: &str| ids.iter().position(|s| s == id);
    let mut deps = Vec::with_capacity(ids.len());
    let mut reads: Vec<Vec<(String, usize)>> = Vec::with_capacity(ids.len());
    let mut broken = false;
    for (i, step) in definition.steps.iter().enumerate() {
        let at = format!("$.steps[{i}]");
        let mut step_reads = Vec::new();
        for (field, template) in step_templates(step) {
            match references(&template) {
                Err((location, message)) => {
                    errors.push(
                        format!("{at}.{field}{location}"),
                        format!("step `{}`: {message}", step.id),
                    );
                    broken = true;
                }
                Ok(found) => {
                    for (location, reference) in found {
                        let path = format!("{at}.{field}{location}");
                        match check_reference(step, &field, &reference, &ids) {
                            Ok(Some(target)) => step_reads.push((path, target)),
                            Ok(None) => {}
                            Err(message) => {
                                errors.push(path, format!("step `{}`: {message}", step.id));
                                broken = true;
                            }
                        }
                    }
                }
            }
        }
        let explicit = step.depends_on.as_ref().map(|names| {
            let mut found = Vec::new();
            for (k, name) in names.iter().enumerate() {
                match index(name) {
                    Some(d) if d == i => {
                        errors.push(format!("{at}.depends_on[{k}]"), format!("step `{}` cannot depend on itself", step.id));
                        broken = true;
                    }
                    Some(d) => found.push(d),
                    None => {
                        errors.push(
                            format!("{at}.depends_on[{k}]"),
                            format!("step `{}` depends on `{name}`, which is not a step in this workflow{}", step.id, suggest(name, ids.iter())),
                        );
                        broken = true;
                    }
                }
            }
            found
        });
        deps.push(explicit.unwrap_or_else(|| step_reads.iter().map(|(_, t)| *t).collect()));
        reads.push(step_reads);
    }
    check_output(definition, &ids, errors);
    if broken {
        return None;
    }
    let dag = match Dag::new(ids.clone(), deps) {
        Ok(dag) => dag,
        Err(cycle) => {
            let names: Vec<&str> = cycle.iter().map(|&i| ids[i].as_str()).collect();
            errors.push(
                format!("$.steps[{}].depends_on", cycle[0]),
                format!(
                    "the steps form a cycle: {}; remove one of these dependencies",
                    names.join(" -> ")
                ),
            );
            return None;
        }
    };
    for (i, step_reads) in reads.iter().enumerate() {
        for (path, target) in step_reads {
            if !dag.is_ancestor(*target, i) {
                errors.push(
                    path.clone(),
                    format!(
                        "step `{}` reads step `{}`, which is not among its dependencies; add `{}` to its depends_on",
                        ids[i], ids[*target], ids[*target]
                    ),
                );
            }
        }
    }
    Some(dag)
}

/// The step a reference reads, if any; an error when the reference cannot be satisfied.
fn check_reference(
    step: &Step,
    field: &str,
    reference: &Reference,
    ids: &[String],
) -> Result<Option<usize>, String> {
    match &reference.root {
        Root::Step { id, .. } => match ids.iter().position(|s| s == id) {
            Some(i) if *id == step.id => {
                let _ = i;
                Err(format!("a step cannot read its own `steps.{id}`"))
            }
            Some(i) => Ok(Some(i)),
            None => Err(format!(
                "`steps.{id}` names no step in this workflow{}",
                suggest(id, ids.iter())
            )),
        },
        Root::Item | Root::Index if step.kind != StepKind::Map || field != "input" => {
            Err("`item` and `index` exist only in the input of a map step".to_string())
        }
        _ => Ok(None),
    }
}

fn check_output(definition: &Definition, ids: &[String], errors: &mut FieldErrors) {
    let Some(output) = &definition.output else {
        return;
    };
    match references(output) {
        Err((location, message)) => errors.push(format!("$.output{location}"), message),
        Ok(found) => {
            for (location, reference) in found {
                match &reference.root {
                    Root::Step { id, .. } if !ids.contains(id) => errors.push(
                        format!("$.output{location}"),
                        format!(
                            "`steps.{id}` names no step in this workflow{}",
                            suggest(id, ids.iter())
                        ),
                    ),
                    Root::Item | Root::Index => errors.push(
                        format!("$.output{location}"),
                        "`item` and `index` exist only in the input of a map step",
                    ),
                    _ => {}
                }
            }
        }
    }
}
