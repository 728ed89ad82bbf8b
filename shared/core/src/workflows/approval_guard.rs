//! Who may change the human approvals of a workflow. An approval is a control an admin
//! puts in front of something (a payment, a deploy); an operator who could register a
//! version without it would remove the control for every later run. So operators may
//! register new workflows and new versions freely, except that a new version must keep
//! every approval step of the latest one exactly as it was, add none, and keep every
//! step that waited for an approval still waiting for it. Admins may change anything.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::definition::StepKind;
use super::validate::Workflow;
use crate::auth::{Principal, Role};
use crate::error::{Error, Result};

/// An approval step as written, and the steps that cannot start before it.
struct Gate {
    step: Value,
    gated: BTreeSet<String>,
}

fn gates(workflow: &Workflow) -> BTreeMap<String, Gate> {
    let dag = &workflow.dag;
    workflow
        .definition
        .steps
        .iter()
        .enumerate()
        .filter(|(_, step)| step.kind == StepKind::Approval)
        .map(|(i, step)| {
            let gated = (0..dag.ids.len())
                .filter(|&later| dag.is_ancestor(i, later))
                .map(|later| dag.ids[later].clone())
                .collect();
            let written = serde_json::to_value(step).unwrap_or(Value::Null);
            (
                step.id.clone(),
                Gate {
                    step: written,
                    gated,
                },
            )
        })
        .collect()
}

/// Refuses a non-admin's new version that adds, changes or removes an approval step, or
/// takes a step out from behind one. `latest` is None for a new workflow.
pub fn check(caller: &Principal, latest: Option<&Workflow>, next: &Workflow) -> Result<()> {
    let Some(latest) = latest else {
        return Ok(());
    };
    if caller.has_role(Role::Admin) {
        return Ok(());
    }
    let (before, after) = (gates(latest), gates(next));
    let still_there: BTreeSet<&String> = next.definition.steps.iter().map(|s| &s.id).collect();
    let refuse = |what: String| {
        Err(Error::Forbidden(format!(
            "only admins may change a workflow's approvals: {what}"
        )))
    };
    for (id, gate) in &before {
        let Some(kept) = after.get(id) else {
            return refuse(format!("this version removes approval step `{id}`"));
        };
        if kept.step != gate.step {
            return refuse(format!("this version changes approval step `{id}`"));
        }
        if let Some(freed) = gate
            .gated
            .iter()
            .find(|s| still_there.contains(s) && !kept.gated.contains(*s))
        {
            return refuse(format!(
                "step `{freed}` would no longer wait for approval `{id}`"
            ));
        }
    }
    if let Some(id) = after.keys().find(|id| !before.contains_key(*id)) {
        return refuse(format!("this version adds approval step `{id}`"));
    }
    Ok(())
}
