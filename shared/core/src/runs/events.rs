//! A run's event log: what the SSE stream replays and follows.

use serde_json::Value;

use super::Runs;
use super::model::RunEvent;
use crate::error::Result;
use crate::ids::{RunId, TenantId};
use crate::ports::{Condition, Index, Item, Key, Query, SkRange};
use crate::records::{EVENT_PREFIX, from_item, run_pk, to_body};

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
        let id = self.ctx.ulid().to_string();
        let event = RunEvent {
            id: id.clone(),
            kind: kind.to_string(),
            step: step.map(str::to_string),
            at: self.ctx.now(),
            data,
        };
        let key = Key::new(run_pk(tenant, run), format!("{EVENT_PREFIX}{id}"));
        self.ctx
            .store
            .put(Item::new(key, to_body(&event)?), Condition::Always)
            .await?;
        self.ctx.events.run_changed(run.as_str());
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
        page.items
            .into_iter()
            .map(|item| from_item::<RunEvent>(item).map(|(e, _)| e))
            .collect()
    }
}
