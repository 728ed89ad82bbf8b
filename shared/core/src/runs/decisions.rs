//! How an approval's decision is carried out: mark, act, then delete. Deleting the
//! approval first and acting after lost the decision for good when acting failed (the
//! store or the engine unavailable, the process stopped). Now the decision is written onto
//! the approval, which moves from the pending list onto the due timer; acting on it ends
//! the step; only then is the approval removed. The approvals sweep acts on any decision
//! still recorded, so one that was interrupted is finished, not lost.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Runs;
use super::model::{Approval, RunError};
use crate::error::Result;
use crate::ids::TenantId;
use crate::ports::{Condition, Index, IndexKey, Item, Key, StoreError};
use crate::records::{APPROVALS_DUE_PK, from_item, time_sort_key};
use crate::workflows::compile::StepErrorName;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum DecisionOutcome {
    Approved,
    Rejected,
    TimedOut,
}

/// What was decided, as recorded on the approval before it is acted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Decision {
    pub outcome: DecisionOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

const DECISION: &str = "decision";

/// An approval item as stored: the approval, its task token, and any recorded decision.
pub(super) struct PendingApproval {
    pub key: Key,
    pub approval: Approval,
    pub token: String,
    pub decision: Option<Decision>,
    body: serde_json::Map<String, Value>,
    version: u64,
}

impl PendingApproval {
    pub fn read(item: Item) -> Result<PendingApproval> {
        let key = item.key.clone();
        let body = item.body.clone();
        let token = body
            .get("token")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let decision = body
            .get(DECISION)
            .and_then(|d| serde_json::from_value(d.clone()).ok());
        let (mut approval, version) = from_item::<Approval>(item)?;
        approval.attempt = body
            .get("attempt")
            .and_then(Value::as_u64)
            .map_or(approval.attempt, |a| a as u32);
        Ok(PendingApproval {
            key,
            approval,
            token,
            decision,
            body,
            version,
        })
    }
}

impl Runs {
    /// Records `decision` on the approval if nobody changed it since it was read; false if
    /// someone did (they decided first).
    pub(super) async fn mark(
        &self,
        pending: &PendingApproval,
        decision: &Decision,
    ) -> Result<bool> {
        let mut body = pending.body.clone();
        body.insert(DECISION.into(), json!(decision));
        let due = IndexKey::new(
            APPROVALS_DUE_PK,
            format!(
                "{}#{}#{}",
                time_sort_key(self.ctx.now().timestamp_millis()),
                pending.key.pk,
                pending.approval.step
            ),
        );
        // Off the pending list (nobody else may decide it), onto the due timer.
        let marked = Item::new(pending.key.clone(), body).with_gsi(Index::Gsi2, Some(due));
        match self
            .ctx
            .store
            .put(marked, Condition::VersionIs(pending.version))
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Ends the approval's step as `decision` says, then removes the approval.
    pub(super) async fn act_and_remove(
        &self,
        tenant: &TenantId,
        pending: &PendingApproval,
        decision: Decision,
    ) -> Result<()> {
        let approval = &pending.approval;
        let outcome = match decision.outcome {
            DecisionOutcome::Approved | DecisionOutcome::Rejected => {
                let approved = decision.outcome == DecisionOutcome::Approved;
                let by = decision.by.clone().unwrap_or_default();
                let data = json!({ "approved": approved, "by": by, "comment": decision.comment });
                self.event(
                    tenant,
                    &approval.run,
                    "approval.decided",
                    Some(&approval.step),
                    data.clone(),
                )
                .await?;
                if approved {
                    Ok(data)
                } else {
                    let why = decision
                        .comment
                        .as_ref()
                        .map(|c| format!(": {c}"))
                        .unwrap_or_default();
                    Err(RunError {
                        error: StepErrorName::ApprovalRejected.into(),
                        cause: format!("rejected by {by}{why}"),
                    })
                }
            }
            DecisionOutcome::TimedOut => {
                self.event(
                    tenant,
                    &approval.run,
                    "approval.timed_out",
                    Some(&approval.step),
                    json!({}),
                )
                .await?;
                Err(RunError {
                    error: StepErrorName::ApprovalTimedOut.into(),
                    cause: format!(
                        "nobody decided within the approval's timeout (due {})",
                        approval.due_at.map(|d| d.to_rfc3339()).unwrap_or_default()
                    ),
                })
            }
        };
        self.finish_approval(
            tenant.clone(),
            &approval.run,
            &approval.step,
            approval.attempt,
            pending.token.clone(),
            outcome,
        )
        .await?;
        self.ctx
            .store
            .delete(&pending.key, Condition::Always)
            .await?;
        Ok(())
    }
}
