//! Reading an inbox (each read leases what it returns) and acknowledging messages.

use chrono::Duration;

use super::Messages;
use super::model::InboxEntry;
use crate::auth::Principal;
use crate::cursor::{PageRequest, list_filtered};
use crate::error::{Error, Result};
use crate::ids::{AgentId, MessageId};
use crate::ports::{Condition, Index, Item, Query, SkRange, StoreError, WriteOp};
use crate::records::{INBOX_PREFIX, acked_key, from_item, inbox_key, inbox_pk, to_body};

/// SQS's limit: 12 hours.
pub const MAX_VISIBILITY_SECONDS: u64 = 12 * 3600;
const DEFAULT_VISIBILITY_SECONDS: u64 = 30;
const MAX_SCANNED_PER_READ: usize = 500;

/// One inbox read: how many, from where, and how long what it returns stays hidden.
#[derive(Debug, Clone, Default)]
pub struct InboxRead {
    pub page: PageRequest,
    pub visibility_seconds: Option<u64>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboxPage {
    pub messages: Vec<InboxEntry>,
    /// Resumes the scan past what this read looked at; absent at the end of the inbox.
    pub next_cursor: Option<String>,
}

impl Messages {
    /// The visible messages, oldest first, each leased to the caller for the visibility
    /// timeout: an unacknowledged message shows up again after it.
    pub async fn read_inbox(
        &self,
        caller: &Principal,
        agent: &AgentId,
        read: &InboxRead,
    ) -> Result<InboxPage> {
        caller.require_agent(agent, "read its inbox")?;
        let visibility = read
            .visibility_seconds
            .unwrap_or(DEFAULT_VISIBILITY_SECONDS);
        if visibility > MAX_VISIBILITY_SECONDS {
            return Err(Error::invalid(
                "$.visibility",
                format!("visibility is at most {MAX_VISIBILITY_SECONDS} seconds (12 hours)"),
            ));
        }
        let now = self.ctx.now();
        let query = Query::new(Index::Primary, inbox_pk(&caller.tenant, agent))
            .sk(SkRange::Prefix(INBOX_PREFIX.into()));
        let candidates = list_filtered(
            self.ctx.store.as_ref(),
            query,
            &read.page,
            MAX_SCANNED_PER_READ,
            |item| {
                let version = item.version;
                let expires_at = item.expires_at;
                let (entry, _) = from_item::<InboxEntry>(item)?;
                let visible = entry.visible_at <= now && !entry.message.is_expired(now);
                Ok(visible.then_some((entry, version, expires_at)))
            },
        )
        .await?;
        let mut messages = Vec::new();
        for (mut entry, version, expires_at) in candidates.items {
            entry.visible_at = now + Duration::seconds(visibility as i64);
            entry.receives += 1;
            let key = inbox_key(&caller.tenant, agent, &entry.message.id);
            let mut item = Item::new(key, crate::records::to_body(&entry)?);
            item.expires_at = expires_at;
            match self
                .ctx
                .store
                .put(item, Condition::VersionIs(version))
                .await
            {
                Ok(_) => messages.push(entry),
                // Another read leased or acknowledged it first.
                Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(InboxPage {
            messages,
            next_cursor: candidates.next_cursor,
        })
    }

    /// Removes the message from the inbox for good. Acknowledging twice is fine.
    pub async fn ack(&self, caller: &Principal, agent: &AgentId, id: &MessageId) -> Result<()> {
        caller.require_agent(agent, "acknowledge messages in its inbox")?;
        let key = inbox_key(&caller.tenant, agent, id);
        let acked = acked_key(&caller.tenant, agent, id);
        let Some(item) = self.ctx.store.get(&key).await? else {
            return match self.ctx.store.get(&acked).await? {
                Some(_) => Ok(()),
                None => Err(Error::NotFound {
                    what: "message in this inbox",
                }),
            };
        };
        let version = item.version;
        let (entry, _) = from_item::<InboxEntry>(item)?;
        let mut tombstone = Item::new(
            acked,
            to_body(&serde_json::json!({ "acked_at": self.ctx.now() }))?,
        );
        tombstone.expires_at = Some(entry.message.expires_at.timestamp());
        let ops = vec![
            WriteOp::Delete {
                key,
                condition: Condition::VersionIs(version),
            },
            WriteOp::Put {
                item: tombstone,
                condition: Condition::Always,
            },
        ];
        match self.ctx.store.transact_write(ops).await {
            Ok(()) => Ok(()),
            // A read leased it between our read and our delete: acknowledge that version.
            Err(StoreError::TransactionCanceled { .. }) => {
                Box::pin(self.ack(caller, agent, id)).await
            }
            Err(e) => Err(e.into()),
        }
    }
}
