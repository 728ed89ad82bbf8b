//! The message envelope, what senders write, and what an inbox holds.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, FieldErrors, Result};
use crate::ids::{AgentId, AgentTag, Capability, MessageId, PrincipalId, RunId, TenantId};

/// A payload's JSON may be at most this long: the envelope must fit one SQS message.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// How long an undelivered or unacknowledged message lives unless the sender says.
pub const DEFAULT_TTL_SECONDS: u64 = 24 * 3600;
/// SQS keeps a message at most 14 days.
pub const MAX_TTL_SECONDS: u64 = 14 * 24 * 3600;
const MAX_KIND_LEN: usize = 128;
const MAX_CORRELATION_LEN: usize = 256;

/// Who a message is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Recipient {
    /// One agent's inbox.
    Agent { agent: AgentId },
    /// Every active agent with the capability and all the tags (the sender excepted).
    Broadcast {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        capability: Option<Capability>,
        #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
        tags: BTreeSet<AgentTag>,
    },
    /// A workflow run: a step of it may be waiting for this reply (by correlation id).
    Run { run: RunId },
}

/// The envelope: what travels on the messages queue and lands in inboxes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    pub id: MessageId,
    pub tenant: TenantId,
    pub sender: PrincipalId,
    pub to: Recipient,
    /// What the message means to its receiver, e.g. `question` or `result`.
    pub kind: String,
    #[serde(default)]
    pub payload: Value,
    /// Ties messages of one conversation together (e.g. a run id); replies keep it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    pub sent_at: DateTime<Utc>,
    /// After this the message is neither delivered nor shown.
    pub expires_at: DateTime<Utc>,
    /// 1 when first sent; a redrive sends it again with the next attempt.
    pub attempt: u32,
}

impl Message {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}

/// What a sender writes (direct: the receiver is in the path).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewMessage {
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 128, pattern = r"\S")
    )]
    pub kind: String,
    #[serde(default)]
    pub payload: Value,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 256))]
    pub correlation_id: Option<String>,
    /// Seconds until the message expires; 1 day unless given, at most 14 days.
    #[serde(default, deserialize_with = "crate::whole_number::option::deserialize")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1209600))]
    pub ttl_seconds: Option<u64>,
}

/// A broadcast: who gets it, and the message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewBroadcast {
    #[serde(default)]
    pub capability: Option<Capability>,
    #[serde(default)]
    pub tags: BTreeSet<AgentTag>,
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 128, pattern = r"\S")
    )]
    pub kind: String,
    #[serde(default)]
    pub payload: Value,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 256))]
    pub correlation_id: Option<String>,
    #[serde(default, deserialize_with = "crate::whole_number::option::deserialize")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1209600))]
    pub ttl_seconds: Option<u64>,
}

impl NewMessage {
    /// Every problem at once; an oversized payload is a 413 of its own.
    pub fn validate(&self) -> Result<Duration> {
        let size = serde_json::to_vec(&self.payload).map_or(usize::MAX, |b| b.len());
        if size > MAX_PAYLOAD_BYTES {
            return Err(Error::PayloadTooLarge(format!(
                "the payload is {size} bytes; a message carries at most {MAX_PAYLOAD_BYTES}: send a reference to larger data"
            )));
        }
        let mut errors = FieldErrors::default();
        errors.check(
            !self.kind.trim().is_empty() && self.kind.len() <= MAX_KIND_LEN,
            "$.kind",
            || format!("kind must be 1 to {MAX_KIND_LEN} characters"),
        );
        if let Some(correlation) = &self.correlation_id {
            errors.check(
                !correlation.is_empty() && correlation.len() <= MAX_CORRELATION_LEN,
                "$.correlation_id",
                || format!("correlation_id must be 1 to {MAX_CORRELATION_LEN} characters"),
            );
        }
        let ttl = self.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
        errors.check(
            (1..=MAX_TTL_SECONDS).contains(&ttl),
            "$.ttl_seconds",
            || format!("ttl_seconds must be 1 to {MAX_TTL_SECONDS} (14 days)"),
        );
        errors.into_result()?;
        Ok(Duration::seconds(ttl as i64))
    }
}

impl NewBroadcast {
    pub fn split(self) -> (Recipient, NewMessage) {
        let to = Recipient::Broadcast {
            capability: self.capability,
            tags: self.tags,
        };
        let message = NewMessage {
            kind: self.kind,
            payload: self.payload,
            correlation_id: self.correlation_id,
            ttl_seconds: self.ttl_seconds,
        };
        (to, message)
    }
}

/// A message in an agent's inbox, until the agent acknowledges it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboxEntry {
    pub message: Message,
    pub receiver: AgentId,
    pub delivered_at: DateTime<Utc>,
    /// Hidden from inbox reads until then (a read leases the message).
    pub visible_at: DateTime<Utc>,
    /// How many reads have returned it: above 1 it was not acknowledged in time.
    pub receives: u32,
}

/// A message the router gave up on: admins read these and can redrive them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetter {
    pub message: Message,
    /// Why the last delivery failed.
    pub error: String,
    pub receives: u32,
    pub failed_at: DateTime<Utc>,
}
