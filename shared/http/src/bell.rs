//! Wakes long-polling claimers when a task becomes claimable in this process, and live
//! run streams when a run changes.

use skein_core::ports::TaskEvents;
use tokio::sync::Notify;

#[derive(Default)]
pub struct TaskBell {
    notify: Notify,
    runs: Notify,
    inboxes: Notify,
}

impl TaskBell {
    /// A future that completes at the next ring. Enable it before checking for work, so
    /// a ring between the check and the wait is not missed.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

impl TaskBell {
    /// Completes at the next change to any run (live event streams wait on it).
    pub fn run_changed_notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.runs.notified()
    }
}

impl TaskBell {
    /// Completes at the next delivery into any inbox (long-polling inbox reads wait on it).
    pub fn inbox_changed_notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.inboxes.notified()
    }
}

impl TaskEvents for TaskBell {
    fn task_ready(&self) {
        self.notify.notify_waiters();
    }

    fn run_changed(&self, _run: &str) {
        self.runs.notify_waiters();
    }

    fn inbox_changed(&self, _agent: &str) {
        self.inboxes.notify_waiters();
    }
}
