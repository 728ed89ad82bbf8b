//! Runs of workflows: starting them, the step-worker that carries out their steps,
//! approvals, the event log, and what happens when the engine reports an end.

mod approvals;
mod call;
mod children;
mod decisions;
mod dispatch;
mod events;
mod finish;
mod items;
mod model;
mod outcome;
mod perform;
mod release;
mod replies;
mod results;
mod schedules;
mod scope;
mod service;
mod start;
mod values;
mod view;
mod worker;

pub use crate::workflows::WorkflowPorts;
pub use dispatch::{STEP_RUNNING, running_elsewhere};
pub use model::{
    Approval, Attempt, ItemCounts, ParentStep, Run, RunError, RunEvent, RunStatus, RunView,
    StepMessage, StepRecord, StepStatus, StepView, ends_run,
};
pub use service::{RunFilter, StartRun, Started};

use crate::context::Context;
use crate::messages::Messages;
use crate::tasks::Tasks;
use crate::usage::Usage;
use crate::workflows::Workflows;

/// How deep sub-workflows nest under one top-level run.
pub const MAX_SUB_WORKFLOW_DEPTH: u32 = 8;

#[derive(Clone)]
pub struct Runs {
    pub(crate) ctx: Context,
    pub(crate) ports: WorkflowPorts,
    pub(crate) workflows: Workflows,
    pub(crate) tasks: Tasks,
    pub(crate) messages: Messages,
    pub(crate) usage: Usage,
}

impl Runs {
    pub fn new(
        ctx: Context,
        ports: WorkflowPorts,
        workflows: Workflows,
        tasks: Tasks,
        messages: Messages,
        usage: Usage,
    ) -> Self {
        Self {
            ctx,
            ports,
            workflows,
            tasks,
            messages,
            usage,
        }
    }
}
