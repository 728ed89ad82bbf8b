//! Wakes long-polling claimers when a task becomes claimable in this process.

use skein_core::ports::TaskEvents;
use tokio::sync::Notify;

#[derive(Default)]
pub struct TaskBell {
    notify: Notify,
}

impl TaskBell {
    /// A future that completes at the next ring. Enable it before checking for work, so
    /// a ring between the check and the wait is not missed.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

impl TaskEvents for TaskBell {
    fn task_ready(&self) {
        self.notify.notify_waiters();
    }
}
