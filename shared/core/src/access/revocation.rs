//! Revoking a principal's tokens before they expire. Tokens are stateless, so a deleted
//! or paused agent, a deleted client or a rotated secret would otherwise keep working
//! until `exp`. Each of those writes a revocation record; every authenticated request
//! reads it (one item by key) and refuses tokens issued before it.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::TenantId;
use crate::ports::{Condition, ItemStore, WriteOp};
use crate::records::{from_item, revocation_key, to_body};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// Tokens issued at or before this instant (Unix ms) are refused.
    pub valid_after_ms: i64,
    /// No token is accepted, and none is issued: the principal is paused or deleted.
    pub blocked: bool,
}

impl Revocation {
    /// Whether a token issued at `issued_at_ms` is still good.
    pub fn admits(&self, issued_at_ms: i64) -> bool {
        !self.blocked && issued_at_ms > self.valid_after_ms
    }
}

/// The write that revokes every token `principal` holds as of `now` (and, `blocked`, any
/// it would get), to put in the transaction that deletes, pauses or re-keys it, so the
/// change and the revocation happen together.
pub fn revoke(
    tenant: &TenantId,
    principal: &str,
    now: chrono::DateTime<chrono::Utc>,
    blocked: bool,
) -> Result<WriteOp> {
    let revocation = Revocation {
        valid_after_ms: now.timestamp_millis(),
        blocked,
    };
    Ok(WriteOp::Put {
        item: crate::ports::Item::new(revocation_key(tenant, principal), to_body(&revocation)?),
        condition: Condition::Always,
    })
}

/// The principal's revocation, if one was ever written.
pub async fn load(
    store: &dyn ItemStore,
    tenant: &TenantId,
    principal: &str,
) -> Result<Option<Revocation>> {
    match store.get(&revocation_key(tenant, principal)).await? {
        Some(item) => Ok(Some(from_item::<Revocation>(item)?.0)),
        None => Ok(None),
    }
}

/// Refuses a token issued before the principal's revocation.
pub async fn check(
    store: &dyn ItemStore,
    tenant: &TenantId,
    principal: &str,
    issued_at_ms: i64,
) -> Result<()> {
    match load(store, tenant, principal).await? {
        Some(revocation) if !revocation.admits(issued_at_ms) => {
            Err(Error::Unauthenticated(if revocation.blocked {
                "this token's agent or client was paused or deleted; it no longer works".into()
            } else {
                "this token was revoked (its secret was rotated); get a new one from POST /v1/auth/token"
                    .into()
            }))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_refuses_tokens_issued_before_it_and_blocks_everything_when_blocked() {
        let rotated = Revocation {
            valid_after_ms: 1_000,
            blocked: false,
        };
        assert!(!rotated.admits(999));
        assert!(!rotated.admits(1_000));
        assert!(rotated.admits(1_001));
        let paused = Revocation {
            blocked: true,
            ..rotated
        };
        assert!(!paused.admits(5_000));
    }
}
