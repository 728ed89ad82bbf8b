//! A run's events as its Durable Object keeps them: in the order the origin sent them,
//! so that a watcher who arrives or comes back with the id of the last event it saw gets
//! exactly the events after it, then the live ones.

/// One event as the origin's stream carried it: its id, its type and its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    pub id: String,
    pub kind: String,
    /// The `RunEvent` as JSON, as the origin wrote it.
    pub data: String,
}

impl FeedEvent {
    /// The event as a Server-Sent Events frame, as the origin frames it.
    pub fn sse_frame(&self) -> String {
        format!(
            "id: {}\nevent: {}\ndata: {}\n\n",
            self.id, self.kind, self.data
        )
    }

    /// Whether the run ended with this event (`run.succeeded`, `run.failed`, ...).
    pub fn ends_run(&self) -> bool {
        skein_core::runs::ends_run(&self.kind)
    }
}

#[derive(Debug, Default)]
pub struct FeedLog {
    events: Vec<FeedEvent>,
}

impl FeedLog {
    /// Appends an event the origin sent. Ids sort in the order events happened, and the
    /// origin sends them in that order; an event at or before the last one (a feed that
    /// was reopened and sent it again) is dropped, so nobody gets it twice.
    pub fn push(&mut self, event: FeedEvent) -> Option<&FeedEvent> {
        if self.last_id().is_some_and(|last| event.id.as_str() <= last) {
            return None;
        }
        self.events.push(event);
        self.events.last()
    }

    /// The events after the one with id `after` (all of them when None): what a watcher
    /// resuming with `Last-Event-ID: after` has not seen.
    pub fn after(&self, after: Option<&str>) -> &[FeedEvent] {
        match after {
            None => &self.events,
            Some(after) => {
                let start = self
                    .events
                    .partition_point(|event| event.id.as_str() <= after);
                &self.events[start..]
            }
        }
    }

    pub fn last_id(&self) -> Option<&str> {
        self.events.last().map(|event| event.id.as_str())
    }

    /// Whether the run's last event has been received: nothing more will come.
    pub fn ended(&self) -> bool {
        self.events.last().is_some_and(FeedEvent::ends_run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, kind: &str) -> FeedEvent {
        FeedEvent {
            id: id.into(),
            kind: kind.into(),
            data: format!("{{\"id\":\"{id}\",\"type\":\"{kind}\"}}"),
        }
    }

    #[test]
    fn a_watcher_resuming_after_an_event_gets_exactly_the_later_ones() {
        let mut log = FeedLog::default();
        for (id, kind) in [
            ("01A", "run.started"),
            ("01B", "step.started"),
            ("01C", "step.succeeded"),
        ] {
            log.push(event(id, kind));
        }
        let ids = |events: &[FeedEvent]| events.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(log.after(None)), ["01A", "01B", "01C"]);
        assert_eq!(ids(log.after(Some("01A"))), ["01B", "01C"]);
        assert_eq!(ids(log.after(Some("01C"))), Vec::<String>::new());
        // An id the log never had (from another feed) still resumes in order.
        assert_eq!(ids(log.after(Some("01BZ"))), ["01C"]);
    }

    #[test]
    fn events_sent_again_by_a_reopened_feed_are_dropped() {
        let mut log = FeedLog::default();
        assert!(log.push(event("01A", "run.started")).is_some());
        assert!(log.push(event("01B", "step.started")).is_some());
        assert!(log.push(event("01A", "run.started")).is_none());
        assert!(log.push(event("01B", "step.started")).is_none());
        assert_eq!(log.after(None).len(), 2);
    }

    #[test]
    fn the_log_ends_with_the_runs_last_event_only() {
        let mut log = FeedLog::default();
        log.push(event("01A", "run.started"));
        log.push(event("01B", "run.cancelling"));
        assert!(!log.ended());
        log.push(event("01C", "run.cancelled"));
        assert!(log.ended());
        assert_eq!(
            log.after(Some("01B"))[0].sse_frame(),
            "id: 01C\nevent: run.cancelled\ndata: {\"id\":\"01C\",\"type\":\"run.cancelled\"}\n\n"
        );
    }
}
