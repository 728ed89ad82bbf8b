//! A run's event log: what the SSE stream replays and follows.

use serde_json::Value;

use super::Runs;
use super::model::{RunEvent, StepMessage};
use crate::error::Result;
use crate::ids::{RunId, TenantId};
use crate::ports::{Change, Condition, Index, Item, Key, Query, SkRange, StoreError};
use crate::records::{EVENT_PREFIX, STEP_PREFIX, from_item, run_pk, step_key, to_body};

/// Names a step event kept on its step's record: `event:<event id>`.
pub(crate) const STEP_EVENT_ATTRIBUTE: &str = "event:";

/// How many events one read returns at most.
pub const MAX_EVENTS_PER_READ: usize = 500;

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

    /// Changes a step and logs what happened in the same write: the event is an attribute
    /// of the step's record (`event:<id>`), so it exists exactly when the change does and
    /// a step's start or end costs one item write. `ConditionFailed` when `condition` fails.
    pub(crate) async fn update_logged(
        &self,
        message: &StepMessage,
        mut changes: Vec<Change>,
        condition: Condition,
        kind: &str,
        data: Value,
    ) -> Result<(), StoreError> {
        let event = RunEvent {
            id: self.ctx.ulid().to_string(),
            kind: kind.to_string(),
            step: Some(message.step.clone()),
            at: self.ctx.now(),
            data,
        };
        let value = serde_json::to_value(&event).map_err(|e| StoreError::Invalid(e.to_string()))?;
        changes.push(Change::Set(
            format!("{STEP_EVENT_ATTRIBUTE}{}", event.id),
            value,
        ));
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
        self.load_run(caller, run).await?;
        let pk = run_pk(&caller.tenant, run);
        let lower = match after {
            Some(id) => format!("{EVENT_PREFIX}{id}\u{0}"),
            None => EVENT_PREFIX.to_string(),
        };
        let query = Query::new(Index::Primary, pk)
            .sk(SkRange::Between(lower, format!("{EVENT_PREFIX}~")))
            .limit(MAX_EVENTS_PER_READ);
        let page = self.ctx.store.query(&query).await?;
        let mut events = page
            .items
            .into_iter()
            .map(|item| from_item::<RunEvent>(item).map(|(e, _)| e))
            .collect::<Result<Vec<_>>>()?;
        events.extend(self.step_events(&caller.tenant, run, after).await?);
        events.sort_by(|a, b| a.id.cmp(&b.id));
        events.truncate(MAX_EVENTS_PER_READ);
        Ok(events)
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
