use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::lifecycle::TimerOutcome;
use super::model::{
    NewTask, Task, TaskCompletion, TaskFailure, TaskFilter, TaskStatus, TaskTarget,
};
use crate::agents::{AgentStatus, Agents};
use crate::auth::{Action, Principal};
use crate::context::Context;
use crate::cursor::{ListPage, PageRequest, list_filtered};
use crate::error::{Error, FieldError, Result};
use crate::ids::{AgentId, LeaseId, TaskId};
use crate::ports::{Condition, Index, Item, Query, SkRange, StoreError, WriteOp};
use crate::records::{
    TIMER_SHARDS, agent_key, claim_queue_pk, from_item, idempotency_key as idempotency_record_key,
    task_key, tasks_list_pk, time_sort_key, timer_pk, to_body,
};

#[derive(Clone)]
pub struct Tasks {
    ctx: Context,
    agents: Agents,
}

/// A created task, or the one an earlier request with the same Idempotency-Key created.
pub struct CreatedTask {
    pub task: Task,
    pub replayed: bool,
}

type TaskChange = dyn FnOnce(&mut Task, DateTime<Utc>) + Send;

/// What a lease holder's request does to its task.
enum HolderAction {
    Unchanged,
    Apply(Box<TaskChange>),
}

/// Which lease a completing agent believes it holds.
pub type LeaseRef<'a> = Option<&'a LeaseId>;

#[derive(Serialize, Deserialize)]
struct IdempotencyRecord {
    task: TaskId,
    fingerprint: String,
}

const IDEMPOTENCY_WINDOW: Duration = Duration::hours(24);
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
const CLAIM_CANDIDATES_PER_QUEUE: usize = 4;
const CLAIM_ROUNDS: usize = 8;
const MAX_SCANNED_PER_LIST: usize = 2000;

impl Tasks {
    pub fn new(ctx: Context, agents: Agents) -> Self {
        Self { ctx, agents }
    }

