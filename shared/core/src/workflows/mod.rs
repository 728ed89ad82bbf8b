//! Workflows: definitions, their validation, their graph, and their compilation to ASL.

pub mod approval_guard;
pub mod compile;
pub mod dag;
pub mod definition;
pub mod deps;
pub mod duration;
pub mod graph;
pub mod input_schema;
pub mod machine_name;
pub mod parse;
mod ports;
mod registration_checks;
pub mod registry;
pub mod schedule;
pub mod template;
pub mod validate;

pub use compile::{Target, compile};
pub use dag::Dag;
pub use definition::{Definition, Mode, OnFailure, Step, StepKind};
pub use parse::{parse_definition, parse_value};
pub use ports::WorkflowPorts;
pub use registry::{Registered, WorkflowSummary, WorkflowVersion, Workflows};
pub use validate::{Known, MAX_ID_LEN, NAME_PATTERN, Workflow, validate};

/// The JSON Schema of a workflow definition, served at `/v1/schemas/workflow.json`.
pub const WORKFLOW_SCHEMA: &str = include_str!("../../schemas/workflow.schema.json");
