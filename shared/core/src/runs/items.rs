//! Map steps: the list is stored item by item, the engine's Map state runs one `item`
//! message per index (with its own retries, concurrency and tolerance), and `collect`
//! gathers the outputs in order.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Runs;
use super::call::StepCall;
use super::model::{ItemCounts, RunError, StepMessage, StepStatus};
use super::outcome::Reply;
use super::scope::StepScope;
use super::values::Part;
use super::worker::{set, write_condition};
use crate::error::{Error, Result};
use crate::ports::{Condition, Index, Item, Query, SkRange, StoreError, WriteOp};
use crate::records::{from_item, item_key, item_prefix, run_pk, step_key, to_body};
use crate::workflows::compile::StepErrorName;
use crate::workflows::definition::Tolerance;
use crate::workflows::template::{Scope, render};

type Outcome = std::result::Result<Value, RunError>;

/// Map lists are capped so that the index list stays far below the 256 KiB state limit.
pub const MAX_MAP_ITEMS: usize = 10_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ItemRecord {
    #[serde(default)]
    pub value: Value,
    #[serde(default)]
    pub status: Option<StepStatus>,
    #[serde(default)]
    pub output: Option<Value>,
    /// Set instead of `output` when the output is large (`values.rs`).
    #[serde(default)]
    pub output_apart: Option<super::values::Apart>,
    #[serde(default)]
    pub error: Option<RunError>,
    #[serde(default)]
    pub attempt: Option<u32>,
    #[serde(default)]
    pub finished_attempt: Option<u32>,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub started_by: Option<String>,
}

/// The items of a map step, or why `over` did not give a usable list.
fn as_list(over: &str, value: Value) -> std::result::Result<Vec<Value>, String> {
    match value {
        Value::Array(items) if items.len() <= MAX_MAP_ITEMS => Ok(items),
        Value::Array(items) => Err(format!(
            "`{over}` has {} items; a map step takes at most {MAX_MAP_ITEMS}",
            items.len()
        )),
        other => {
            let kind = match other {
                Value::Null => "null",
                Value::Object(_) => "an object",
                Value::String(_) => "a string",
                _ => "a scalar",
            };
            Err(format!("`{over}` is {kind}, not a list"))
        }
    }
}

