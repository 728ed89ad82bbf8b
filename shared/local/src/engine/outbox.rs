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
#[derive(Clone, Debug)]
pub struct StepOutbox(mpsc::UnboundedSender<EngineWork>);

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
        self.0.send(work).map_err(|_| closed())
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
