//! Approval steps: a person approves or rejects, or the step times out.

use chrono::Duration;
use serde_json::{Value, json};

use super::Runs;
use super::call::StepCall;
use super::decisions::{Decision, DecisionOutcome, PendingApproval};
use super::model::{Approval, Run, RunError, StepMessage, StepStatus};
use super::outcome::Reply;
use super::scope::StepScope;
use super::worker::set;
use crate::auth::{Principal, Role};
use crate::error::{Error, Result};
use crate::ids::RunId;
use crate::ports::{Condition, Index, IndexKey, Item, Query, SkRange};
use crate::records::{
    APPROVALS_DUE_PK, approval_key, approvals_pending_pk, from_item, run_pk, step_key,
    time_sort_key, to_body,
};
use crate::workflows::template::render;

impl Runs {
    pub(crate) async fn request_approval(
        &self,
        call: StepCall<'_>,
        scope: &StepScope,
        reply: Reply,
    ) -> Result<()> {
        let message = call.message;
        let Reply::Token(token) = reply else {
            return Err(Error::Internal(
                "approvals need a task token (standard mode)".into(),
            ));
        };
        let step = call.step();
        let spec = step
            .approval
            .clone()
            .unwrap_or(crate::workflows::definition::ApprovalSpec {
                message: None,
                assignees: vec![],
                timeout: None,
            });
        let now = self.ctx.now();
        let due_at = spec
            .timeout
            .and_then(|t| Duration::from_std(t.0).ok())
            .map(|d| now + d);
        let approval = Approval {
            run: message.run.clone(),
            step: step.id.clone(),
            workflow: message.workflow.clone(),
            message: spec.message.as_ref().map(|m| render(m, scope)),
            assignees: spec.assignees.clone(),
            requested_at: now,
            due_at,
            token,
            attempt: message.attempt,
        };
        let key = approval_key(&message.tenant, &message.run, &step.id);
        let mut body = to_body(&approval)?;
        body.insert("token".into(), json!(approval.token));
        body.insert("attempt".into(), json!(approval.attempt));
        let pending = IndexKey::new(
            approvals_pending_pk(&message.tenant),
            format!(
                "{}#{}#{}",
                time_sort_key(now.timestamp_millis()),
                message.run,
                step.id
            ),
        );
        let mut item = Item::new(key.clone(), body).with_gsi(Index::Gsi1, Some(pending));
        if let Some(due) = due_at {
            let sk = format!(
                "{}#{}#{}",
                time_sort_key(due.timestamp_millis()),
                key.pk,
                step.id
            );
            item = item.with_gsi(Index::Gsi2, Some(IndexKey::new(APPROVALS_DUE_PK, sk)));
        }
        self.ctx.store.put(item, Condition::Always).await?;
        let step_changes = vec![set("status", StepStatus::AwaitingApproval)];
        self.ctx
            .store
            .update(
                &step_key(&message.tenant, &message.run, &step.id),
                step_changes,
                Condition::Exists,
            )
            .await?;
        let data = json!({ "message": approval.message, "assignees": approval.assignees, "due_at": due_at });
        self.event(
            &message.tenant,
            &message.run,
            "approval.requested",
            Some(&step.id),
            data,
        )
        .await
    }

    /// Approvals the caller may decide, oldest first.
    pub async fn pending_approvals(&self, caller: &Principal) -> Result<Vec<Approval>> {
        let query = Query::new(Index::Gsi1, approvals_pending_pk(&caller.tenant)).limit(500);
        let page = self.ctx.store.query(&query).await?;
        Ok(page
            .items
            .into_iter()
            .filter_map(|item| from_item::<Approval>(item).ok().map(|(a, _)| a))
            .filter(|a| may_decide(caller, a))
            .collect())
    }