    pub async fn create(
        &self,
        caller: &Principal,
        new: NewTask,
        idempotency_key: Option<&str>,
    ) -> Result<CreatedTask> {
        caller.authorize(Action::CreateTask)?;
        let target = new.validate()?;
        if let TaskTarget::Agent(id) = &target
            && self
                .ctx
                .store
                .get(&agent_key(&caller.tenant, id))
                .await?
                .is_none()
        {
            return Err(Error::invalid(
                "$.agent",
                format!("there is no agent `{id}` in this tenant"),
            ));
        }
        let now = self.ctx.now();
        let task = Task {
            id: TaskId::from_ulid(self.ctx.ulid()),
            tenant: caller.tenant.clone(),
            target,
            status: TaskStatus::Queued,
            input: new.input.clone(),
            result: None,
            error: None,
            attempts: 0,
            max_attempts: new.max_attempts,
            timeout_seconds: new.timeout_seconds,
            deadline: new
                .ttl_seconds
                .map(|s| now + Duration::seconds(i64::from(s))),
            lease: None,
            claimed_by: None,
            created_by: caller.id.clone(),
            created_at: now,
            updated_at: now,
            available_at: now,
            finished_at: None,
        };
        let put_task = WriteOp::Put {
            item: task.to_item()?,
            condition: Condition::NotExists,
        };
        let Some(key) = idempotency_key else {
            self.ctx.store.transact_write(vec![put_task]).await?;
            self.ctx.events.task_ready();
            return Ok(CreatedTask {
                task,
                replayed: false,
            });
        };
        check_idempotency_key(key)?;
        let record = IdempotencyRecord {
            task: task.id.clone(),
            fingerprint: fingerprint(&new),
        };
        let record_key = idempotency_record_key(&caller.tenant, caller.id.as_str(), key);
        let expires = (now + IDEMPOTENCY_WINDOW).timestamp();
        let put_record = WriteOp::Put {
            item: Item::new(record_key.clone(), to_body(&record)?).expiring_at(expires),
            condition: Condition::NotExists,
        };
        match self
            .ctx
            .store
            .transact_write(vec![put_task, put_record])
            .await
        {
            Ok(()) => {
                self.ctx.events.task_ready();
                Ok(CreatedTask {
                    task,
                    replayed: false,
                })
            }
            Err(StoreError::TransactionCanceled { failed }) if failed.contains(&1) => {
                self.replay(caller, &record_key, &record.fingerprint).await
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn replay(
        &self,
        caller: &Principal,
        record_key: &crate::ports::Key,
        fingerprint: &str,
    ) -> Result<CreatedTask> {
        let item = self.ctx.store.get(record_key).await?;
        let item = item.ok_or_else(|| Error::Internal("idempotency record vanished".into()))?;
        let (earlier, _) = from_item::<IdempotencyRecord>(item)?;
        if earlier.fingerprint != fingerprint {
            return Err(Error::Validation(vec![FieldError::new(
                "header.Idempotency-Key",
                "this key was already used for a different request; use a new key for a new task",
            )]));
        }
        let (task, _) = self.load(caller, &earlier.task).await?;
        Ok(CreatedTask {
            task,
            replayed: true,
        })
    }

    pub async fn get(&self, caller: &Principal, id: &TaskId) -> Result<Task> {
        let (task, _) = self.load(caller, id).await?;
        self.check_visible(caller, &task)?;
        Ok(task)
    }

    pub async fn list(
        &self,
        caller: &Principal,
        mut filter: TaskFilter,
        page: &PageRequest,
    ) -> Result<ListPage<Task>> {
        if !caller.may(Action::ReadAnyTask) {
            let me = caller
                .agent()
                .ok_or_else(|| Error::Forbidden("this principal may not read tasks".into()))?;
            if filter.agent.as_ref().is_some_and(|a| a != &me) {
                return Err(Error::Forbidden(
                    "an agent may only list its own tasks".into(),
                ));
            }
            filter.agent = Some(me);
        }
        let mut query = Query::new(Index::Gsi3, tasks_list_pk(&caller.tenant));
        query.descending = true;
        list_filtered(
            self.ctx.store.as_ref(),
            query,
            page,
            MAX_SCANNED_PER_LIST,
            |item| {
                let (task, _) = from_item::<Task>(item)?;
                Ok(filter.matches(&task).then_some(task))
            },
        )
        .await
    }

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
        let result = completion.result;
        self.act_as_holder(caller, id, completion.lease_id.as_ref(), |task, me| {
            // A retried completion of a task this agent already completed answers the same.
            let already_done = task.status == TaskStatus::Succeeded
                && task.claimed_by.as_ref() == Some(me)
                && task.result.as_ref() == Some(&result);
            if already_done {
                HolderAction::Unchanged
            } else {
                HolderAction::Apply(Box::new(move |task, now| task.succeed(result, now)))
            }
        })
        .await
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

    /// Fires every due lease and deadline timer, across tenants. The dev server runs this
    /// every few hundred milliseconds; on AWS a scheduled function does.
    pub async fn process_due_timers(&self, limit_per_shard: usize) -> Result<usize> {
        let now = self.ctx.now();
        let upper = format!("{}~", time_sort_key(now.timestamp_millis()));
        let mut fired = 0;
        let mut requeued = false;
        for shard in 0..TIMER_SHARDS {
            let query = Query::new(Index::Gsi2, timer_pk(shard))
                .sk(SkRange::Between(String::new(), upper.clone()))
                .limit(limit_per_shard);
            for item in self.ctx.store.query(&query).await?.items {
                let (mut task, version) = from_item::<Task>(item)?;
                let outcome = task.on_timer(now);
                if outcome != TimerOutcome::NotDue
                    && self.write_if_unchanged(&task, version).await?
                {
                    fired += 1;
                    requeued |= outcome == TimerOutcome::Requeued;
                }
            }
        }
        if requeued {
            self.ctx.events.task_ready();
        }
        Ok(fired)
    }

    async fn load(&self, caller: &Principal, id: &TaskId) -> Result<(Task, u64)> {
        let item = self.ctx.store.get(&task_key(&caller.tenant, id)).await?;
        from_item(item.ok_or(Error::NotFound { what: "task" })?)
    }

    fn check_visible(&self, caller: &Principal, task: &Task) -> Result<()> {
        if caller.may(Action::ReadAnyTask) || caller.agent().is_some_and(|me| task.belongs_to(&me))
        {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "an agent may only read its own tasks".into(),
            ))
        }
    }

    /// Writes the task if nobody changed it since it was read; false if someone did.
    async fn write_if_unchanged(&self, task: &Task, version: u64) -> Result<bool> {
        match self
            .ctx
            .store
            .put(task.to_item()?, Condition::VersionIs(version))
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

fn check_idempotency_key(key: &str) -> Result<()> {
    let printable = key.chars().all(|c| c.is_ascii_graphic());
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN || !printable {
        return Err(Error::invalid(
            "header.Idempotency-Key",
            format!("use 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable ASCII characters, e.g. a UUID"),
        ));
    }
    Ok(())
}

/// Same request, same fingerprint: serde_json's maps are sorted, so this is canonical.
fn fingerprint(new: &NewTask) -> String {
    let bytes = serde_json::to_vec(new).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
