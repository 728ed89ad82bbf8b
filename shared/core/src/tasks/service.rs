use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::model::{NewTask, Task, TaskFilter, TaskOrigin, TaskStatus, TaskTarget};
use crate::agents::Agents;
use crate::auth::{Action, Principal};
use crate::context::Context;
use crate::cursor::{ListPage, PageRequest, list_filtered};
use crate::error::{Error, FieldError, Result};
use crate::ids::{LeaseId, TaskId};
use crate::ports::{Condition, Index, Item, Query, StoreError, WriteOp};
use crate::records::{
    agent_key, from_item, idempotency_key as idempotency_record_key, task_key, tasks_list_pk,
    to_body,
};

/// Tasks know nothing of workflows: a use case that ends a task returns it, and whoever
/// called passes a finished task with an origin on to the run (`Runs::task_finished`).
/// A task whose run was not told keeps a timer, so the sweep returns it again.
#[derive(Clone)]
pub struct Tasks {
    pub(super) ctx: Context,
    pub(super) agents: Agents,
}

/// A created task, or the one an earlier request with the same Idempotency-Key created.
pub struct CreatedTask {
    pub task: Task,
    pub replayed: bool,
}

/// Which lease a completing agent believes it holds.
pub type LeaseRef<'a> = Option<&'a LeaseId>;

#[derive(Serialize, Deserialize)]
struct IdempotencyRecord {
    task: TaskId,
    fingerprint: String,
}

const IDEMPOTENCY_WINDOW: Duration = Duration::hours(24);
/// The longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
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
        self.create_with_origin(caller, new, idempotency_key, None)
            .await
    }

    pub(crate) async fn create_with_origin(
        &self,
        caller: &Principal,
        new: NewTask,
        idempotency_key: Option<&str>,
        origin: Option<TaskOrigin>,
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
            origin,
            usage: None,
            trace: self.ctx.traces.current(),
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

    pub(super) async fn load(&self, caller: &Principal, id: &TaskId) -> Result<(Task, u64)> {
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
    pub(super) async fn write_if_unchanged(&self, task: &Task, version: u64) -> Result<bool> {
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

/// An `Idempotency-Key` a caller sent (tasks and runs): short, printable ASCII, so it fits
/// in a store key on every adapter.
pub(crate) fn check_idempotency_key(key: &str) -> Result<()> {
    let printable = key.chars().all(|c| c.is_ascii_graphic());
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN || !printable {
        return Err(Error::invalid(
            "header.Idempotency-Key",
            format!("use 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable ASCII characters, e.g. a UUID"),
        ));
    }
    Ok(())
}

/// Same request, same fingerprint, whatever order its keys came in.
fn fingerprint(new: &NewTask) -> String {
    let value = serde_json::to_value(new).unwrap_or_default();
    crate::digest::value_digest(&value)
}
