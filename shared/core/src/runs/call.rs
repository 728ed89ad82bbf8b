//! One step as a call handles it: what travels together from the step message to the
//! step's end.

use std::sync::Mutex;

use super::model::StepMessage;
use crate::workflows::Workflow;
use crate::workflows::definition::Step;

/// The step a message names, in the workflow version it runs: the message that brought
/// it, the workflow, the step's place in the workflow's DAG, and, inside a worker call,
/// where a step this one makes ready is left for that call to run next.
#[derive(Clone, Copy)]
pub(crate) struct StepCall<'a> {
    pub message: &'a StepMessage,
    pub workflow: &'a Workflow,
    pub index: usize,
    pub next: Option<&'a NextStep>,
}

impl<'a> StepCall<'a> {
    /// A step handled outside a worker call (a result, a reply, a decision): the steps
    /// it makes ready go to the step queue.
    pub fn new(message: &'a StepMessage, workflow: &'a Workflow, index: usize) -> Self {
        Self {
            message,
            workflow,
            index,
            next: None,
        }
    }

    /// The step's definition.
    pub fn step(&self) -> &'a Step {
        &self.workflow.definition.steps[self.index]
    }
}

/// The one step a worker call runs itself after the one it was given: the first that
/// step made ready. Filled by `release`, emptied by `handle_step`.
#[derive(Default)]
pub(crate) struct NextStep(Mutex<Option<StepMessage>>);

impl NextStep {
    /// Keeps `ready` to run next, or gives it back when a step is kept already.
    pub fn offer(&self, ready: StepMessage) -> Option<StepMessage> {
        let mut next = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match next.as_ref() {
            None => {
                *next = Some(ready);
                None
            }
            Some(_) => Some(ready),
        }
    }

    pub fn take(&self) -> Option<StepMessage> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{RunId, TenantId};
    use crate::steps::StepPhase;

    fn ready(step: &str) -> StepMessage {
        StepMessage {
            v: 1,
            tenant: TenantId::parse("default").unwrap(),
            workflow: "chain".into(),
            version: 1,
            run: RunId::from_ulid(ulid::Ulid::nil()),
            step: step.into(),
            phase: StepPhase::Run,
            attempt: 0,
            index: None,
            token: Some(format!("token-{step}")),
        }
    }

    #[test]
    fn the_first_ready_step_is_kept_to_run_next_and_the_others_are_given_back() {
        let next = NextStep::default();
        assert_eq!(next.offer(ready("b")), None);
        assert_eq!(next.offer(ready("c")).map(|m| m.step), Some("c".into()));
        assert_eq!(next.take().map(|m| m.step), Some("b".into()));
        assert_eq!(next.take(), None, "taking it empties the slot");
        assert_eq!(next.offer(ready("d")), None, "and the next one is kept");
    }
}
