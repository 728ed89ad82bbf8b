//! Recording calls, and reading them back: a run's calls, a tenant's days.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Datelike, NaiveDate};

use super::budget::counter_add;
use super::model::{
    Counters, GroupBy, Spend, UsageGroup, UsageRecord, UsageReport, UsageSource, UsageTotals,
    micros_to_usd,
};
use super::{Purpose, Reservation, Usage, day_of, month_of};
use crate::auth::{Action, Principal};
use crate::error::{Error, Result};
use crate::ids::{RunId, TenantId};
use crate::metrics::TokenCounts;
use crate::ports::{Change, Condition, Index, Item, Query, SkRange, StoreError, WriteOp};
use crate::records::{
    USAGE_CALL_PREFIX, from_item, month_usage_key, run_pk, run_usage_key, task_usage_key, to_body,
    usage_call_key, usage_pk, usage_rollup_key,
};

/// The longest span `GET /v1/usage` reads at once.
const MAX_REPORT_DAYS: i64 = 366;
/// Model names longer than this are cut in the ledger (a provider's name is far shorter).
const MAX_MODEL_CHARS: usize = 200;

/// A finished call, to record.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub source: UsageSource,
    pub provider: String,
    pub model: String,
    pub tokens: TokenCounts,
    pub latency: Option<Duration>,
    /// What the caller says it cost (an agent's report); else the price table's.
    pub cost_micros: Option<u64>,
}

