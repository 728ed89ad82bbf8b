//! Tasks whose agent was deleted: nobody will ever claim them, so a workflow step waiting
//! on one would wait forever. Deleting an agent leaves an `agent_gone_item` on the timer
//! index; the sweep fails the agent's queued tasks (their steps then fail with a cause that
//! names the agent) and, once none is left, removes the record. A task the agent had
//! claimed comes back when its lease expires and is failed then, instead of requeued.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Tasks;
use super::model::{Task, TaskError, TaskStatus, TaskTarget};
use super::timers::DueTimers;
use crate::error::Result;
use crate::ids::{AgentId, TenantId};
use crate::ports::{Condition, Index, Item, Query};
use crate::records::{agent_key, claim_queue_pk, from_item};

/// Queued tasks failed per deleted agent per sweep; the rest wait for the next sweep.
const PER_SWEEP: usize = 100;

pub(super) fn agent_deleted_error(agent: &AgentId) -> TaskError {
    TaskError {
        code: "agent_deleted".into(),
        message: format!(
            "agent {agent} was deleted, so nobody can do this task; register an agent and start the work again"
        ),
        details: None,
    }
}

impl Tasks {
    /// Fails the queued tasks of the deleted agent `item` names, into `due`.
    pub(super) async fn fail_orphans(
        &self,
        item: Item,
        now: DateTime<Utc>,
        due: &mut DueTimers,
    ) -> Result<()> {
        let field = |name: &str| item.body.get(name).and_then(Value::as_str);
        let (Some(Ok(tenant)), Some(Ok(agent))) = (
            field("tenant").map(TenantId::parse),
            field("agent").map(AgentId::parse),
        ) else {
            tracing::warn!(pk = %item.key.pk, "unreadable deleted-agent record; removed");
            self.ctx.store.delete(&item.key, Condition::Always).await?;
            return Ok(());
        };
        let target = TaskTarget::Agent(agent.clone()).queue();
        let query = Query::new(Index::Gsi1, claim_queue_pk(&tenant, &target)).limit(PER_SWEEP);
        let page = self.ctx.store.query(&query).await?;
        let done = page.next.is_none();
        for queued in page.items {
            let (mut task, version) = from_item::<Task>(queued)?;
            if task.status != TaskStatus::Queued {
                continue;
            }
            task.fail(agent_deleted_error(&agent), false, now);
            if self.write_if_unchanged(&task, version).await? {
                due.fired += 1;
                due.finished.push(task);
            }
        }
        if done {
            self.ctx
                .store
                .delete(&item.key, Condition::VersionIs(item.version))
                .await
                .or_else(|e| match e {
                    crate::ports::StoreError::ConditionFailed => Ok(()),
                    other => Err(other),
                })?;
        }
        Ok(())
    }

    /// Whether a task requeued for `target` has anyone left to claim it.
    pub(super) async fn target_exists(
        &self,
        tenant: &TenantId,
        target: &TaskTarget,
    ) -> Result<bool> {
        match target {
            TaskTarget::Agent(agent) => Ok(self
                .ctx
                .store
                .get(&agent_key(tenant, agent))
                .await?
                .is_some()),
            TaskTarget::Capability(_) => Ok(true),
        }
    }
}
