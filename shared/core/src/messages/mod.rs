//! Messages between agents: sending (direct, broadcast, replies), the router that turns
//! queued messages into inbox entries exactly once, inboxes with leases and
//! acknowledgements, and the dead letters admins can redrive.

mod dead_letters;
pub(crate) mod deliver;
mod inbox;
mod model;
mod send;

use std::sync::Arc;

pub use inbox::{InboxPage, InboxRead, MAX_VISIBILITY_SECONDS};
pub use model::{
    DEFAULT_TTL_SECONDS, DeadLetter, InboxEntry, MAX_PAYLOAD_BYTES, MAX_TTL_SECONDS, Message,
    NewBroadcast, NewMessage, Recipient,
};

use crate::agents::Agents;
use crate::context::Context;
use crate::ports::Queue;

/// The builtins a workflow step uses to talk to agents: `message.send` sends one message
/// from the run, `message.await` waits for a reply to the run by correlation id.
pub const SEND_BUILTIN: &str = "message.send";
pub const AWAIT_BUILTIN: &str = "message.await";

/// What messaging needs beyond the store.
#[derive(Clone)]
pub struct MessagingPorts {
    /// The messages queue the router consumes (SQS, or the SQLite queue on `skein dev`).
    pub queue: Arc<dyn Queue>,
    /// A message whose delivery failed this many times becomes a dead letter.
    pub max_receives: u32,
}

#[derive(Clone)]
pub struct Messages {
    pub(crate) ctx: Context,
    agents: Agents,
    pub(crate) ports: MessagingPorts,
}

impl Messages {
    pub fn new(ctx: Context, agents: Agents, ports: MessagingPorts) -> Self {
        Self { ctx, agents, ports }
    }
}