impl Usage {
    /// Records a finished call: its ledger entry, its reservation settled to what it
    /// used, and the tenant's daily rollups, in one transaction. None when the call was
    /// recorded before (an agent's report delivered twice).
    pub(crate) async fn record(
        &self,
        purpose: &Purpose<'_>,
        call: Call,
        held: &Reservation,
    ) -> Result<Option<UsageRecord>> {
        let now = self.ctx.now();
        let model: String = call.model.chars().take(MAX_MODEL_CHARS).collect();
        let micros = call
            .cost_micros
            .or_else(|| self.prices.cost_micros(&model, call.tokens));
        let record = UsageRecord {
            at: now,
            source: call.source,
            provider: call.provider.clone(),
            model: model.clone(),
            input_tokens: call.tokens.input,
            output_tokens: call.tokens.output,
            cached_tokens: call.tokens.cached.min(call.tokens.input),
            cost_usd: micros.map(|m| micros_to_usd(m as i64)),
            latency_ms: call.latency.map(|d| d.as_millis() as u64),
            agent: purpose.agent.to_string(),
            workflow: purpose.workflow.map(str::to_string),
            run: purpose.run.cloned(),
            step: purpose.step.map(str::to_string),
            item: purpose.item,
            task: purpose.task.cloned(),
        };
        let key = match (purpose.run, purpose.task) {
            (Some(run), Some(task)) => usage_call_key(purpose.tenant, run, task.as_str()),
            (Some(run), None) => usage_call_key(purpose.tenant, run, &self.ctx.ulid().to_string()),
            (None, Some(task)) => task_usage_key(purpose.tenant, task),
            (None, None) => {
                return Err(Error::Internal(
                    "a usage record belongs to a run or a task".into(),
                ));
            }
        };
        let spent = Spend::of(call.tokens, micros);
        let month = month_of(now);
        let mut ops = vec![WriteOp::Put {
            item: Item::new(key, to_body(&record)?),
            condition: Condition::NotExists,
        }];
        if let Some(run) = purpose.run {
            ops.push(counter_add(
                run_usage_key(purpose.tenant, run),
                spent.minus(held.on_run()),
            ));
        }
        ops.push(counter_add(
            month_usage_key(purpose.tenant, &month),
            spent.minus(held.on_month(&month)),
        ));
        if let Some(other) = held.month.as_deref().filter(|m| *m != month) {
            // Held in a month that has since ended: give it back there.
            ops.push(counter_add(
                month_usage_key(purpose.tenant, other),
                held.spend.negated(),
            ));
        }
        let counters = Counters {
            calls: 1,
            input_tokens: record.input_tokens as i64,
            output_tokens: record.output_tokens as i64,
            cached_tokens: record.cached_tokens as i64,
            cost_micros: micros.unwrap_or(0) as i64,
            unpriced_calls: i64::from(micros.is_none()),
        };
        let day = day_of(now);
        for group in GroupBy::ALL {
            let value = match group {
                GroupBy::Workflow => purpose.workflow.unwrap_or(NO_WORKFLOW),
                GroupBy::Agent => purpose.agent,
                GroupBy::Model => &model,
            };
            ops.push(WriteOp::Update {
                key: usage_rollup_key(purpose.tenant, group.as_str(), &day, value),
                changes: counter_changes(&counters),
                condition: Condition::Always,
            });
        }
        match self.ctx.store.transact_write(ops).await {
            Ok(()) => {
                if let Some(m) = micros {
                    crate::metrics::llm_cost(&record.provider, &record.model, m);
                }
                Ok(Some(record))
            }
            Err(StoreError::ConditionFailed | StoreError::TransactionCanceled { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every call recorded for a run, oldest first.
    pub(crate) async fn calls_of_run(
        &self,
        tenant: &TenantId,
        run: &RunId,
    ) -> Result<Vec<UsageRecord>> {
        let query = Query::new(Index::Primary, run_pk(tenant, run))
            .sk(SkRange::Prefix(USAGE_CALL_PREFIX.into()))
            .limit(1000);
        let mut calls = Vec::new();
        let mut after = None;
        loop {
            let page = self.ctx.store.query(&query.clone().after(after)).await?;
            for item in page.items {
                calls.push(from_item::<UsageRecord>(item)?.0);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        calls.sort_by_key(|call| call.at);
        Ok(calls)
    }

    /// The caller's tenant's usage over whole UTC days, `from` to `to` (by default this
    /// month so far), grouped by workflow, agent or model.
    pub async fn report(
        &self,
        caller: &Principal,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        group_by: GroupBy,
    ) -> Result<UsageReport> {
        caller.authorize(Action::ReadUsage)?;
        let today = self.ctx.now().date_naive();
        let to = to.unwrap_or(today);
        let from = from.unwrap_or_else(|| to.with_day(1).unwrap_or(to));
        if from > to {
            return Err(Error::invalid("$.from", "`from` must not be after `to`"));
        }
        if (to - from).num_days() >= MAX_REPORT_DAYS {
            return Err(Error::invalid(
                "$.to",
                format!("a report covers at most {MAX_REPORT_DAYS} days: narrow from..to"),
            ));
        }
        let group = group_by.as_str();
        let query = Query::new(Index::Primary, usage_pk(&caller.tenant))
            .sk(SkRange::Between(
                format!("{group}#{from}#"),
                // '$' sorts right after '#': past every key of the `to` day.
                format!("{group}#{to}$"),
            ))
            .limit(1000);
        let prefix_len = group.len() + 1 + "YYYY-MM-DD#".len();
        let mut by_key: BTreeMap<String, UsageTotals> = BTreeMap::new();
        let mut totals = UsageTotals::default();
        let mut after = None;
        loop {
            let page = self.ctx.store.query(&query.clone().after(after)).await?;
            for item in page.items {
                let key = item
                    .key
                    .sk
                    .get(prefix_len..)
                    .unwrap_or_default()
                    .to_string();
                let (counters, _) = from_item::<Counters>(item)?;
                by_key.entry(key).or_default().add(&counters);
                totals.add(&counters);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let mut groups: Vec<UsageGroup> = by_key
            .into_iter()
            .map(|(key, totals)| UsageGroup { key, totals })
            .collect();
        groups.sort_by(|a, b| {
            b.totals
                .cost_usd
                .total_cmp(&a.totals.cost_usd)
                .then(b.totals.calls.cmp(&a.totals.calls))
                .then(a.key.cmp(&b.key))
        });
        Ok(UsageReport {
            from,
            to,
            group_by,
            groups,
            totals,
        })
    }
}

/// The workflow group of calls made outside any run.
const NO_WORKFLOW: &str = "-";

fn counter_changes(c: &Counters) -> Vec<Change> {
    [
        ("calls", c.calls),
        ("input_tokens", c.input_tokens),
        ("output_tokens", c.output_tokens),
        ("cached_tokens", c.cached_tokens),
        ("cost_micros", c.cost_micros),
        ("unpriced_calls", c.unpriced_calls),
    ]
    .into_iter()
    .map(|(field, by)| Change::Add(field.into(), by))
    .collect()
}
