//! A run's event log: what the SSE stream replays and follows.

use serde_json::Value;

use super::Runs;
use super::model::{RunEvent, StepMessage};
use crate::error::Result;
use crate::ids::{RunId, TenantId};
use crate::ports::{Change, Condition, Index, Item, Key, Query, SkRange, StoreError};
use crate::records::{
    DELTA_PREFIX, EVENT_PREFIX, STEP_PREFIX, from_item, run_pk, step_key, to_body,
};

/// Names a step event kept on its step's record: `event:<event id>`.
pub(crate) const STEP_EVENT_ATTRIBUTE: &str = "event:";

/// How many events one read returns at most.
pub const MAX_EVENTS_PER_READ: usize = 500;

/// How long a `step.delta` is kept for watchers who join late or reconnect.
const DELTA_LIFETIME_SECONDS: i64 = 600;

/// The kind of a streaming step's output events.
pub const STEP_DELTA: &str = "step.delta";

impl Runs {
    pub(crate) async fn event(
        &self,
        tenant: &TenantId,
        run: &RunId,
        kind: &str,
        step: Option<&str>,
        data: Value,
    ) -> Result<()> {
        let item = self.event_item(tenant, run, kind, step, data)?;
        self.ctx.store.put(item, Condition::Always).await?;
        self.ctx.events.run_changed(run.as_str());
        Ok(())
    }

    pub(crate) fn event_item(
        &self,
        tenant: &TenantId,
        run: &RunId,
        kind: &str,
        step: Option<&str>,
        data: Value,
    ) -> Result<Item> {
        let id = self.ctx.ulid().to_string();
        let event = RunEvent {
            id: id.clone(),
            kind: kind.to_string(),
            step: step.map(str::to_string),
            at: self.ctx.now(),
            data,
        };
        let key = Key::new(run_pk(tenant, run), format!("{EVENT_PREFIX}{id}"));
        Ok(Item::new(key, to_body(&event)?))
    }

    /// A piece of a streaming step's output, for live watchers: stored briefly (it
    /// expires) and shown only while the run runs, never in its history.
    pub(crate) async fn step_delta(
        &self,
        message: &StepMessage,
        item: Option<u32>,
        text: &str,
    ) -> Result<()> {
        let id = self.ctx.ulid().to_string();
        let mut data = serde_json::json!({ "text": text, "attempt": message.attempt + 1 });
        if let Some(item) = item {
            data["item"] = item.into();
        }
        let event = RunEvent {
            id: id.clone(),
            kind: STEP_DELTA.to_string(),
            step: Some(message.step.clone()),
            at: self.ctx.now(),
            data,
        };
        let key = Key::new(
            run_pk(&message.tenant, &message.run),
            format!("{DELTA_PREFIX}{id}"),
        );
        let expires = self.ctx.now().timestamp() + DELTA_LIFETIME_SECONDS;
        let item = Item::new(key, to_body(&event)?).expiring_at(expires);
        self.ctx.store.put(item, Condition::Always).await?;
        self.ctx.events.run_changed(message.run.as_str());
        Ok(())
    }

    /// Changes a step and logs what happened in the same write: the event is an attribute
    /// of the step's record (`event:<id>`), so it exists exactly when the change does and
    /// a step's start or end costs one item write. `ConditionFailed` when `condition` fails.
    pub(crate) async fn update_logged(
        &self,
        message: &StepMessage,
        changes: Vec<Change>,
        condition: Condition,
        kind: &str,
        data: Value,
    ) -> Result<(), StoreError> {
        self.update_logging(message, changes, condition, vec![(kind, data)])
            .await
    }

    /// [`update_logged`](Self::update_logged) with several events, in order (a step
    /// started and ended in one write logs both).
    pub(crate) async fn update_logging(
        &self,
        message: &StepMessage,
        mut changes: Vec<Change>,
        condition: Condition,
        events: Vec<(&str, Value)>,
    ) -> Result<(), StoreError> {
        for (kind, data) in events {
            let event = RunEvent {
                id: self.ctx.ulid().to_string(),
                kind: kind.to_string(),
                step: Some(message.step.clone()),
                at: self.ctx.now(),
                data,
            };
            let value =
                serde_json::to_value(&event).map_err(|e| StoreError::Invalid(e.to_string()))?;
            changes.push(Change::Set(
                format!("{STEP_EVENT_ATTRIBUTE}{}", event.id),
                value,
            ));
        }
        let key = step_key(&message.tenant, &message.run, &message.step);
        self.ctx.store.update(&key, changes, condition).await?;
        self.ctx.events.run_changed(message.run.as_str());
        Ok(())
    }

    /// Events after `after` (an event id), oldest first.
    pub async fn events(
        &self,
        caller: &crate::Principal,
        run: &RunId,
        after: Option<&str>,
    ) -> Result<Vec<RunEvent>> {
        let record = self.load_run(caller, run).await?;
        let mut events = self
            .logged_events(&caller.tenant, run, EVENT_PREFIX, after)
            .await?;
        events.extend(self.step_events(&caller.tenant, run, after).await?);
        if !record.status.is_terminal() {
            // Live output of streaming steps, while there is a run to watch.
            events.extend(
                self.logged_events(&caller.tenant, run, DELTA_PREFIX, after)
                    .await?,
            );
        }
        events.sort_by(|a, b| a.id.cmp(&b.id));
        events.truncate(MAX_EVENTS_PER_READ);
        Ok(events)
    }

    /// The event items under `prefix` after `after`, oldest first.
    async fn logged_events(
        &self,
        tenant: &TenantId,
        run: &RunId,
        prefix: &str,
        after: Option<&str>,
    ) -> Result<Vec<RunEvent>> {
        let lower = match after {
            Some(id) => format!("{prefix}{id}\u{0}"),
            None => prefix.to_string(),
        };
        let query = Query::new(Index::Primary, run_pk(tenant, run))
            .sk(SkRange::Between(lower, format!("{prefix}~")))
            .limit(MAX_EVENTS_PER_READ);
        let page = self.ctx.store.query(&query).await?;
        page.items
            .into_iter()
            .map(|item| from_item::<RunEvent>(item).map(|(e, _)| e))
            .collect()
    }

    /// The events kept on step records, after `after`.
    async fn step_events(
        &self,
        tenant: &TenantId,
        run: &RunId,
        after: Option<&str>,
    ) -> Result<Vec<RunEvent>> {
        let query = Query::new(Index::Primary, run_pk(tenant, run))
            .sk(SkRange::Prefix(STEP_PREFIX.into()))
            .limit(1000);
        let mut events = Vec::new();
        let mut resume = None;
        loop {
            let page = self.ctx.store.query(&query.clone().after(resume)).await?;
            for item in page.items {
                for (name, value) in item.body {
                    let Some(id) = name.strip_prefix(STEP_EVENT_ATTRIBUTE) else {
                        continue;
                    };
                    if after.is_some_and(|after| id <= after) {
                        continue;
                    }
                    let event: RunEvent = serde_json::from_value(value)
                        .map_err(|e| crate::Error::Internal(format!("step event {id}: {e}")))?;
                    events.push(event);
                }
            }
            match page.next {
                Some(next) => resume = Some(next),
                None => return Ok(events),
            }
        }
    }
}
