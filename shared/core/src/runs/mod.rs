//! Runs of workflows: starting them, the step-worker that carries out their steps,
//! approvals, the event log, and what happens when the engine reports an end.

mod approvals;
mod decisions;
mod events;
mod finish;
mod items;
mod model;
mod outcome;
mod perform;
mod replies;
mod schedules;
mod scope;
mod service;
mod view;
mod worker;

use std::sync::Arc;

pub use model::{
    Approval, Attempt, ItemCounts, ParentStep, Run, RunError, RunEvent, RunStatus, RunView,
    StepMessage, StepRecord, StepStatus, StepView,
};
pub use service::{RunFilter, StartRun, Started};

use crate::context::Context;
use crate::messages::Messages;
use crate::ports::{BuiltinAgents, StepDispatch, WorkflowEngine};
use crate::tasks::Tasks;
use crate::workflows::Workflows;

/// How deep sub-workflows nest under one top-level run.
pub const MAX_SUB_WORKFLOW_DEPTH: u32 = 8;

/// What running workflows needs beyond the store: the engine, a way to hand steps to the
/// worker, the builtin agents, and where compiled steps send their work.
#[derive(Clone)]
pub struct WorkflowPorts {
    pub engine: Arc<dyn WorkflowEngine>,
    pub dispatch: Arc<dyn StepDispatch>,
    pub builtins: Arc<dyn BuiltinAgents>,
    pub step_queue_url: String,
    pub worker_function: String,
    /// Names this worker process: after a restart, steps a previous process had started
    /// are run again (at least once), and idempotency keys keep their effects single.
    pub worker_instance: String,
    /// How long a started attempt belongs to the worker that started it. A redelivered
    /// message inside the lease is refused (the queue brings it back later); after it, the
    /// step is run again. On Lambda this is the worker's timeout, past which the first
    /// worker cannot still be running; `skein dev` uses zero, as its restart is the only
    /// redelivery.
    pub step_lease: chrono::Duration,
    /// How long one worker call (`handle_step`) goes on running the next step its
    /// finished step made ready, instead of sending that step through the dispatcher: a
    /// chain then costs one invocation per step. Zero always dispatches.
    pub inline_for: chrono::Duration,
    /// What one tenant's workflows may start at once.
    pub quotas: crate::quotas::Quotas,
    /// What every state machine's name starts with: the deployment's name prefix, which
    /// its IAM grants are scoped to (`workflows::machine_name`).
    pub machine_prefix: String,
}

#[derive(Clone)]
pub struct Runs {
    pub(crate) ctx: Context,
    pub(crate) ports: WorkflowPorts,
    pub(crate) workflows: Workflows,
    pub(crate) tasks: Tasks,
    pub(crate) messages: Messages,
    /// Set inside `handle_step`: where `release` leaves the one ready step this call
    /// runs next.
    pub(crate) inline: Option<InlineSlot>,
}

/// The one woken step a worker call runs itself.
pub(crate) type InlineSlot = Arc<std::sync::Mutex<Option<StepMessage>>>;

impl Runs {
    pub fn new(
        ctx: Context,
        ports: WorkflowPorts,
        workflows: Workflows,
        tasks: Tasks,
        messages: Messages,
    ) -> Self {
        Self {
            ctx,
            ports,
            workflows,
            tasks,
            messages,
            inline: None,
        }
    }
}
