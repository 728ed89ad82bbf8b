//! Writing a message into inboxes exactly once, and into the dead letters.

use super::Messages;
use super::model::{DeadLetter, InboxEntry, Message, Recipient};
use crate::agents::{Agent, AgentStatus};
use crate::error::Result;
use crate::ids::AgentId;
use crate::ports::{Condition, Index, Item, Query, StoreError, WriteOp};
use crate::records::{
    acked_key, agent_key, agents_list_pk, dead_letter_key, from_item, inbox_key, to_body,
};

/// Why a message cannot be delivered however often it is tried.
pub(crate) enum Undeliverable {
    ReceiverGone(AgentId),
}

impl Messages {
    /// Puts the message in its receivers' inboxes; returns how many got it (a receiver that
    /// already had it, or acknowledged it, counts: a redelivery changes nothing).
    pub(crate) async fn deliver(
        &self,
        message: &Message,
    ) -> Result<std::result::Result<usize, Undeliverable>> {
        match &message.to {
            Recipient::Agent { agent } => {
                let exists = self
                    .ctx
                    .store
                    .get(&agent_key(&message.tenant, agent))
                    .await?
                    .is_some();
                if !exists {
                    return Ok(Err(Undeliverable::ReceiverGone(agent.clone())));
                }
                self.deliver_to(message, agent).await?;
                Ok(Ok(1))
            }
            Recipient::Broadcast { capability, tags } => {
                let mut delivered = 0;
                for agent in self.active_agents(message).await? {
                    let matches = capability
                        .as_ref()
                        .is_none_or(|c| agent.capabilities.contains(c))
                        && tags.iter().all(|t| agent.tags.contains(t))
                        && message.sender.as_agent().as_ref() != Some(&agent.id);
                    if matches {
                        self.deliver_to(message, &agent.id).await?;
                        delivered += 1;
                    }
                }
                Ok(Ok(delivered))
            }
            Recipient::Run { .. } => Ok(Ok(0)),
        }
    }

    async fn active_agents(&self, message: &Message) -> Result<Vec<Agent>> {
        let mut query = Query::new(Index::Gsi3, agents_list_pk(&message.tenant)).limit(200);
        let mut agents = Vec::new();
        loop {
            let page = self.ctx.store.query(&query).await?;
            for item in page.items {
                let (agent, _) = from_item::<Agent>(item)?;
                if agent.status == AgentStatus::Active {
                    agents.push(agent);
                }
            }
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(agents),
            }
        }
    }

    /// One inbox entry, written only if the agent neither has nor acknowledged it.
    async fn deliver_to(&self, message: &Message, agent: &AgentId) -> Result<()> {
        let entry = InboxEntry {
            message: message.clone(),
            receiver: agent.clone(),
            delivered_at: self.ctx.now(),
            visible_at: self.ctx.now(),
            receives: 0,
        };
        let mut item = Item::new(
            inbox_key(&message.tenant, agent, &message.id),
            to_body(&entry)?,
        );
        item.expires_at = Some(message.expires_at.timestamp());
        let ops = vec![
            WriteOp::Check {
                key: acked_key(&message.tenant, agent, &message.id),
                condition: Condition::NotExists,
            },
            WriteOp::Put {
                item,
                condition: Condition::NotExists,
            },
        ];
        match self.ctx.store.transact_write(ops).await {
            Ok(()) => {
                self.ctx.events.inbox_changed(agent.as_str());
                Ok(())
            }
            Err(StoreError::TransactionCanceled { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Keeps a message the router gave up on, for admins to read and redrive.
    pub(crate) async fn dead_letter(
        &self,
        message: &Message,
        error: String,
        receives: u32,
    ) -> Result<()> {
        let letter = DeadLetter {
            message: message.clone(),
            error,
            receives,
            failed_at: self.ctx.now(),
        };
        let item = Item::new(
            dead_letter_key(&message.tenant, &message.id),
            to_body(&letter)?,
        );
        self.ctx.store.put(item, Condition::Always).await?;
        tracing::warn!(message = %message.id, tenant = %message.tenant, error = %letter.error, "message dead-lettered");
        Ok(())
    }
}
