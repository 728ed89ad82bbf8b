//! Skein's domain: types and rules, auth, the use cases, and the ports adapters implement.
//!
//! No AWS SDK, no web framework and no async runtime here: this crate also builds for
//! wasm32 (the edge Worker). Use cases take a [`Context`] of ports and a [`Principal`].

pub mod access;
pub mod agents;
pub mod auth;
pub mod context;
pub mod cursor;
pub mod digest;
pub mod error;
pub mod health;
pub mod ids;
pub mod limits;
pub mod message_router;
pub mod messages;
pub mod metrics;
pub mod ports;
pub mod problem;
pub mod quotas;
pub mod records;
pub mod retry;
pub mod runs;
pub mod settings;
pub mod steps;
pub mod sweep;
#[cfg(feature = "system")]
pub mod system;
pub mod tasks;
pub mod usage;
pub mod whole_number;
pub mod workflows;

#[cfg(feature = "contract-tests")]
pub mod contract;

pub use auth::Principal;
pub use context::Context;
pub use error::{Error, FieldError, Result};

/// Every use case, wired to one context.
#[derive(Clone)]
pub struct Platform {
    pub access: access::Access,
    pub agents: agents::Agents,
    pub tasks: tasks::Tasks,
    pub workflows: workflows::Workflows,
    pub runs: runs::Runs,
    pub messages: messages::Messages,
    pub usage: usage::Usage,
}

impl Platform {
    /// `tokens` is None in a process that serves no API: it can then neither verify nor
    /// issue a token, and links none of their crypto.
    pub fn new(
        ctx: Context,
        tokens: Option<std::sync::Arc<auth::TokenService>>,
        ports: runs::WorkflowPorts,
        messaging: messages::MessagingPorts,
    ) -> Self {
        let access = access::Access::new(ctx.clone(), tokens);
        let agents = agents::Agents::new(ctx.clone(), access.clone());
        let tasks = tasks::Tasks::new(ctx.clone(), agents.clone());
        let workflows = workflows::Workflows::new(ctx.clone(), ports.clone());
        let messages = messages::Messages::new(ctx.clone(), agents.clone(), messaging);
        let usage = usage::Usage::new(ctx.clone(), ports.prices.clone());
        let runs = runs::Runs::new(
            ctx,
            ports,
            workflows.clone(),
            tasks.clone(),
            messages.clone(),
            usage.clone(),
        );
        Self {
            access,
            agents,
            tasks,
            workflows,
            runs,
            messages,
            usage,
        }
    }

    /// The message router's logic, for the process that consumes the messages queue.
    pub fn message_router(&self) -> message_router::MessageRouter {
        message_router::MessageRouter::new(self.messages.clone(), self.runs.clone())
    }
}
