//! One step as a call handles it: what travels together from the step message to the
//! step's end.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::model::StepMessage;
use super::start::Starting;
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

/// A step made ready inside a worker call, kept for that call to run next.
pub(crate) enum Ready {
    /// Its start is not recorded yet: the call handles its message as a delivery would.
    Message(StepMessage),
    /// Its start was recorded with the done flag that made it ready (one write instead
    /// of two): the call runs it from there.
    Started(StepMessage, Box<Starting>),
}

impl Ready {
    pub fn into_message(self) -> StepMessage {
        match self {
            Ready::Message(message) | Ready::Started(message, _) => message,
        }
    }
}

/// The one step a worker call runs itself after the one it was given: the first that
/// step made ready, while the call has time left. Filled by `release`, emptied by
/// `handle_step`.
pub(crate) struct NextStep {
    kept: Mutex<Option<Ready>>,
    /// After this, ready steps go to the step queue instead.
    until: DateTime<Utc>,
}

impl NextStep {
    pub fn until(until: DateTime<Utc>) -> Self {
        Self {
            kept: Mutex::default(),
            until,
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Option<Ready>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a step made ready at `now` would be kept (and so may be started at once).
    pub fn has_room(&self, now: DateTime<Utc>) -> bool {
        now < self.until && self.kept().is_none()
    }

    /// Whether the call's time is up at `now`.
    pub fn is_past(&self, now: DateTime<Utc>) -> bool {
        now >= self.until
    }

    /// Keeps `ready` to run next, or gives it back when a step is kept already.
    pub fn offer(&self, ready: StepMessage) -> Option<StepMessage> {
        self.keep(Ready::Message(ready)).map(Ready::into_message)
    }

    /// Keeps `ready` to run next, or gives it back when a step is kept already (see
    /// [`has_room`](Self::has_room), which says so before a step is started for this).
    pub fn keep(&self, ready: Ready) -> Option<Ready> {
        let mut kept = self.kept();
        if kept.is_some() {
            return Some(ready);
        }
        *kept = Some(ready);
        None
    }

    pub fn take(&self) -> Option<Ready> {
        self.kept().take()
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

    fn taken(next: &NextStep) -> Option<String> {
        next.take().map(|ready| ready.into_message().step)
    }

    #[test]
    fn the_first_ready_step_is_kept_to_run_next_and_the_others_are_given_back() {
        let now = Utc::now();
        let next = NextStep::until(now + chrono::Duration::seconds(1));
        assert!(next.has_room(now));
        assert_eq!(next.offer(ready("b")), None);
        assert!(!next.has_room(now), "one step is kept at a time");
        assert_eq!(next.offer(ready("c")).map(|m| m.step), Some("c".into()));
        assert_eq!(taken(&next), Some("b".into()));
        assert_eq!(taken(&next), None, "taking it empties the slot");
        assert_eq!(next.offer(ready("d")), None, "and the next one is kept");
    }

    #[test]
    fn a_call_whose_time_is_up_has_no_room_to_start_a_step() {
        let now = Utc::now();
        let next = NextStep::until(now);
        assert!(!next.has_room(now));
        assert!(next.is_past(now));
        assert!(!next.is_past(now - chrono::Duration::milliseconds(1)));
    }
}
