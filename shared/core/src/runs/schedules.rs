//! Scheduled starts: every due schedule starts a run and moves to its next time.

use serde_json::{Value, json};

use super::Runs;
use super::service::StartRun;
use crate::error::{Error, Result};
use crate::ids::{PrincipalId, TenantId};
use crate::ports::{Condition, Index, Query, SkRange};
use crate::records::{SCHEDULES_DUE_PK, time_sort_key};
use crate::workflows::Definition;
use crate::workflows::schedule::next_fire;

impl Runs {
    /// Starts the run a cloud scheduler fired (an EventBridge schedule), once per firing:
    /// `fired_at` names the firing, so a retried delivery replays the first start.
    pub async fn start_scheduled(
        &self,
        tenant: &TenantId,
        workflow: &str,
        input: Option<Value>,
        fired_at: &str,
    ) -> Result<super::Started> {
        let input = match input {
            Some(input) => input,
            None => {
                let latest = self.workflows.load_version(tenant, workflow, None).await?;
                let definition: Definition = serde_json::from_value(latest.definition)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                definition
                    .schedule
                    .and_then(|s| s.input)
                    .unwrap_or(Value::Null)
            }
        };
        let request = StartRun {
            input,
            version: None,
        };
        let idempotency = format!("schedule:{fired_at}");
        self.start_as(
            tenant,
            &PrincipalId::scheduler(),
            workflow,
            request,
            Some(&idempotency),
            None,
        )
        .await
    }

    /// Starts a run for every schedule that is due, and moves each to its next time.
    pub async fn fire_schedules(&self) -> Result<usize> {
        let now = self.ctx.now();
        let upper = format!("{}~", time_sort_key(now.timestamp_millis()));
        let query = Query::new(Index::Gsi2, SCHEDULES_DUE_PK)
            .sk(SkRange::Between(String::new(), upper))
            .limit(100);
        let mut fired = 0;
        for item in self.ctx.store.query(&query).await?.items {
            let key = item.key.clone();
            let version = item.version;
            let (Some(tenant), Some(name), Some(due)) = (
                item.body
                    .get("tenant")
                    .and_then(Value::as_str)
                    .and_then(|t| TenantId::parse(t).ok()),
                item.body
                    .get("workflow")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                item.body
                    .get("next_at")
                    .cloned()
                    .and_then(|v| serde_json::from_value::<chrono::DateTime<chrono::Utc>>(v).ok()),
            ) else {
                continue;
            };
            let latest = self.workflows.load_version(&tenant, &name, None).await?;
            let definition: Definition = serde_json::from_value(latest.definition)
                .map_err(|e| Error::Internal(e.to_string()))?;
            let Some(schedule) = definition.schedule else {
                continue;
            };
            let Some(next) = next_fire(&schedule, now.max(due)) else {
                // Registered before such schedules were refused: drop it rather than
                // fire it on every tick.
                tracing::warn!(workflow = %name, tenant = %tenant, "schedule never fires again; removed");
                if let Err(e) = self
                    .ctx
                    .store
                    .delete(&key, Condition::VersionIs(version))
                    .await
                {
                    tracing::warn!(workflow = %name, error = %e, "could not remove a schedule that never fires");
                }
                continue;
            };
            let sk = format!("{}#{tenant}#{name}", time_sort_key(next.timestamp_millis()));
            let mut moved = crate::ports::Item::new(key.clone(), item.body.clone()).with_gsi(
                Index::Gsi2,
                Some(crate::ports::IndexKey::new(SCHEDULES_DUE_PK, sk)),
            );
            moved.body.insert("next_at".into(), json!(next));
            if self
                .ctx
                .store
                .put(moved, Condition::VersionIs(version))
                .await
                .is_err()
            {
                continue; // another process fired it
            }
            let request = StartRun {
                input: schedule.input.clone().unwrap_or(Value::Null),
                version: None,
            };
            let idempotency = format!("schedule:{}", due.timestamp_millis());
            match self
                .start_as(
                    &tenant,
                    &PrincipalId::scheduler(),
                    &name,
                    request,
                    Some(&idempotency),
                    None,
                )
                .await
            {
                Ok(_) => fired += 1,
                Err(e) => {
                    tracing::warn!(workflow = %name, error = %e, "a scheduled run did not start")
                }
            }
        }
        Ok(fired)
    }
}
