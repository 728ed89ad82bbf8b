//! Agents: registered workers with capabilities and their own credentials.

mod model;
mod service;

pub use model::{Agent, AgentFilter, AgentPatch, AgentStatus, NewAgent, RegisteredAgent};
pub use service::Agents;
