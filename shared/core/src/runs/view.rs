//! `GET /v1/runs/{id}`: the run and every step, in the workflow's order.

use super::Runs;
use super::model::{ItemCounts, RunView, StepMessage, StepRecord, StepStatus, StepView};
use super::values::Part;
use crate::auth::Principal;
use crate::error::Result;
use crate::ids::{RunId, TenantId};
use crate::ports::{Index, Query, SkRange};
use crate::records::{STEP_PREFIX, from_item, run_pk, step_key};
use crate::workflows::definition::StepKind;

impl Runs {
    pub async fn view(&self, caller: &Principal, id: &RunId) -> Result<RunView> {
        let run = self.load_run(caller, id).await?;
        let workflow = self
            .workflows
            .compiled(&run.tenant, &run.workflow, run.version)
            .await?;
        let mut records: std::collections::HashMap<String, _> = self
            .step_records(&run.tenant, &run.id)
            .await?
            .into_iter()
            .collect();
        let mut steps = Vec::with_capacity(workflow.definition.steps.len());
        for (i, step) in workflow.definition.steps.iter().enumerate() {
            let mut record: StepRecord = records.remove(&step.id).unwrap_or_default();
            let key = step_key(&run.tenant, &run.id, &step.id);
            let input = self
                .stored_value(&key, Part::Input, record.input.take(), record.input_apart)
                .await?;
            let output = self
                .stored_value(
                    &key,
                    Part::Output,
                    record.output.take(),
                    record.output_apart,
                )
                .await?;
            let started_at = record.attempts.first().map(|a| a.started_at);
            let duration_ms = match (started_at, record.finished_at) {
                (Some(s), Some(f)) => Some((f - s).num_milliseconds()),
                _ => None,
            };
            let items = if step.kind == StepKind::Map && record.items_total.is_some() {
                let message = StepMessage {
                    v: 1,
                    tenant: run.tenant.clone(),
                    workflow: run.workflow.clone(),
                    version: run.version,
                    run: run.id.clone(),
                    step: step.id.clone(),
                    phase: crate::workflows::compile::StepPhase::Collect,
                    attempt: 0,
                    index: None,
                    token: None,
                };
                Some(self.item_outputs(&message, &step.id).await?.1)
            } else {
                None::<ItemCounts>
            };
            steps.push(StepView {
                id: step.id.clone(),
                kind: step.kind,
                status: record.status.unwrap_or(StepStatus::Pending),
                depends_on: workflow.dag.deps[i]
                    .iter()
                    .map(|&d| workflow.dag.ids[d].clone())
                    .collect(),
                attempts: record.attempts,
                queued_at: record.queued_at,
                started_at,
                finished_at: record.finished_at,
                duration_ms,
                input,
                output,
                error: record.error,
                task: record.task,
                child_run: record.child_run,
                items,
            });
        }
        Ok(RunView { run, steps })
    }

    /// The run's DAG as Mermaid, each step coloured by its status.
    pub async fn graph(&self, caller: &Principal, id: &RunId) -> Result<String> {
        let view = self.view(caller, id).await?;
        let workflow = self
            .workflows
            .compiled(&view.run.tenant, &view.run.workflow, view.run.version)
            .await?;
        let status_of = |step: &str| {
            let found = view.steps.iter().find(|s| s.id == step)?;
            serde_json::to_value(found.status)
                .ok()?
                .as_str()
                .map(str::to_string)
        };
        Ok(crate::workflows::graph::mermaid_with_status(
            &workflow, status_of,
        ))
    }

    /// Steps of the run, in store order.
    pub(crate) async fn step_records(
        &self,
        tenant: &TenantId,
        run: &RunId,
    ) -> Result<Vec<(String, StepRecord)>> {
        let query = Query::new(Index::Primary, run_pk(tenant, run))
            .sk(SkRange::Prefix(STEP_PREFIX.into()))
            .limit(1000);
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self.ctx.store.query(&query.clone().after(after)).await?;
            for item in page.items {
                let sk = item.key.sk.clone();
                let id = sk.trim_start_matches(STEP_PREFIX);
                if id.contains("#I#") {
                    continue;
                }
                let id = id.to_string();
                out.push((id, from_item::<StepRecord>(item)?.0));
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(out),
            }
        }
    }
}

impl Runs {
    /// `GET /v1/runs/{id}/usage`: every LLM call the run made or its agents reported,
    /// with their totals and the run's budget.
    pub async fn usage(&self, caller: &Principal, id: &RunId) -> Result<crate::usage::RunUsage> {
        let run = self.load_run(caller, id).await?;
        let calls = self.usage.calls_of_run(&run.tenant, &run.id).await?;
        let mut totals = crate::usage::UsageTotals::default();
        for call in &calls {
            totals.add_record(call);
        }
        Ok(crate::usage::RunUsage {
            run: run.id,
            workflow: run.workflow,
            budget: run.budget,
            totals,
            calls,
        })
    }
}