    /// Approves or rejects; exactly one decision counts. The decision is recorded on the
    /// approval first, then acted on, then the approval removed: if acting fails, the
    /// approvals sweep finds the recorded decision and acts on it (`decisions`).
    pub async fn decide(
        &self,
        caller: &Principal,
        run: &RunId,
        step: &str,
        approve: bool,
        comment: Option<String>,
    ) -> Result<Run> {
        let key = approval_key(&caller.tenant, run, step);
        let item = self.ctx.store.get(&key).await?;
        let Some(item) = item else {
            self.run_record(&caller.tenant, run).await?;
            return Err(Error::NotFound {
                what: "pending approval",
            });
        };
        let pending = PendingApproval::read(item)?;
        if !may_decide(caller, &pending.approval) {
            return Err(Error::Forbidden(format!(
                "this approval is assigned to {}",
                pending.approval.assignees.join(", ")
            )));
        }
        let decision = Decision {
            outcome: if approve {
                DecisionOutcome::Approved
            } else {
                DecisionOutcome::Rejected
            },
            by: Some(caller.id.to_string()),
            comment,
        };
        if pending.decision.is_some() || !self.mark(&pending, &decision).await? {
            return Err(Error::conflict(
                "already-decided",
                "someone decided this approval a moment ago",
            ));
        }
        self.act_and_remove(&caller.tenant, &pending, decision)
            .await?;
        self.run_record(&caller.tenant, run).await
    }

    pub(super) async fn finish_approval(
        &self,
        tenant: crate::ids::TenantId,
        run: &RunId,
        step: &str,
        attempt: u32,
        token: String,
        outcome: std::result::Result<Value, RunError>,
    ) -> Result<()> {
        let record = self.run_record(&tenant, run).await?;
        let workflow = self
            .workflows
            .compiled(&tenant, &record.workflow, record.version)
            .await?;
        let index = workflow
            .dag
            .index(step)
            .ok_or(Error::NotFound { what: "step" })?;
        let message = StepMessage {
            v: 1,
            tenant,
            workflow: record.workflow.clone(),
            version: record.version,
            run: run.clone(),
            step: step.to_string(),
            phase: crate::workflows::compile::StepPhase::Run,
            attempt,
            index: None,
            token: Some(token.clone()),
        };
        let call = StepCall::new(&message, &workflow, index);
        let reply = Reply::Token(token);
        let _step_outcome = match outcome {
            Ok(output) => self.complete(call, output, None, reply).await?,
            Err(failure) => self.fail(call, failure, None, reply).await?,
        };
        Ok(())
    }

    /// Fails every approval whose timeout passed, and acts on decisions that were recorded
    /// but not acted on (the process stopped in between). Returns how many.
    pub async fn expire_approvals(&self) -> Result<usize> {
        let now = self.ctx.now();
        let upper = format!("{}~", time_sort_key(now.timestamp_millis()));
        let query = Query::new(Index::Gsi2, APPROVALS_DUE_PK)
            .sk(SkRange::Between(String::new(), upper))
            .limit(100);
        let mut finished = 0;
        for item in self.ctx.store.query(&query).await?.items {
            let Some(tenant) = item
                .key
                .pk
                .strip_prefix("T#")
                .and_then(|rest| rest.split('#').next())
                .and_then(|t| crate::ids::TenantId::parse(t).ok())
            else {
                continue;
            };
            let pending = PendingApproval::read(item)?;
            debug_assert_eq!(pending.key.pk, run_pk(&tenant, &pending.approval.run));
            let decision = match &pending.decision {
                Some(recorded) => recorded.clone(),
                None => {
                    let timed_out = Decision {
                        outcome: DecisionOutcome::TimedOut,
                        by: None,
                        comment: None,
                    };
                    if !self.mark(&pending, &timed_out).await? {
                        continue; // decided at this moment by someone else
                    }
                    timed_out
                }
            };
            self.act_and_remove(&tenant, &pending, decision).await?;
            finished += 1;
        }
        Ok(finished)
    }
}

fn may_decide(caller: &Principal, approval: &Approval) -> bool {
    if caller.has_role(Role::Admin) {
        return true;
    }
    if approval.assignees.is_empty() {
        return caller.has_role(Role::Operator);
    }
    approval.assignees.iter().any(|a| a == caller.id.as_str())
}
