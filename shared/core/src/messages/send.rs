//! Sending: a message is checked, enveloped and put on the messages queue; the router
//! delivers it.

use chrono::Duration;

use super::Messages;
use super::model::{Message, NewBroadcast, NewMessage, Recipient};
use crate::auth::{Action, Principal};
use crate::error::{Error, Result};
use crate::ids::{AgentId, MessageId, PrincipalId, RunId, TenantId};
use crate::ports::{OutgoingMessage, QueueError};
use crate::records::{from_item, inbox_key};

impl Messages {
    /// A direct message to one agent of the caller's tenant.
    pub async fn send(&self, caller: &Principal, to: &AgentId, new: NewMessage) -> Result<Message> {
        caller.authorize(Action::SendMessages)?;
        let ttl = new.validate()?;
        self.agents.load(caller, to).await?;
        let recipient = Recipient::Agent { agent: to.clone() };
        let message = self.envelope(&caller.tenant, caller.id.clone(), recipient, new, ttl);
        self.enqueue(&message).await?;
        crate::metrics::message_sent(crate::metrics::MessageKind::Direct);
        Ok(message)
    }

    /// One message to every active agent matching the filter (the sender excepted).
    pub async fn broadcast(&self, caller: &Principal, new: NewBroadcast) -> Result<Message> {
        caller.authorize(Action::SendMessages)?;
        let (recipient, new) = new.split();
        let ttl = new.validate()?;
        let message = self.envelope(&caller.tenant, caller.id.clone(), recipient, new, ttl);
        self.enqueue(&message).await?;
        crate::metrics::message_sent(crate::metrics::MessageKind::Broadcast);
        Ok(message)
    }

    /// Answers a message in the caller's inbox: it goes to the original sender (an agent,
    /// or the run whose step sent it) with the original's correlation id unless given.
    pub async fn reply(
        &self,
        caller: &Principal,
        agent: &AgentId,
        original: &MessageId,
        mut new: NewMessage,
    ) -> Result<Message> {
        caller.require_agent(agent, "reply to messages in its inbox")?;
        let ttl = new.validate()?;
        let item = self
            .ctx
            .store
            .get(&inbox_key(&caller.tenant, agent, original))
            .await?
            .ok_or(Error::NotFound {
                what: "message in this inbox (reply before acknowledging it)",
            })?;
        let (entry, _) = from_item::<super::InboxEntry>(item)?;
        let sender = &entry.message.sender;
        let recipient = if let Some(run) = sender.as_run() {
            Recipient::Run { run }
        } else if let Some(agent) = sender.as_agent() {
            Recipient::Agent { agent }
        } else {
            return Err(Error::conflict(
                "sender-has-no-inbox",
                format!("the message came from `{sender}`, which has no inbox to reply to"),
            ));
        };
        if new.correlation_id.is_none() {
            new.correlation_id = entry.message.correlation_id.clone();
        }
        let message = self.envelope(&caller.tenant, caller.id.clone(), recipient, new, ttl);
        self.enqueue(&message).await?;
        crate::metrics::message_sent(crate::metrics::MessageKind::Reply);
        Ok(message)
    }

    /// A message a workflow step sends on behalf of its run.
    /// A step's message. Its id follows from the step attempt's idempotency key, so a
    /// step that runs again (a redelivery, a restart) sends the very same message, which
    /// the inbox keeps once.
    pub(crate) async fn send_from_run(
        &self,
        tenant: &TenantId,
        run: &RunId,
        idempotency_key: &str,
        to: Recipient,
        new: NewMessage,
    ) -> Result<Message> {
        let ttl = new.validate()?;
        let mut message = self.envelope(tenant, PrincipalId::run(run), to, new, ttl);
        message.id = MessageId::from_ulid(step_message_ulid(run, idempotency_key));
        self.enqueue(&message).await?;
        crate::metrics::message_sent(crate::metrics::MessageKind::Direct);
        Ok(message)
    }

    fn envelope(
        &self,
        tenant: &TenantId,
        sender: PrincipalId,
        to: Recipient,
        new: NewMessage,
        ttl: Duration,
    ) -> Message {
        let now = self.ctx.now();
        Message {
            id: MessageId::from_ulid(self.ctx.ulid()),
            tenant: tenant.clone(),
            sender,
            to,
            kind: new.kind,
            payload: new.payload,
            correlation_id: new.correlation_id,
            sent_at: now,
            expires_at: now + ttl,
            attempt: 1,
        }
    }

    pub(crate) async fn enqueue(&self, message: &Message) -> Result<()> {
        let body = serde_json::to_string(message)
            .map_err(|e| Error::Internal(format!("message did not serialize: {e}")))?;
        match self
            .ports
            .queue
            .send_batch(vec![OutgoingMessage::new(body)])
            .await
        {
            Ok(_) => Ok(()),
            Err(QueueError::TooLarge { size, limit }) => Err(Error::PayloadTooLarge(format!(
                "the message is {size} bytes with its envelope; the queue takes at most {limit}"
            ))),
            Err(e) => Err(Error::Internal(format!("messages queue: {e}"))),
        }
    }
}

/// The id of a step's message: the run's time (so ids still sort by when runs began) and
/// 80 bits of the SHA-256 of the step attempt's idempotency key.
fn step_message_ulid(run: &RunId, idempotency_key: &str) -> ulid::Ulid {
    use sha2::{Digest, Sha256};
    let millis = run
        .as_str()
        .rsplit('_')
        .next()
        .and_then(|raw| ulid::Ulid::from_string(raw).ok())
        .map_or(0, |u| u.timestamp_ms());
    let digest = Sha256::digest(idempotency_key.as_bytes());
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&digest[..10]);
    ulid::Ulid::from_parts(millis, u128::from_be_bytes(random))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_attempt_always_sends_the_same_message_id() {
        let run = RunId::from_ulid(ulid::Ulid::new());
        let first = step_message_ulid(&run, "r:ask:0");
        assert_eq!(first, step_message_ulid(&run, "r:ask:0"));
        assert_ne!(first, step_message_ulid(&run, "r:ask:1"));
        let started = run.as_str().rsplit('_').next().unwrap();
        assert_eq!(
            first.timestamp_ms(),
            ulid::Ulid::from_string(started).unwrap().timestamp_ms()
        );
    }
}
