//! Wakes long-polling claimers when a task becomes claimable in this process, a run's
//! live streams when that run changes, starts waiting for a run's end when it ends, and
//! an agent's inbox reads when something is delivered to it. Runs and inboxes ring only
//! their own waiters: one global bell woke every stream on every change anywhere, and
//! each woken stream re-read its run. A waiting start is not woken by its run's step
//! events: it re-read the run at each, about a seventh of a 3-step run's CPU.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use skein_core::ports::TaskEvents;
use tokio::sync::Notify;

#[derive(Default)]
pub struct TaskBell {
    notify: Notify,
    runs: Rooms,
    ends: Rooms,
    inboxes: Rooms,
}

/// One `Notify` per key, made by its first waiter and gone with its last.
#[derive(Default)]
struct Rooms {
    rooms: Mutex<HashMap<String, Weak<Notify>>>,
}

/// Rooms kept before the empty ones are swept out.
const ROOMS_BEFORE_SWEEP: usize = 1024;

impl Rooms {
    fn enter(&self, key: &str) -> Arc<Notify> {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(room) = rooms.get(key).and_then(Weak::upgrade) {
            return room;
        }
        if rooms.len() >= ROOMS_BEFORE_SWEEP {
            rooms.retain(|_, room| room.strong_count() > 0);
        }
        let room = Arc::new(Notify::new());
        rooms.insert(key.to_string(), Arc::downgrade(&room));
        room
    }

    fn ring(&self, key: &str) {
        let room = self
            .rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .and_then(Weak::upgrade);
        if let Some(room) = room {
            room.notify_waiters();
        }
    }
}

impl TaskBell {
    /// A future that completes at the next ring. Enable it before checking for work, so
    /// a ring between the check and the wait is not missed.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// What rings when run `run` changes (live event streams and waiting starts): wait
    /// on its `notified()`, enabled before reading the run.
    pub fn run_room(&self, run: &str) -> Arc<Notify> {
        self.runs.enter(run)
    }

    /// What rings when run `run` ends (waiting starts): wait on its `notified()`, enabled
    /// before reading the run.
    pub fn end_room(&self, run: &str) -> Arc<Notify> {
        self.ends.enter(run)
    }

    /// What rings at the next delivery into agent `agent`'s inbox.
    pub fn inbox_room(&self, agent: &str) -> Arc<Notify> {
        self.inboxes.enter(agent)
    }
}

impl TaskEvents for TaskBell {
    fn task_ready(&self) {
        self.notify.notify_waiters();
    }

    fn run_changed(&self, run: &str) {
        self.runs.ring(run);
    }

    fn run_ended(&self, run: &str) {
        self.ends.ring(run);
    }

    fn inbox_changed(&self, agent: &str) {
        self.inboxes.ring(agent);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_change_wakes_only_the_waiters_of_its_own_run() {
        let bell = TaskBell::default();
        let (mine, other) = (bell.run_room("run_a"), bell.run_room("run_b"));
        let (woken, untouched) = (mine.notified(), other.notified());
        tokio::pin!(woken, untouched);
        woken.as_mut().enable();
        untouched.as_mut().enable();
        bell.run_changed("run_a");
        assert!(
            tokio::time::timeout(Duration::from_secs(1), woken)
                .await
                .is_ok()
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(20), untouched)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_waiting_start_is_woken_by_its_runs_end_and_not_by_its_steps() {
        let bell = TaskBell::default();
        let end = bell.end_room("run_a");
        let ended = end.notified();
        tokio::pin!(ended);
        ended.as_mut().enable();
        bell.run_changed("run_a");
        assert!(
            tokio::time::timeout(Duration::from_millis(20), ended.as_mut())
                .await
                .is_err()
        );
        bell.run_ended("run_a");
        assert!(
            tokio::time::timeout(Duration::from_secs(1), ended)
                .await
                .is_ok()
        );
    }

    #[test]
    fn a_room_goes_with_its_last_waiter() {
        let bell = TaskBell::default();
        drop(bell.run_room("run_a"));
        bell.run_changed("run_a"); // nobody waits: nothing to ring, nothing kept alive
        assert!(bell.runs.rooms.lock().unwrap()["run_a"].upgrade().is_none());
    }
}
