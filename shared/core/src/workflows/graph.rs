//! Pictures of a workflow: Mermaid (GitHub and most docs render it) and Graphviz DOT.

use std::fmt::Write;

use super::definition::{Step, StepKind};
use super::validate::Workflow;

/// A workflow's DAG as data, for clients that draw it themselves (the console).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Drawing {
    pub steps: Vec<DrawnStep>,
    /// `[from, to]` step ids; a dependency another one already implies is left out.
    pub edges: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DrawnStep {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: StepKind,
    /// Who does the step: `agent x`, `capability y`, `builtin z`, `workflow w`, `approval`.
    pub performer: String,
}

pub fn drawing(workflow: &Workflow) -> Drawing {
    let steps = &workflow.definition.steps;
    Drawing {
        steps: steps
            .iter()
            .map(|step| DrawnStep {
                id: step.id.clone(),
                kind: step.kind,
                performer: performer(step),
            })
            .collect(),
        edges: drawn_edges(workflow)
            .into_iter()
            .map(|(from, to)| (steps[from].id.clone(), steps[to].id.clone()))
            .collect(),
    }
}

fn label(step: &Step) -> String {
    format!("{}<br/><small>{}</small>", step.id, performer(step))
}

fn performer(step: &Step) -> String {
    match step.kind {
        StepKind::Approval => "approval".to_string(),
        StepKind::Workflow => format!(
            "workflow {}",
            step.workflow.as_ref().map_or("?", |w| w.name.as_str())
        ),
        StepKind::Task | StepKind::Map => {
            let performer = step
                .agent
                .as_deref()
                .map(|a| format!("agent {a}"))
                .or_else(|| {
                    step.capability
                        .as_deref()
                        .map(|c| format!("capability {c}"))
                })
                .or_else(|| step.builtin.as_deref().map(|b| format!("builtin {b}")))
                .unwrap_or_default();
            if step.kind == StepKind::Map {
                format!("map: {performer}")
            } else {
                performer
            }
        }
    }
}

/// The edges worth drawing: a dependency that another dependency already implies
/// (transitively) is left out, so the picture shows the shape, not every reference.
fn drawn_edges(workflow: &Workflow) -> Vec<(usize, usize)> {
    let dag = &workflow.dag;
    let mut edges = Vec::new();
    for (step, deps) in dag.deps.iter().enumerate() {
        for &d in deps {
            let implied = deps
                .iter()
                .any(|&other| other != d && dag.is_ancestor(d, other));
            if !implied {
                edges.push((d, step));
            }
        }
    }
    edges
}

/// Node ids are `s0`, `s1`...: step ids may hold `-`, which Mermaid reads as an edge.
pub fn mermaid(workflow: &Workflow) -> String {
    let mut out = String::from("flowchart TD\n");
    for (i, step) in workflow.definition.steps.iter().enumerate() {
        let text = label(step).replace('"', "'");
        let _ = match step.kind {
            StepKind::Approval => writeln!(out, "    s{i}{{{{\"{text}\"}}}}"),
            StepKind::Map => writeln!(out, "    s{i}[[\"{text}\"]]"),
            StepKind::Workflow => writeln!(out, "    s{i}[/\"{text}\"/]"),
            StepKind::Task => writeln!(out, "    s{i}[\"{text}\"]"),
        };
    }
    for (from, to) in drawn_edges(workflow) {
        let _ = writeln!(out, "    s{from} --> s{to}");
    }
    out
}

/// Colours for a run's picture, by step status.
const STATUS_STYLES: [(&str, &str); 6] = [
    ("succeeded", "fill:#d3f9d8,stroke:#2b8a3e"),
    ("failed", "fill:#ffe3e3,stroke:#c92a2a"),
    ("running", "fill:#d0ebff,stroke:#1864ab"),
    ("awaiting_approval", "fill:#fff3bf,stroke:#e67700"),
    ("waiting", "fill:#f1f3f5,stroke:#868e96"),
    (
        "cancelled",
        "fill:#e9ecef,stroke:#495057,stroke-dasharray: 4 2",
    ),
];

/// The workflow's picture with each step coloured by its status in a run (`status(id)`).
pub fn mermaid_with_status(workflow: &Workflow, status: impl Fn(&str) -> Option<String>) -> String {
    let mut out = mermaid(workflow);
    for (name, style) in STATUS_STYLES {
        let _ = writeln!(out, "    classDef {name} {style}");
    }
    for (i, id) in workflow.dag.ids.iter().enumerate() {
        if let Some(status) = status(id).filter(|s| STATUS_STYLES.iter().any(|(n, _)| n == s)) {
            let _ = writeln!(out, "    class s{i} {status}");
        }
    }
    out
}

pub fn dot(workflow: &Workflow) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n    rankdir=TB;\n    node [shape=box, style=rounded, fontname=\"Helvetica\"];\n",
        workflow.definition.name
    );
    for step in &workflow.definition.steps {
        let shape = match step.kind {
            StepKind::Approval => ", shape=hexagon",
            StepKind::Map => ", shape=box3d",
            StepKind::Workflow => ", shape=component",
            StepKind::Task => "",
        };
        let text = label(step)
            .replace("<br/><small>", "\\n")
            .replace("</small>", "");
        let _ = writeln!(
            out,
            "    \"{}\" [label=\"{}\"{shape}];",
            step.id,
            text.replace('"', "'")
        );
    }
    let ids = &workflow.dag.ids;
    for (from, to) in drawn_edges(workflow) {
        let _ = writeln!(out, "    \"{}\" -> \"{}\";", ids[from], ids[to]);
    }
    out.push_str("}\n");
    out
}
