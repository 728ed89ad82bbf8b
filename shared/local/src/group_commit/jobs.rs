//! What a queued write is: the work, how its failure is undone inside the shared
//! transaction, and how its caller hears of it once the group's fate is known.

use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::WriteFailed;

/// One write waiting in the queue.
pub(super) trait Job: Send {
    /// Runs the write in the open transaction, undone by `undo` if it fails; what it
    /// returns is told to the caller once the transaction's fate is known.
    fn run(self: Box<Self>, conn: &Connection, undo: Undo) -> Box<dyn Reply>;
    /// The group could not begin: the write never ran.
    fn refuse(self: Box<Self>, failure: WriteFailed);
}

pub(super) trait Reply: Send {
    /// Whether the write failed (and was undone).
    fn failed(&self) -> bool;
    fn send(self: Box<Self>, committed: Result<(), WriteFailed>);
}

/// How a failed write's changes are undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Undo {
    /// By rolling back the whole transaction: the group's first write.
    Transaction,
    /// By rolling back to a savepoint taken before it.
    Savepoint,
}

pub(super) struct Write<F, T, E, C> {
    pub(super) work: F,
    /// Told what the write returned once it committed, before its caller hears.
    pub(super) on_commit: C,
    pub(super) reply: oneshot::Sender<Result<T, E>>,
}

impl<F, T, E, C> Job for Write<F, T, E, C>
where
    F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<WriteFailed> + Send + 'static,
    C: FnOnce(&T) + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection, undo: Undo) -> Box<dyn Reply> {
        let outcome = match undo {
            Undo::Transaction => (self.work)(conn),
            Undo::Savepoint => in_savepoint(conn, self.work),
        };
        Box::new(Answer {
            outcome,
            on_commit: self.on_commit,
            reply: self.reply,
        })
    }

    fn refuse(self: Box<Self>, failure: WriteFailed) {
        let _ = self.reply.send(Err(E::from(failure)));
    }
}

struct Answer<T, E, C> {
    outcome: Result<T, E>,
    on_commit: C,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T: Send, E: From<WriteFailed> + Send, C: FnOnce(&T) + Send> Reply for Answer<T, E, C> {
    fn failed(&self) -> bool {
        self.outcome.is_err()
    }

    fn send(self: Box<Self>, committed: Result<(), WriteFailed>) {
        let outcome = match (self.outcome, committed) {
            // A write that failed wrote nothing, whatever became of the others.
            (Err(e), _) => Err(e),
            (Ok(_), Err(failure)) => Err(E::from(failure)),
            (Ok(value), Ok(())) => {
                (self.on_commit)(&value);
                Ok(value)
            }
        };
        // The caller may have stopped waiting; the write stands, as a lost reply's does.
        let _ = self.reply.send(outcome);
    }
}

/// A write nobody waits for (see [`GroupCommitter::defer`](super::GroupCommitter::defer)).
pub(super) struct Deferred<F> {
    pub(super) what: &'static str,
    pub(super) work: F,
}

impl<F, E> Job for Deferred<F>
where
    F: FnOnce(&Connection) -> Result<(), E> + Send + 'static,
    E: From<WriteFailed> + std::fmt::Display + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection, undo: Undo) -> Box<dyn Reply> {
        let outcome = match undo {
            Undo::Transaction => (self.work)(conn),
            Undo::Savepoint => in_savepoint(conn, self.work),
        };
        Box::new(Unheard {
            what: self.what,
            outcome: outcome.map_err(|e| e.to_string()),
        })
    }

    fn refuse(self: Box<Self>, failure: WriteFailed) {
        Box::new(Unheard {
            what: self.what,
            outcome: Ok(()),
        })
        .send(Err(failure));
    }
}

/// A deferred write's outcome: logged when it failed, since nobody hears it.
struct Unheard {
    what: &'static str,
    outcome: Result<(), String>,
}

impl Reply for Unheard {
    fn failed(&self) -> bool {
        self.outcome.is_err()
    }

    fn send(self: Box<Self>, committed: Result<(), WriteFailed>) {
        let error = match (self.outcome, committed) {
            (Err(e), _) => e,
            (Ok(()), Err(failure)) => failure.to_string(),
            (Ok(()), Ok(())) => return,
        };
        tracing::warn!(write = self.what, %error, "a deferred write failed; what it noted is redone at the next start");
    }
}

/// Runs `work` so that its failure undoes only its own changes.
fn in_savepoint<T, E: From<WriteFailed>>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, E>,
) -> Result<T, E> {
    statement(conn, "SAVEPOINT write")?;
    match work(conn) {
        Ok(value) => {
            statement(conn, "RELEASE write")?;
            Ok(value)
        }
        Err(e) => {
            // Rolling back a savepoint only fails when the transaction is already gone,
            // which the commit then reports to every write of the group.
            let _ = statement(conn, "ROLLBACK TO write");
            let _ = statement(conn, "RELEASE write");
            Err(e)
        }
    }
}

pub(super) fn statement(conn: &Connection, sql: &str) -> Result<(), WriteFailed> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(|_| ())
        .map_err(|e| WriteFailed(Arc::new(e)))
}
