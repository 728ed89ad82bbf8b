//! What the local engine hands out, as the AWS services hand it to the step-worker
//! Lambda: step messages (SQS), synchronous invokes (Lambda) and execution ends
//! (EventBridge). The engine only sends; whoever runs steps receives. Nothing in the
//! engine knows the platform, so the two are built one after the other, with no cycle.

use serde_json::Value;
use skein_core::ports::{EngineError, ExecutionEnded, StepDispatch};
use skein_core::runs::StepMessage;
use tokio::sync::{mpsc, oneshot};

/// The error name and cause an express step failed with.
pub type InvokeFailure = (String, String);

/// One piece of work for the step-worker.
#[derive(Debug)]
pub enum EngineWork {
    /// A standard step's message; its answer comes back through the task token.
    Step(StepMessage),
    /// An express step, run now; the result goes back on `reply`.
    Invoke {
        message: StepMessage,
        reply: oneshot::Sender<Result<Value, InvokeFailure>>,
    },
    /// An execution reached a terminal status. The receipt is kept until the end is
    /// recorded on the run; an end whose receipt was never handed back is sent again
    /// when the engine next starts.
    Ended(ExecutionEnded, EndReceipt),
}

/// Handed back (`recorded`) once an execution's end is recorded on its run.
pub struct EndReceipt {
    pub(super) db: std::sync::Arc<crate::SqliteDb>,
    pub(super) execution: String,
}

impl std::fmt::Debug for EndReceipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndReceipt")
            .field("execution", &self.execution)
            .finish()
    }
}

impl EndReceipt {
    pub fn recorded(self) {
        super::journal::end_reported(&self.db, &self.execution);
    }
}

/// The sending side: what the engine and the platform's [`StepDispatch`] put work on.
/// Work sent from a thread that has a step-worker of its own (see
/// [`inbox_for_this_thread`](StepOutbox::inbox_for_this_thread)) goes to that one.
#[derive(Clone, Debug)]
pub struct StepOutbox(mpsc::UnboundedSender<EngineWork>);

thread_local! {
    /// This thread's own step-worker inbox, if it has one, with the shared outbox it
    /// stands in for.
    static THIS_THREADS_INBOX: std::cell::RefCell<Option<ThreadInbox>> =
        const { std::cell::RefCell::new(None) };
}

struct ThreadInbox {
    shared: mpsc::UnboundedSender<EngineWork>,
    own: mpsc::UnboundedSender<EngineWork>,
}

/// The receiving side, for the step-worker loop.
#[derive(Debug)]
pub struct StepInbox(mpsc::UnboundedReceiver<EngineWork>);

pub fn step_channel() -> (StepOutbox, StepInbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    (StepOutbox(tx), StepInbox(rx))
}

fn closed() -> EngineError {
    EngineError::Unavailable("the step-worker is not running".into())
}

impl StepOutbox {
    pub fn send(&self, work: EngineWork) -> Result<(), EngineError> {
        let work = THIS_THREADS_INBOX.with(|inbox| match &*inbox.borrow() {
            Some(inbox) if inbox.shared.same_channel(&self.0) => match inbox.own.send(work) {
                Ok(()) => None,
                // Its step-worker stopped: the shared one takes the work.
                Err(mpsc::error::SendError(work)) => Some(work),
            },
            _ => Some(work),
        });
        match work {
            None => Ok(()),
            Some(work) => self.0.send(work).map_err(|_| closed()),
        }
    }

    /// Gives the calling thread a step-worker inbox of its own: what is sent from this
    /// thread from now on goes to it, and the step-worker that takes it runs here too. For
    /// a thread with a runtime of its own (`skein dev`'s serving threads): a run started
    /// on it runs on it, its execution, steps and end handing work to each other without
    /// waking another thread.
    pub fn inbox_for_this_thread(&self) -> StepInbox {
        let (own, inbox) = mpsc::unbounded_channel();
        THIS_THREADS_INBOX.with(|slot| {
            *slot.borrow_mut() = Some(ThreadInbox {
                shared: self.0.clone(),
                own,
            })
        });
        StepInbox(inbox)
    }

    /// Runs an express step and waits for its result; `None` when the step-worker is
    /// gone (the process is stopping), so there is no result to record.
    pub async fn invoke(&self, message: StepMessage) -> Option<Result<Value, InvokeFailure>> {
        let (reply, answer) = oneshot::channel();
        self.send(EngineWork::Invoke { message, reply }).ok()?;
        answer.await.ok()
    }
}

impl StepInbox {
    pub async fn next(&mut self) -> Option<EngineWork> {
        self.0.recv().await
    }
}

#[async_trait::async_trait]
impl StepDispatch for StepOutbox {
    async fn dispatch(&self, message: StepMessage) -> Result<(), EngineError> {
        self.send(EngineWork::Step(message))
    }
}

#[cfg(test)]
mod tests {
    use skein_core::ids::{RunId, TenantId};
    use skein_core::steps::StepPhase;

    use super::*;

    fn step(name: &str) -> EngineWork {
        EngineWork::Step(StepMessage {
            v: 1,
            tenant: TenantId::parse("default").unwrap(),
            workflow: "w".into(),
            version: 1,
            run: RunId::from_ulid(ulid::Ulid::nil()),
            step: name.into(),
            phase: StepPhase::Run,
            attempt: 0,
            index: None,
            token: None,
        })
    }

    fn step_name(work: Option<EngineWork>) -> Option<String> {
        match work? {
            EngineWork::Step(message) => Some(message.step),
            _ => None,
        }
    }

    #[test]
    fn work_sent_from_a_thread_with_its_own_inbox_stays_on_that_thread() {
        let (outbox, mut shared) = step_channel();
        let (other_outbox, mut other_shared) = step_channel();
        let sender = outbox.clone();
        let other = other_outbox.clone();
        let own = std::thread::spawn(move || {
            let mut own = sender.inbox_for_this_thread();
            sender.send(step("here")).unwrap();
            // Another engine's outbox, on the same thread, keeps to its own inbox.
            other.send(step("other engine")).unwrap();
            let kept = step_name(own.0.try_recv().ok());
            drop(own);
            // Once the thread's step-worker is gone, the shared one takes its work.
            sender.send(step("after")).unwrap();
            kept
        })
        .join()
        .unwrap();
        assert_eq!(own.as_deref(), Some("here"));
        outbox.send(step("elsewhere")).unwrap();
        assert_eq!(
            step_name(shared.0.try_recv().ok()).as_deref(),
            Some("after")
        );
        assert_eq!(
            step_name(shared.0.try_recv().ok()).as_deref(),
            Some("elsewhere")
        );
        assert!(shared.0.try_recv().is_err(), "nothing else came here");
        assert_eq!(
            step_name(other_shared.0.try_recv().ok()).as_deref(),
            Some("other engine")
        );
    }
}
