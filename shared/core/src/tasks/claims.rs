//! Claiming tasks, and what only the agent holding a task's lease may do with it.

use chrono::{DateTime, Utc};

use super::model::{Task, TaskCompletion, TaskFailure, TaskStatus};
use super::service::{LeaseRef, Tasks};
use crate::agents::AgentStatus;
use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::ids::{AgentId, LeaseId, TaskId};
use crate::ports::{Index, Item, Query};
use crate::records::{claim_queue_pk, from_item};

const CLAIM_CANDIDATES_PER_QUEUE: usize = 4;
const CLAIM_ROUNDS: usize = 8;

type TaskChange = dyn FnOnce(&mut Task, DateTime<Utc>) + Send;

/// What a lease holder's request does to its task.
enum HolderAction {
    Unchanged,
    Apply(Box<TaskChange>),
}

impl Tasks {
    /// Gives the agent the oldest queued task addressed to it or to one of its
    /// capabilities, under a new lease; None when there is nothing to do.
    pub async fn claim(&self, caller: &Principal, agent_id: &AgentId) -> Result<Option<Task>> {
        caller.require_agent(agent_id, "claim tasks")?;
        let (agent, _) = self.agents.load(caller, agent_id).await?;
        if agent.status == AgentStatus::Paused {
            return Err(Error::conflict(
                "agent-paused",
                "this agent is paused; an admin can set its status to active",
            ));
        }
        for _ in 0..CLAIM_ROUNDS {
            let candidates = self
                .claim_candidates(caller, &agent.claim_targets())
                .await?;
            if candidates.is_empty() {
                return Ok(None);
            }
            for item in candidates {
                let (mut task, version) = from_item::<Task>(item)?;
                let now = self.ctx.now();
                if task.status != TaskStatus::Queued {
                    continue;
                }
                if task.is_past_deadline(now) {
                    task.on_timer(now);
                    self.write_if_unchanged(&task, version).await?;
                    continue;
                }
                task.claim(agent_id, LeaseId::from_ulid(self.ctx.ulid()), now);
                if self.write_if_unchanged(&task, version).await? {
                    crate::metrics::task_claimed();
                    return Ok(Some(task));
                }
            }
        }
        Ok(None)
    }

    async fn claim_candidates(&self, caller: &Principal, targets: &[String]) -> Result<Vec<Item>> {
        let mut candidates = Vec::new();
        for target in targets {
            let query = Query::new(Index::Gsi1, claim_queue_pk(&caller.tenant, target))
                .limit(CLAIM_CANDIDATES_PER_QUEUE);
            candidates.extend(self.ctx.store.query(&query).await?.items);
        }
        candidates.sort_by(|a, b| {
            a.gsi[0]
                .as_ref()
                .map(|k| &k.sk)
                .cmp(&b.gsi[0].as_ref().map(|k| &k.sk))
        });
        Ok(candidates)
    }

    /// Extends the caller's lease by the task's timeout.
    pub async fn heartbeat(
        &self,
        caller: &Principal,
        id: &TaskId,
        lease: LeaseRef<'_>,
    ) -> Result<Task> {
        let extend = |task: &mut Task, now| task.extend_lease(now);
        self.act_as_holder(caller, id, lease, |_, _| {
            HolderAction::Apply(Box::new(extend))
        })
        .await
    }

    pub async fn complete(
        &self,
        caller: &Principal,
        id: &TaskId,
        completion: TaskCompletion,
    ) -> Result<Task> {
        let size = super::model::json_size(&completion.result);
        if size > super::model::MAX_RESULT_BYTES {
            return Err(Error::PayloadTooLarge(format!(
                "the result is {size} bytes; the limit is {}: store large results elsewhere and return a reference",
                super::model::MAX_RESULT_BYTES
            )));
        }
        if let Some(usage) = &completion.usage {
            let mut errors = crate::error::FieldErrors::default();
            usage.check("$.usage", &mut errors);
            errors.into_result()?;
        }
        let result = completion.result;
        let usage = completion.usage;
        let task = self
            .act_as_holder(caller, id, completion.lease_id.as_ref(), |task, me| {
                // A retried completion of a task this agent already completed answers the same.
                let already_done = task.status == TaskStatus::Succeeded
                    && task.claimed_by.as_ref() == Some(me)
                    && task.result.as_ref() == Some(&result);
                if already_done {
                    HolderAction::Unchanged
                } else {
                    HolderAction::Apply(Box::new(move |task, now| task.succeed(result, usage, now)))
                }
            })
            .await?;
        Ok(task)
    }

    pub async fn fail(
        &self,
        caller: &Principal,
        id: &TaskId,
        failure: TaskFailure,
    ) -> Result<Task> {
        let TaskFailure {
            error,
            retryable,
            lease_id,
        } = failure;
        let fail = move |task: &mut Task, now| task.fail(error, retryable, now);
        let task = self
            .act_as_holder(caller, id, lease_id.as_ref(), |_, _| {
                HolderAction::Apply(Box::new(fail))
            })
            .await?;
        if task.status == TaskStatus::Queued {
            self.ctx.events.task_ready();
        }
        Ok(task)
    }

    /// Loads the task, lets `decide` look at it, and applies its change if the caller
    /// holds the task's lease, in one conditional write.
    async fn act_as_holder(
        &self,
        caller: &Principal,
        id: &TaskId,
        lease: LeaseRef<'_>,
        decide: impl FnOnce(&Task, &AgentId) -> HolderAction,
    ) -> Result<Task> {
        let me = caller.agent().ok_or_else(|| {
            Error::Forbidden("only the agent holding the task may do this".into())
        })?;
        let (mut task, version) = self.load(caller, id).await?;
        let change = match decide(&task, &me) {
            HolderAction::Unchanged => return Ok(task),
            HolderAction::Apply(change) => change,
        };
        task.check_holder(&me, lease)?;
        change(&mut task, self.ctx.now());
        if self.write_if_unchanged(&task, version).await? {
            Ok(task)
        } else {
            Err(Error::conflict(
                "concurrent-update",
                "the task changed while this request ran (its lease may have just expired); read it again",
            ))
        }
    }
}
