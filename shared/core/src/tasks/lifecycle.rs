//! The task state machine, free of I/O, and how a task's state maps onto the table's
//! indexes: queued tasks sit in a claim queue (gsi1), tasks waiting on a lease or a
//! deadline sit in the timer index (gsi2), every task is listed (gsi3).

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::model::{Lease, Task, TaskError, TaskStatus};
use crate::error::{Error, Result};
use crate::ids::{AgentId, LeaseId};
use crate::ports::{Index, IndexKey, Item};
use crate::records::{
    claim_queue_pk, task_key, tasks_list_pk, time_sort_key, timer_pk, timer_shard, to_body,
};

/// How long a finished task's run has to hear of it before the sweep tells it again.
/// The report normally follows the task's write at once; this covers a process that
/// stopped in between.
pub const REPORT_GRACE: Duration = Duration::seconds(30);

/// What a due timer did to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerOutcome {
    NotDue,
    Requeued,
    Failed,
    Expired,
}

impl Task {
    pub(crate) fn claim(&mut self, agent: &AgentId, lease_id: LeaseId, now: DateTime<Utc>) {
        self.status = TaskStatus::Claimed;
        self.attempts += 1;
        self.claimed_by = Some(agent.clone());
        self.lease = Some(Lease {
            id: lease_id,
            agent: agent.clone(),
            expires_at: self.lease_end(now),
        });
        self.updated_at = now;
    }

    fn lease_end(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + Duration::seconds(i64::from(self.timeout_seconds))
    }

    /// Refuses anyone but the current lease holder. A holder whose lease ran out but was
    /// not yet reclaimed still holds the task: nobody else can have it.
    pub(crate) fn check_holder(&self, agent: &AgentId, lease_id: Option<&LeaseId>) -> Result<()> {
        match (&self.status, &self.lease) {
            (TaskStatus::Claimed, Some(lease)) if &lease.agent != agent => Err(Error::Forbidden(
                "this task is claimed by another agent".into(),
            )),
            (TaskStatus::Claimed, Some(lease))
                if lease_id.is_some_and(|given| given != &lease.id) =>
            {
                Err(Error::conflict(
                    "stale-lease",
                    "this lease was lost: the task was claimed again since; drop your work on it",
                ))
            }
            (TaskStatus::Claimed, Some(_)) => Ok(()),
            (TaskStatus::Queued, _) => Err(Error::conflict(
                "task-not-claimed",
                "the task is not claimed (its lease may have expired and it went back to the queue); claim it first",
            )),
            (status, _) => Err(Error::conflict(
                "task-finished",
                format!("the task already ended as {}", status.as_str()),
            )),
        }
    }

    pub(crate) fn extend_lease(&mut self, now: DateTime<Utc>) {
        let end = self.lease_end(now);
        if let Some(lease) = &mut self.lease {
            lease.expires_at = end;
        }
        self.updated_at = now;
    }

    pub(crate) fn succeed(
        &mut self,
        result: Value,
        usage: Option<crate::usage::ReportedUsage>,
        now: DateTime<Utc>,
    ) {
        self.status = TaskStatus::Succeeded;
        self.result = Some(result);
        self.usage = usage;
        self.error = None;
        self.finish(now);
    }

    /// Requeues while attempts remain and the failure is retryable; ends it otherwise.
    pub(crate) fn fail(&mut self, error: TaskError, retryable: bool, now: DateTime<Utc>) {
        self.error = Some(error);
        if retryable && self.attempts < self.max_attempts {
            self.requeue(now);
        } else {
            self.status = TaskStatus::Failed;
            self.finish(now);
        }
    }

    /// Applies whichever timer is due: an expired lease or a passed deadline.
    pub(crate) fn on_timer(&mut self, now: DateTime<Utc>) -> TimerOutcome {
        match (&self.status, &self.lease, self.deadline) {
            (TaskStatus::Claimed, Some(lease), _) if lease.expires_at <= now => {
                let error = TaskError {
                    code: "lease_expired".into(),
                    message: format!(
                        "agent {} neither completed nor heartbeated within {} s",
                        lease.agent, self.timeout_seconds
                    ),
                    details: None,
                };
                self.fail(error, true, now);
                if self.status == TaskStatus::Queued {
                    TimerOutcome::Requeued
                } else {
                    TimerOutcome::Failed
                }
            }
            (TaskStatus::Queued, _, Some(deadline)) if deadline <= now => {
                self.status = TaskStatus::Expired;
                self.error = Some(TaskError {
                    code: "expired".into(),
                    message: "no agent claimed the task before its deadline".into(),
                    details: None,
                });
                self.finish(now);
                TimerOutcome::Expired
            }
            _ => TimerOutcome::NotDue,
        }
    }

    pub(crate) fn is_past_deadline(&self, now: DateTime<Utc>) -> bool {
        self.status == TaskStatus::Queued && self.deadline.is_some_and(|d| d <= now)
    }

    fn requeue(&mut self, now: DateTime<Utc>) {
        self.status = TaskStatus::Queued;
        self.lease = None;
        self.available_at = now;
        self.updated_at = now;
    }

    fn finish(&mut self, now: DateTime<Utc>) {
        self.lease = None;
        self.updated_at = now;
        self.finished_at = Some(now);
    }

    /// When this task next needs attention without anyone calling.
    fn next_timer(&self) -> Option<DateTime<Utc>> {
        match self.status {
            TaskStatus::Claimed => self.lease.as_ref().map(|l| l.expires_at),
            TaskStatus::Queued => self.deadline,
            _ if self.awaits_report() => self.finished_at.map(|at| at + REPORT_GRACE),
            _ => None,
        }
    }

