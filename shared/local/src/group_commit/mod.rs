//! Group commit: the writes that queue up while one is being written share one
//! transaction.
//!
//! A commit in WAL mode appends every page the transaction dirtied to the log. Writes
//! from concurrent requests touch the same pages (the right edge of each index, where
//! new ULID-keyed rows land, and the tree's interior pages), so when each is its own
//! transaction the same pages are appended again and again, and `BEGIN`/`COMMIT` alone
//! was 30% of `skein dev`'s CPU at 16 concurrent clients.
//!
//! Every write joins a queue, then tries to become the leader. The leader takes the
//! writer connection, runs every queued write (up to [`MAX_GROUP`]) in one
//! `BEGIN IMMEDIATE` transaction, commits once and answers them all; it leads again while
//! writes are queued. The others wait for their answer. A write that fails leaves the
//! rest of its group alone: the group's first write fails by rolling the transaction
//! back (nothing else has run in it yet), and every later one runs in a savepoint it
//! rolls back to. The first needs no savepoint, and most groups are one write: a
//! savepoint costs two statements and a copy of every page the write changes. Nobody hears back before the
//! commit, so an answer still means the write is in the database. An uncontended write
//! leads itself on its own thread: no thread hand-off (when a writer thread ran every
//! write, its hand-offs raised a 3-step run's p50 from 1.6 to 2.8 ms), and no waiting for
//! company.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

mod jobs;

use jobs::{Deferred, Job, Undo, Write, statement};

/// The most writes that share one transaction.
const MAX_GROUP: usize = 64;

/// The shared transaction could not begin or commit: no write of the group happened.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the database refused the write: {0}")]
pub struct WriteFailed(#[source] pub(crate) Arc<rusqlite::Error>);

/// How long a deferred write waits for another write's group before it commits in a
/// group of its own.
const DEFERRED_AT_MOST: Duration = Duration::from_millis(5);

/// When a queued write's group is committed.
enum When {
    /// Now: the write leads a group unless one is being led (which takes it).
    Now,
    /// With the next write's group, or [`DEFERRED_AT_MOST`] later.
    Soon,
}

/// Where every write to the database goes.
pub(crate) struct GroupCommitter(Arc<Committer>);

/// The queue of writes and the writer connection they are committed on.
struct Committer {
    queued: Mutex<VecDeque<Box<dyn Job>>>,
    /// Whether a write is leading (taking groups off the queue and committing them).
    leading: AtomicBool,
    /// Whether a deferred write has a commit coming for it.
    flush_scheduled: AtomicBool,
    writer: Arc<Mutex<Connection>>,
}

impl GroupCommitter {
    pub(crate) fn new(writer: Arc<Mutex<Connection>>) -> Self {
        Self(Arc::new(Committer {
            queued: Mutex::default(),
            leading: AtomicBool::new(false),
            flush_scheduled: AtomicBool::new(false),
            writer,
        }))
    }

    /// Runs `work` on the writer connection inside the next group's transaction and
    /// answers once that transaction has committed (or failed).
    pub(crate) async fn write<T, E>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<WriteFailed> + Send + 'static,
    {
        self.write_then(work, |_| {}).await
    }

    /// [`write`](Self::write), and `on_commit` with what `work` returned once the write
    /// committed. Writes are told in the order they committed, each before its caller
    /// hears back, so what `on_commit` keeps never goes back to an older state.
    pub(crate) async fn write_then<T, E>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        on_commit: impl FnOnce(&T) + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<WriteFailed> + Send + 'static,
    {
        self.queue_write(work, on_commit, When::Now).await
    }

    /// Queues `work` without waiting for it: it commits in the next write's group, or in
    /// a group of its own [`DEFERRED_AT_MOST`] later. Only for a write whose loss in a
    /// crash is repaired (the engine journal's notes, which a resumed execution does
    /// without); what it saves is a transaction of its own. Writes commit in the order
    /// they were queued, so any write queued after it commits with it or after it. A
    /// failure is logged, as `what`.
    pub(crate) fn defer<E>(
        &self,
        what: &'static str,
        work: impl FnOnce(&Connection) -> Result<(), E> + Send + 'static,
    ) where
        E: From<WriteFailed> + std::fmt::Display + Send + 'static,
    {
        self.0.queue().push_back(Box::new(Deferred { what, work }));
        self.flush_soon();
    }

    /// [`write_then`](Self::write_then) for a write nobody waits on but its caller: it
    /// does not commit at once, but in the next write's group, or in a group of its own
    /// [`DEFERRED_AT_MOST`] later, and answers then. What it saves is a transaction of
    /// its own, for a write that is not on anyone's critical path (a step parked until
    /// its dependencies are done). Writes commit in the order they were queued.
    pub(crate) async fn write_soon_then<T, E>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        on_commit: impl FnOnce(&T) + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<WriteFailed> + Send + 'static,
    {
        self.queue_write(work, on_commit, When::Soon).await
    }

    /// Queues a write, has it committed `when` says, and waits for its answer.
    async fn queue_write<T, E>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        on_commit: impl FnOnce(&T) + Send + 'static,
        when: When,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<WriteFailed> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.0.queue().push_back(Box::new(Write {
            work,
            on_commit,
            reply,
        }));
        match when {
            When::Now => self.0.lead(),
            When::Soon => self.flush_soon(),
        }
        answer.await.unwrap_or_else(|_| Err(E::from(lost())))
    }

    /// Commits what is queued [`DEFERRED_AT_MOST`] from now, unless a commit is coming
    /// already; at once outside a runtime.
    fn flush_soon(&self) {
        if self.0.flush_scheduled.swap(true, Ordering::SeqCst) {
            return;
        }
        let committer = self.0.clone();
        let flush = async move {
            tokio::time::sleep(DEFERRED_AT_MOST).await;
            committer.flush_scheduled.store(false, Ordering::SeqCst);
            committer.lead();
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(flush)),
            Err(_) => {
                self.0.flush_scheduled.store(false, Ordering::SeqCst);
                self.0.lead();
            }
        }
    }

    /// Commits whatever is queued, deferred writes included, before returning.
    pub(crate) fn flush(&self) {
        self.0.lead();
    }
}

