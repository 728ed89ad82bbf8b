//! The platform's timers, swept in one place: task leases and deadlines (and deleted
//! agents' tasks), approval timeouts and recorded decisions, reply waits, and schedules.
//! `skein dev` calls `sweep` from its loop and the scheduler function from its one-minute
//! tick, with one policy: every part runs each pass; a part that fails is logged and
//! counted, and the next pass tries it again.

use serde::Serialize;

use crate::Platform;
use crate::error::Result;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub task_timers_fired: usize,
    /// Finished tasks passed on to their run steps.
    pub task_reports: usize,
    pub approvals_finished: usize,
    pub reply_waits_finished: usize,
    pub schedules_fired: usize,
    /// Parts of the pass that failed (logged); the next pass retries them.
    pub failures: usize,
}

impl SweepReport {
    pub fn did_anything(&self) -> bool {
        self.task_timers_fired
            + self.task_reports
            + self.approvals_finished
            + self.reply_waits_finished
            + self.schedules_fired
            > 0
    }
}

/// Task timers fired per timer shard per pass.
const TASK_TIMERS_PER_SHARD: usize = 200;

impl Platform {
    /// One pass over every timer.
    pub async fn sweep(&self) -> SweepReport {
        let mut report = SweepReport::default();
        let due = self.tasks.process_due_timers(TASK_TIMERS_PER_SHARD).await;
        let due = counted(&mut report.failures, "task timers", due.map(Some)).unwrap_or_default();
        report.task_timers_fired = due.fired;
        for task in &due.finished {
            let told = self.runs.task_finished(task).await.map(|()| 1);
            report.task_reports += counted(&mut report.failures, "task reports", told);
        }
        report.approvals_finished = counted(
            &mut report.failures,
            "approvals",
            self.runs.expire_approvals().await,
        );
        report.reply_waits_finished = counted(
            &mut report.failures,
            "reply waits",
            self.runs.expire_reply_waits().await,
        );
        report.schedules_fired = counted(
            &mut report.failures,
            "schedules",
            self.runs.fire_schedules().await,
        );
        report
    }
}

fn counted<T: Default>(failures: &mut usize, part: &str, outcome: Result<T>) -> T {
    match outcome {
        Ok(done) => done,
        Err(error) => {
            tracing::warn!(%error, part, "a sweep part failed; the next pass retries it");
            *failures += 1;
            T::default()
        }
    }
}