    pub(crate) fn to_item(&self) -> Result<Item> {
        let key = task_key(&self.tenant, &self.id);
        let queue = (self.status == TaskStatus::Queued).then(|| {
            let order = format!(
                "{}#{}",
                time_sort_key(self.available_at.timestamp_millis()),
                self.id
            );
            IndexKey::new(claim_queue_pk(&self.tenant, &self.target.queue()), order)
        });
        let timer = self.next_timer().map(|due| {
            let order = format!("{}#{}", time_sort_key(due.timestamp_millis()), key.pk);
            IndexKey::new(timer_pk(timer_shard(self.id.as_str())), order)
        });
        let listing = IndexKey::new(tasks_list_pk(&self.tenant), self.id.as_str());
        Ok(Item::new(key, to_body(self)?)
            .with_gsi(Index::Gsi1, queue)
            .with_gsi(Index::Gsi2, timer)
            .with_gsi(Index::Gsi3, Some(listing)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{PrincipalId, TaskId, TenantId};
    use crate::tasks::TaskTarget;
    use ulid::Ulid;

    fn agent(n: u64) -> AgentId {
        AgentId::from_ulid(Ulid::from_parts(n, 0))
    }

    fn task(now: DateTime<Utc>, max_attempts: u32) -> Task {
        Task {
            id: TaskId::from_ulid(Ulid::from_parts(1, 1)),
            tenant: TenantId::parse("t").unwrap(),
            target: TaskTarget::Agent(agent(1)),
            status: TaskStatus::Queued,
            input: Value::Null,
            result: None,
            error: None,
            attempts: 0,
            max_attempts,
            timeout_seconds: 10,
            deadline: None,
            lease: None,
            claimed_by: None,
            created_by: PrincipalId::agent(&agent(9)),
            created_at: now,
            updated_at: now,
            available_at: now,
            finished_at: None,
            origin: None,
            usage: None,
            trace: None,
        }
    }

    fn lease(n: u64) -> LeaseId {
        LeaseId::from_ulid(Ulid::from_parts(n, 7))
    }

    #[test]
    fn an_expired_lease_requeues_until_attempts_run_out_then_fails() {
        let t0 = Utc::now();
        let mut task = task(t0, 2);
        task.claim(&agent(1), lease(1), t0);
        assert_eq!(
            task.on_timer(t0 + Duration::seconds(5)),
            TimerOutcome::NotDue
        );
        assert_eq!(
            task.on_timer(t0 + Duration::seconds(10)),
            TimerOutcome::Requeued
        );
        assert_eq!((task.status, task.attempts), (TaskStatus::Queued, 1));
        task.claim(&agent(1), lease(2), t0 + Duration::seconds(11));
        assert_eq!(
            task.on_timer(t0 + Duration::seconds(30)),
            TimerOutcome::Failed
        );
        assert_eq!(task.status, TaskStatus::Failed);
        assert_eq!(task.error.as_ref().unwrap().code, "lease_expired");
    }

    #[test]
    fn only_the_lease_holder_with_the_current_lease_may_act() {
        let t0 = Utc::now();
        let mut task = task(t0, 3);
        assert!(matches!(
            task.check_holder(&agent(1), None),
            Err(Error::Conflict {
                code: "task-not-claimed",
                ..
            })
        ));
        task.claim(&agent(1), lease(1), t0);
        assert!(task.check_holder(&agent(1), Some(&lease(1))).is_ok());
        assert!(matches!(
            task.check_holder(&agent(2), None),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            task.check_holder(&agent(1), Some(&lease(2))),
            Err(Error::Conflict {
                code: "stale-lease",
                ..
            })
        ));
    }

    #[test]
    fn a_non_retryable_failure_ends_the_task_even_with_attempts_left() {
        let t0 = Utc::now();
        let mut task = task(t0, 5);
        task.claim(&agent(1), lease(1), t0);
        let error = TaskError {
            code: "bad_input".into(),
            message: "no".into(),
            details: None,
        };
        task.fail(error, false, t0);
        assert_eq!(task.status, TaskStatus::Failed);
        assert!(task.finished_at.is_some());
    }

    #[test]
    fn a_queued_task_sits_in_its_claim_queue_and_a_finished_one_in_no_queue_or_timer() {
        let t0 = Utc::now();
        let mut task = task(t0, 1);
        let item = task.to_item().unwrap();
        assert!(
            item.gsi[0]
                .as_ref()
                .unwrap()
                .pk
                .ends_with(&format!("agent:{}", agent(1)))
        );
        assert!(item.gsi[1].is_none());
        task.claim(&agent(1), lease(1), t0);
        let item = task.to_item().unwrap();
        assert!(item.gsi[0].is_none() && item.gsi[1].is_some());
        task.succeed(Value::Bool(true), None, t0);
        let item = task.to_item().unwrap();
        assert!(item.gsi[0].is_none() && item.gsi[1].is_none() && item.gsi[2].is_some());
    }

    #[test]
    fn a_deadline_expires_only_unclaimed_tasks() {
        let t0 = Utc::now();
        let mut task = task(t0, 1);
        task.deadline = Some(t0 + Duration::seconds(1));
        assert_eq!(
            task.on_timer(t0 + Duration::seconds(2)),
            TimerOutcome::Expired
        );
        assert_eq!(task.status, TaskStatus::Expired);
    }
}