impl Committer {
    fn queue(&self) -> MutexGuard<'_, VecDeque<Box<dyn Job>>> {
        self.queued
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Commits groups while writes are queued, unless another write leads already (it
    /// will take what is queued).
    fn lead(&self) {
        loop {
            if self
                .leading
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                return;
            }
            {
                let _leadership = Leadership(&self.leading);
                while self.commit_group() {}
            }
            // A write queued after the last look found a leader and left it the work:
            // look once more now that there is none.
            if self.queue().is_empty() {
                return;
            }
        }
    }

    /// Runs and commits one group; false when nothing was queued.
    fn commit_group(&self) -> bool {
        let Some(first) = self.queue().pop_front() else {
            return false;
        };
        let conn = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !conn.is_autocommit() {
            // A leader panicked in the middle of its group: nobody was told it committed.
            let _ = statement(&conn, "ROLLBACK");
        }
        if let Err(failure) = statement(&conn, "BEGIN IMMEDIATE") {
            drop(conn);
            first.refuse(failure);
            return true;
        }
        let first = first.run(&conn, Undo::Transaction);
        if first.failed() {
            // Nothing else ran in this transaction: rolling it back undoes exactly the
            // first write. (It only fails when SQLite already rolled it back.)
            let _ = statement(&conn, "ROLLBACK");
            drop(conn);
            first.send(Ok(()));
            return true;
        }
        let mut replies = vec![first];
        while replies.len() < MAX_GROUP {
            // Writes queued while the group ran join it.
            let Some(job) = self.queue().pop_front() else {
                break;
            };
            replies.push(job.run(&conn, Undo::Savepoint));
        }
        let committed = statement(&conn, "COMMIT");
        if committed.is_err() {
            let _ = statement(&conn, "ROLLBACK");
        }
        drop(conn);
        for reply in replies {
            reply.send(committed.clone());
        }
        true
    }
}

/// Held while leading; given up when dropped, even by a panic.
struct Leadership<'a>(&'a AtomicBool);

impl Drop for Leadership<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// A write whose leader panicked while running the group: its fate is unknown.
fn lost() -> WriteFailed {
    WriteFailed(Arc::new(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
        Some("the write's group was abandoned".into()),
    )))
}

#[cfg(test)]
mod tests;