impl Runs {
    pub(crate) async fn fan_out(
        &self,
        call: StepCall<'_>,
        scope: &StepScope,
        reply: Reply,
    ) -> Result<Outcome> {
        let message = call.message;
        let step = call.step();
        let over = step.map.as_ref().map_or(String::new(), |m| m.over.clone());
        let listed = as_list(&over, render(&Value::String(over.clone()), scope));
        let map_items = self.ports.quotas.map_items as usize;
        let refused = match &listed {
            Ok(items) if items.len() > map_items => Some(RunError {
                error: StepErrorName::QuotaExceeded.into(),
                cause: format!(
                    "step `{}` would fan out over {} items; the quota is {map_items} per map step: split the list",
                    step.id,
                    items.len()
                ),
            }),
            Ok(_) => None,
            Err(cause) => Some(RunError {
                error: StepErrorName::NonRetryable.into(),
                cause: cause.clone(),
            }),
        };
        if let Some(failure) = refused {
            return self.fail(call, failure, None, reply).await;
        }
        let items = listed.unwrap_or_default();
        for (chunk_start, chunk) in items
            .chunks(100)
            .enumerate()
            .map(|(c, chunk)| (c * 100, chunk))
        {
            let ops = chunk
                .iter()
                .enumerate()
                .map(|(k, value)| {
                    let record = ItemRecord {
                        value: value.clone(),
                        ..ItemRecord::default()
                    };
                    let key = item_key(
                        &message.tenant,
                        &message.run,
                        &step.id,
                        (chunk_start + k) as u32,
                    );
                    Ok(WriteOp::Put {
                        item: Item::new(key, to_body(&record)?),
                        condition: Condition::Always,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            self.ctx.store.transact_write(ops).await?;
        }
        let key = step_key(&message.tenant, &message.run, &step.id);
        let changes = vec![
            set("items_total", items.len()),
            set("input", json!({ "items": items.len() })),
        ];
        self.ctx
            .store
            .update(&key, changes, Condition::Exists)
            .await?;
        let indices: Vec<usize> = (0..items.len()).collect();
        self.answer(reply, Ok(json!({ "indices": indices }))).await
    }

    pub(crate) async fn run_item(&self, call: StepCall<'_>, reply: Reply) -> Result<Outcome> {
        let StepCall {
            message,
            workflow,
            index,
            ..
        } = call;
        let step = call.step();
        let position = message
            .index
            .ok_or_else(|| Error::invalid("$.index", "an item message names its index"))?;
        let key = item_key(&message.tenant, &message.run, &step.id, position);
        let mut started = None;
        for _ in crate::retry::races() {
            let Some(item) = self.ctx.store.get(&key).await? else {
                return Err(Error::NotFound { what: "map item" });
            };
            let (record, version) = from_item::<ItemRecord>(item)?;
            if record.finished_attempt == Some(message.attempt) {
                let outcome = match &record.error {
                    None => Ok(json!({ "status": "succeeded" })),
                    Some(e) => Err(e.clone()),
                };
                return self.answer(reply, outcome).await;
            }
            // Started and not finished: a redelivery after the first try failed (or a
            // duplicate), which runs the item again under the same idempotency key.
            let me = Some(self.ports.worker_instance.clone());
            let token = match &reply {
                Reply::Token(t) => Some(t.clone()),
                Reply::Now => None,
            };
            let changes = vec![
                set("attempt", message.attempt),
                set("started_by", &me),
                set("token", token),
                set("status", StepStatus::Running),
            ];
            match self
                .ctx
                .store
                .update(&key, changes, write_condition(version))
                .await
            {
                Ok(_) => {
                    started = Some(record);
                    break;
                }
                Err(StoreError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let record = started.ok_or_else(|| crate::retry::lost_every_race("the map item"))?;
        let run = self.run_record(&message.tenant, &message.run).await?;
        let mut scope = self.scope_for(run, workflow, Some(index)).await?;
        scope.item = Some(record.value.clone());
        scope.index = Some(position);
        let input = match &step.input {
            None => Ok(scope
                .root(&crate::workflows::template::Root::Item)
                .unwrap_or(Value::Null)),
            Some(template) => super::scope::render_step_input(&step.id, template, &scope),
        };
        let performed = match input {
            Ok(input) => self.perform(call, input, Some(position)).await?,
            Err(refused) => Some(Err(refused)),
        };
        match performed {
            Some(outcome) => self.item_finished(call, position, outcome, reply).await,
            None => Ok(Ok(Value::Null)),
        }
    }

    pub(crate) async fn item_finished(
        &self,
        call: StepCall<'_>,
        position: u32,
        outcome: Outcome,
        reply: Reply,
    ) -> Result<Outcome> {
        let message = call.message;
        let step = call.step();
        let key = item_key(&message.tenant, &message.run, &step.id, position);
        let (status, output, error) = match &outcome {
            Ok(output) => (StepStatus::Succeeded, output.clone(), None),
            Err(e) => (StepStatus::Failed, Value::Null, Some(e.clone())),
        };
        let mut changes = vec![
            set("status", status),
            set("error", &error),
            set("finished_attempt", message.attempt),
        ];
        changes.extend(self.place_value(&key, Part::Output, &output).await?);
        self.ctx
            .store
            .update(&key, changes, Condition::Exists)
            .await?;
        let kind = if error.is_none() {
            "item.succeeded"
        } else {
            "item.failed"
        };
        self.event(
            &message.tenant,
            &message.run,
            kind,
            Some(&step.id),
            json!({ "index": position, "attempt": message.attempt + 1 }),
        )
        .await?;
        let answer = outcome.map(|_| json!({ "status": "succeeded" }));
        self.answer(reply, answer).await
    }

    pub(crate) async fn collect(&self, call: StepCall<'_>, reply: Reply) -> Result<Outcome> {
        let message = call.message;
        let step = call.step();
        let key = step_key(&message.tenant, &message.run, &step.id);
        let (record, _) = from_item::<super::model::StepRecord>(
            self.ctx
                .store
                .get(&key)
                .await?
                .ok_or(Error::NotFound { what: "step" })?,
        )?;
        if record.status.is_some_and(|s| s.is_terminal()) {
            let status = if record.status == Some(StepStatus::Succeeded) {
                "succeeded"
            } else {
                "failed"
            };
            return self
                .answer(reply, Ok(json!({ "step": step.id, "status": status })))
                .await;
        }
        let (outputs, counts) = self.item_outputs(message, &step.id).await?;
        let tolerated = match step
            .map
            .as_ref()
            .and_then(|m| m.tolerated_failures.as_ref())
        {
            None => 0.0,
            Some(Tolerance::Count(n)) => f64::from(*n),
            Some(Tolerance::Percentage(p)) => {
                p.trim_end_matches('%').trim().parse::<f64>().unwrap_or(0.0) / 100.0
                    * f64::from(counts.total)
            }
        };
        if f64::from(counts.failed) > tolerated {
            let cause = format!(
                "{} of {} items failed; {tolerated} tolerated",
                counts.failed, counts.total
            );
            let failure = RunError {
                error: "States.ExceedToleratedFailureThreshold".into(),
                cause,
            };
            return self.fail(call, failure, None, reply).await;
        }
        self.complete(call, Value::Array(outputs), None, reply)
            .await
    }

    /// Item outputs in order (null where an item failed), and the counts.
    pub(crate) async fn item_outputs(
        &self,
        message: &StepMessage,
        step: &str,
    ) -> Result<(Vec<Value>, ItemCounts)> {
        let mut outputs = Vec::new();
        let mut counts = ItemCounts::default();
        let mut after = None;
        loop {
            let query = Query::new(Index::Primary, run_pk(&message.tenant, &message.run))
                .sk(SkRange::Prefix(item_prefix(step)))
                .limit(1000)
                .after(after);
            let page = self.ctx.store.query(&query).await?;
            for item in page.items {
                let record_key = item.key.clone();
                let (record, _) = from_item::<ItemRecord>(item)?;
                counts.total += 1;
                match record.status {
                    Some(StepStatus::Succeeded) => counts.succeeded += 1,
                    Some(StepStatus::Failed) => counts.failed += 1,
                    _ => {}
                }
                let output = self
                    .stored_value(
                        &record_key,
                        Part::Output,
                        record.output,
                        record.output_apart,
                    )
                    .await?;
                outputs.push(output.unwrap_or(Value::Null));
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok((outputs, counts))
    }
}
