//! A run's event log: what the SSE stream replays and follows.

use serde_json::Value;

use super::Runs;
use super::model::{RunEvent, StepMessage};
use crate::error::Result;
use crate::ids::{RunId, TenantId};
use crate::ports::{Change, Condition, Index, Item, Key, Query, SkRange, StoreError, WriteOp};
use crate::records::{EVENT_PREFIX, from_item, run_pk, step_key, to_body};

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

    fn event_item(
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

    /// Changes a step and logs what happened in one transaction: one commit, and the
    /// event exists exactly when the change does. `ConditionFailed` when `condition` fails.
    pub(crate) async fn update_logged(
        &self,
        message: &StepMessage,
        changes: Vec<Change>,
        condition: Condition,
        kind: &str,
        data: Value,
    ) -> Result<(), StoreError> {
        let event = self
            .event_item(
                &message.tenant,
                &message.run,
                kind,
                Some(&message.step),
                data,
            )
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let ops = vec![
            WriteOp::Update {
                key: step_key(&message.tenant, &message.run, &message.step),
                changes,
                condition,
            },
            WriteOp::Put {
                item: event,
                condition: Condition::Always,
            },
        ];
        match self.ctx.store.transact_write(ops).await {
            Ok(()) => {
                self.ctx.events.run_changed(message.run.as_str());
                Ok(())
            }
            Err(StoreError::TransactionCanceled { failed }) if failed.contains(&0) => {
                Err(StoreError::ConditionFailed)
            }
            Err(e) => Err(e),
        }
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
        page.items
            .into_iter()
            .map(|item| from_item::<RunEvent>(item).map(|(e, _)| e))
            .collect()
    }
}
