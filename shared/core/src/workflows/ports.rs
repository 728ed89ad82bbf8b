//! The ports running workflows needs beyond the store, shared by registering a workflow
//! (the engine) and running it.

use std::sync::Arc;

use crate::ports::{BuiltinAgents, StepDispatch, WorkflowEngine};

/// What running workflows needs beyond the store: the engine, a way to hand steps to the
/// worker, the builtin agents, and where compiled steps send their work.
#[derive(Clone)]
pub struct WorkflowPorts {
    pub engine: Arc<dyn WorkflowEngine>,
    pub dispatch: Arc<dyn StepDispatch>,
    /// The builtin agents (jq, HTTP, LLM, ...): a process that neither runs steps nor
    /// registers workflows has none, and then links none of their clients (on AWS, only
    /// the step-worker and api-workflows have them).
    pub builtins: Option<Arc<dyn BuiltinAgents>>,
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
    /// What LLM tokens cost, for the usage ledger and budgets in US dollars.
    pub prices: Arc<crate::usage::Prices>,
    /// What every state machine's name starts with: the deployment's name prefix, which
    /// its IAM grants are scoped to (`workflows::machine_name`).
    pub machine_prefix: String,
}
