//! The tasks' side of the sweep: expired leases, passed deadlines, deleted agents' tasks,
//! and finished tasks whose run step has not heard of them yet.

use super::Tasks;
use super::lifecycle::TimerOutcome;
use super::model::{Task, TaskTarget};
use crate::error::Result;
use crate::ports::{Index, Query, SkRange};
use crate::records::{AGENT_GONE, TIMER_SHARDS, from_item, task_key, time_sort_key, timer_pk};

/// What one pass over the task timers did.
#[derive(Debug, Default)]
pub struct DueTimers {
    /// Timers that changed a task (requeued, failed or expired it).
    pub fired: usize,
    /// Tasks that ended and belong to a run step that was not told yet: the caller
    /// passes each to `Runs::task_finished`.
    pub finished: Vec<Task>,
}

impl Tasks {
    /// Fires every due lease and deadline timer, across tenants. The dev server runs this
    /// every few hundred milliseconds; on AWS a scheduled function does.
    pub async fn process_due_timers(&self, limit_per_shard: usize) -> Result<DueTimers> {
        let now = self.ctx.now();
        let upper = format!("{}~", time_sort_key(now.timestamp_millis()));
        let mut due = DueTimers::default();
        let mut requeued = false;
        for shard in 0..TIMER_SHARDS {
            let query = Query::new(Index::Gsi2, timer_pk(shard))
                .sk(SkRange::Between(String::new(), upper.clone()))
                .limit(limit_per_shard);
            for item in self.ctx.store.query(&query).await?.items {
                if item.key.pk.contains(AGENT_GONE) {
                    self.fail_orphans(item, now, &mut due).await?;
                    continue;
                }
                let (mut task, version) = from_item::<Task>(item)?;
                if task.awaits_report() {
                    // Ended earlier, and its run was never told (the process stopped, or
                    // the report failed): tell it now.
                    due.finished.push(task);
                    continue;
                }
                let mut outcome = task.on_timer(now);
                if outcome == TimerOutcome::Requeued
                    && !self.target_exists(&task.tenant, &task.target).await?
                {
                    // Its agent was deleted while it held the task: nobody would claim it.
                    if let TaskTarget::Agent(agent) = &task.target {
                        task.fail(super::orphans::agent_deleted_error(agent), false, now);
                        outcome = TimerOutcome::Failed;
                    }
                }
                if outcome != TimerOutcome::NotDue
                    && self.write_if_unchanged(&task, version).await?
                {
                    due.fired += 1;
                    requeued |= outcome == TimerOutcome::Requeued;
                    match outcome {
                        TimerOutcome::Requeued | TimerOutcome::Failed => {
                            crate::metrics::task_lease_expired()
                        }
                        TimerOutcome::Expired => crate::metrics::task_expired(),
                        TimerOutcome::NotDue => {}
                    }
                    if task.awaits_report() {
                        due.finished.push(task);
                    }
                }
            }
        }
        if requeued {
            self.ctx.events.task_ready();
        }
        Ok(due)
    }

    /// Records that `task`'s run step was told it ended, which takes it off the timer
    /// index. Losing a race to another writer is fine: the report is idempotent and the
    /// sweep would only tell the run once more.
    pub async fn mark_reported(&self, task: &Task) -> Result<()> {
        let Some(item) = self
            .ctx
            .store
            .get(&task_key(&task.tenant, &task.id))
            .await?
        else {
            return Ok(());
        };
        let (mut stored, version) = from_item::<Task>(item)?;
        if !stored.awaits_report() {
            return Ok(());
        }
        if let Some(origin) = &mut stored.origin {
            origin.reported = true;
        }
        self.write_if_unchanged(&stored, version).await.map(drop)
    }
}
