//! Dead letters: what admins see of messages the router gave up on, and redrive.

use super::Messages;
use super::model::{DeadLetter, Message};
use crate::auth::{Action, Principal};
use crate::cursor::{ListPage, PageRequest, list_filtered};
use crate::error::{Error, Result};
use crate::ids::MessageId;
use crate::ports::{Condition, Index, Query};
use crate::records::{dead_letter_key, dead_letters_pk, from_item};

impl Messages {
    pub async fn dead_letters(
        &self,
        caller: &Principal,
        page: &PageRequest,
    ) -> Result<ListPage<DeadLetter>> {
        caller.authorize(Action::ManageDeadLetters)?;
        let query = Query::new(Index::Primary, dead_letters_pk(&caller.tenant));
        list_filtered(self.ctx.store.as_ref(), query, page, 1000, |item| {
            Ok(Some(from_item::<DeadLetter>(item)?.0))
        })
        .await
    }

    /// Sends the message again (its next attempt, with a fresh TTL of the same length)
    /// and removes the dead letter.
    pub async fn redrive(&self, caller: &Principal, id: &MessageId) -> Result<Message> {
        caller.authorize(Action::ManageDeadLetters)?;
        let key = dead_letter_key(&caller.tenant, id);
        let item = self.ctx.store.get(&key).await?.ok_or(Error::NotFound {
            what: "dead letter",
        })?;
        let version = item.version;
        let (letter, _) = from_item::<DeadLetter>(item)?;
        let mut message = letter.message;
        let ttl = message.expires_at - message.sent_at;
        message.sent_at = self.ctx.now();
        message.expires_at = message.sent_at + ttl;
        message.attempt += 1;
        self.enqueue(&message).await?;
        // A concurrent redrive may have removed it already; the message went out once more
        // at most, and delivery is idempotent by message id.
        let _ = self
            .ctx
            .store
            .delete(&key, Condition::VersionIs(version))
            .await;
        Ok(message)
    }
}
